// The access log (ACCESS_LOG=on): one line per HTTP request, WebSocket upgrades included (as
// their 101), at level info with the connection's fields (core/log.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace chatrix::net {

struct access_entry {
  std::uint64_t connection = 0;
  std::string_view address;  // the client's, after TRUSTED_PROXIES
  std::string_view method;
  std::string_view target;  // logged without its query string: tokens or search text stay out of logs
  unsigned status = 0;
  std::size_t bytes = 0;  // the response body's
  std::chrono::steady_clock::duration took{};  // from the request's first byte to its answer written
  std::string_view user_agent;
};

/// conn=… addr=… method=GET path=/health status=200 bytes=15 duration_ms=0.182 user_agent=curl/8.1 request
void log_access(const access_entry& e);

/// The status code of a complete HTTP/1.1 response's status line (0 if it has none).
unsigned status_of_response(std::string_view response);

}  // namespace chatrix::net
