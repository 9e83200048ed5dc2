// Reads counters from the server's /metrics (Prometheus text), so that a test can wait for
// something the server did that no client can see yet (e.g. cutting off a client that is not
// reading).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace chatrix::test {

/// The value of the unlabelled sample `name`. Throws std::runtime_error (with the body) when
/// /metrics does not answer 200 or has no such sample. A labelled sample is named with its
/// labels as /metrics writes them: `chatrix_errors_total{code="not_found"}`.
std::int64_t metric_value(std::uint16_t port, std::string_view name);

/// The same for a sample that need not be an integer (a histogram's _sum, in seconds).
double metric_real(std::uint16_t port, std::string_view name);

/// Reads `name` until it is at least `at_least` or `timeout` has passed; returns the last value
/// read. /metrics is the only place these events show, so this polls it, every 20 ms (a
/// request costs the server well under a millisecond).
std::int64_t wait_for_metric(std::uint16_t port, std::string_view name, std::int64_t at_least,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace chatrix::test
