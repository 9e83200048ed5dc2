// HTTP routes as plain functions of a request: no sockets and no Beast types, so the routes
// are cheap to compile and easy to test. The transport (net/) parses and writes.
#pragma once

#include "chat/account_service.hpp"
#include "cluster/bus.hpp"
#include "http/static_files.hpp"
#include "metrics/metrics.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace chatrix::http {

inline constexpr std::size_t max_body_bytes = 16 * 1024;
/// The request line and headers together.
inline constexpr std::size_t max_header_bytes = 16 * 1024;

/// The listener a request came in on. With ADMIN_PORT the operator's routes (/metrics,
/// /cluster) are served only on the admin listener, which serves nothing else but /health.
enum class listener_role : std::uint8_t { only, main, admin };

struct request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  std::string body;
  std::string content_type;
  std::string origin;  // the Origin header, if any
  std::string authorization;   // the Authorization header, if any ("Bearer <token>")
  std::string client_address;  // the peer's IP, or X-Forwarded-For's when the peer is a trusted proxy
  std::string if_none_match;   // the If-None-Match header, if any (web client files)
  listener_role listener = listener_role::only;  // only: no ADMIN_PORT, one listener serves everything
};

struct response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<errc> error;  // set by error_response: counted in chatrix_errors_total{code}
};

/// Which browser origins may call the API. {"*"} allows any.
struct cors_policy {
  std::vector<std::string> origins{"*"};
};

/// The JSON error body {"error", "code"} with the status that fits the code.
response error_response(const error& err);
response error_response(unsigned status, errc code, std::string message);

/// Thread-safety: I/O thread only.
class router {
 public:
  /// `web`: the web client's files served at / (nullptr: none, WEB_DIR=off).
  router(chat::account_service& accounts, const cluster::bus& bus, metrics::server_metrics& metrics, cors_policy cors,
         const static_files* web = nullptr);

  boost::asio::awaitable<response> handle(const request& req);
  /// Adds the CORS headers `origin` is entitled to. Called once per answer, just before it is
  /// written (the transport's refusals too), so it also counts an error answer by its code.
  void apply_cors(const std::string& origin, response& res) const;

  /// True for the WebSocket endpoint paths "/ws" and "/ws/" (query string ignored).
  static bool is_websocket_path(std::string_view target);

 private:
  boost::asio::awaitable<response> register_user(const request& req);
  boost::asio::awaitable<response> login(const request& req);
  boost::asio::awaitable<response> logout(const request& req);
  boost::asio::awaitable<response> logout_all(const request& req);
  boost::asio::awaitable<response> change_password(const request& req);

  response cluster_nodes() const;
  /// A web client file for GET or HEAD, or nullopt when `path` is none of them.
  std::optional<response> web_file(const request& req, std::string_view path) const;

  chat::account_service& accounts_;
  const cluster::bus& bus_;
  metrics::server_metrics& metrics_;
  cors_policy cors_;
  const static_files* web_;
};

}  // namespace chatrix::http
