// The network edge's settings (from config/, set by app/).
#pragma once

#include "config/address.hpp"
#include "net/admission.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace chatrix::net {

class tls_credentials;

struct server_options {
  std::size_t max_frame_bytes = 64 * 1024;
  std::size_t send_queue_bytes = 4 * 1024 * 1024;
  std::chrono::seconds auth_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::size_t unauthenticated_pings = 8;  // control frames taken before authentication (0 = any number)
  /// The request line and headers must have arrived this long after the request began.
  std::chrono::seconds http_header_timeout{10};
  /// A whole request (headers and body), writing its answer, and an idle keep-alive connection.
  std::chrono::seconds http_request_timeout{30};
  admission_limits admission;
  /// Peers whose X-Forwarded-For names the client (client_address.hpp).
  std::vector<config::ip_network> trusted_proxies;
  /// Origins (lower case, scheme://host[:port]) allowed to open a WebSocket; empty = any.
  std::vector<std::string> ws_origins;
  /// ACCESS_LOG: a line per HTTP request (net/access_log.hpp).
  bool access_log = false;
  /// TLS_CERT / TLS_KEY: the main listener speaks only TLS (tls_bridge.hpp); the admin
  /// listener stays plain. Null: plain HTTP and WebSocket.
  std::shared_ptr<tls_credentials> tls;
};

}  // namespace chatrix::net
