// Implementation of the /metrics reader. See metrics_probe.hpp.
#include "support/metrics_probe.hpp"

#include "support/http_client.hpp"

#include <charconv>
#include <stdexcept>
#include <string>
#include <thread>

namespace chatrix::test {

namespace {

/// The text after "<name> " on the sample line of `name`.
std::string sample_text(std::uint16_t port, std::string_view name) {
  const auto res = http_request(port, "GET", "/metrics");
  if (res.status != 200) throw std::runtime_error("GET /metrics answered " + std::to_string(res.status) + ": " + res.body);
  // A sample line is "<name> <value>"; "# HELP <name> ..." lines never start with the name.
  const std::string prefix = std::string(name) + ' ';
  for (std::size_t start = 0; start < res.body.size();) {
    std::size_t end = res.body.find('\n', start);
    if (end == std::string::npos) end = res.body.size();
    const std::string_view line(res.body.data() + start, end - start);
    if (line.substr(0, prefix.size()) == prefix) return std::string(line.substr(prefix.size()));
    start = end + 1;
  }
  throw std::runtime_error("/metrics has no sample " + std::string(name) + ":\n" + res.body);
}

}  // namespace

std::int64_t metric_value(std::uint16_t port, std::string_view name) {
  const auto digits = sample_text(port, name);
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || ptr != digits.data() + digits.size())
    throw std::runtime_error("/metrics sample " + std::string(name) + " is not an integer: " + digits);
  return value;
}

double metric_real(std::uint16_t port, std::string_view name) {
  const auto text = sample_text(port, name);
  std::size_t used = 0;
  const double value = std::stod(text, &used);
  if (used != text.size()) throw std::runtime_error("/metrics sample " + std::string(name) + " is not a number: " + text);
  return value;
}

std::int64_t wait_for_metric(std::uint16_t port, std::string_view name, std::int64_t at_least,
                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::int64_t value = metric_value(port, name);
    if (value >= at_least || std::chrono::steady_clock::now() >= deadline) return value;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace chatrix::test
