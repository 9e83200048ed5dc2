// Process-wide counters and gauges, rendered in the Prometheus text format at GET /metrics.
// Relaxed atomics: these are statistics, not synchronisation.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace chatrix::metrics {

/// Thread-safety: every member may be updated from any thread.
struct server_metrics {
  using counter = std::atomic<std::uint64_t>;
  using gauge = std::atomic<std::int64_t>;

  gauge connections_open{0};
  counter connections_total{0};
  counter auth_failures{0};
  counter frames_received{0};
  counter errors_sent{0};
  counter messages_stored{0};
  counter messages_duplicate{0};
  counter messages_delivered{0};
  counter messages_read{0};
  counter pending_pushed{0};
  counter slow_consumer_disconnects{0};
  counter http_requests{0};
  counter store_errors{0};

  static void add(counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

std::string render_prometheus(const server_metrics& m);

}  // namespace chatrix::metrics
