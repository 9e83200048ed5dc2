#include "net/access_log.hpp"

#include "core/log.hpp"

#include <array>
#include <string>

namespace chatrix::net {

void log_access(const access_entry& e) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  const auto conn = log::connection(e.connection, e.address);
  const double ms = std::chrono::duration<double, std::milli>(e.took).count();
  const std::array<log::field, 8> fields{
      conn[0],
      conn[1],
      log::field{"method", std::string(e.method)},
      log::field{"path", std::string(e.target.substr(0, e.target.find('?')))},
      log::field{"status", std::to_string(e.status), true},
      log::field{"bytes", std::to_string(e.bytes), true},
      log::field{"duration_ms", fmt::format("{:.3f}", ms), true},
      log::field{"user_agent", std::string(e.user_agent)},
  };
  log::write(spdlog::level::info, fields, "request");
}

unsigned status_of_response(std::string_view response) {
  // "HTTP/1.1 101 Switching Protocols"
  if (response.size() < 12 || !response.starts_with("HTTP/1.1 ")) return 0;
  unsigned status = 0;
  for (const char c : response.substr(9, 3)) {
    if (c < '0' || c > '9') return 0;
    status = status * 10 + static_cast<unsigned>(c - '0');
  }
  return status;
}

}  // namespace chatrix::net
