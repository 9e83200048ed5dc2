// HTTP routes as plain functions of a request: no sockets and no Beast types, so the routes
// are cheap to compile and easy to test. The transport (net/) parses and writes.
#pragma once

#include "chat/account_service.hpp"
#include "cluster/bus.hpp"
#include "http/readiness.hpp"
#include "http/static_files.hpp"
#include "metrics/metrics.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatrix::http {

inline constexpr std::size_t max_body_bytes = 16 * 1024;
/// The request line and headers together.
inline constexpr std::size_t max_header_bytes = 16 * 1024;

/// The listener a request came in on. With ADMIN_PORT the operator's routes (/metrics,
/// /cluster) are served only on the admin listener, which serves nothing else but the probes
/// (/health, /ready).
enum class listener_role : std::uint8_t { only, main, admin };

class api_routes;
class body_sink;
class body_source;
class file_routes;
class people_routes;

/// Which listener serves a route when ADMIN_PORT splits them (without it, one serves all).
enum class route_scope : std::uint8_t { main, admin, both };

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
  /// A route that streams its body (router::streams_body): the body, not read yet; `body` is empty.
  body_source* body_in = nullptr;
  /// Where a route that streams its answer (a download) writes it.
  body_sink* body_out = nullptr;
};

struct response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<errc> error;  // set by error_response: counted in chatrix_errors_total{code}
  /// The route wrote its answer itself through request::body_out; status says how it went.
  bool streamed = false;
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
  using handler = boost::asio::awaitable<response> (router::*)(const request&);
  /// One (method, path) served. The table of them is both what handle() dispatches on and
  /// what docs/openapi.yaml is checked against (tests/unit/http/routes_test.cpp).
  struct route {
    std::string_view method;
    std::string_view path;  // web_file_path stands for any file of the web client
    route_scope scope;
    handler handle;
  };
  /// The path of the web client's files other than "/" (OpenAPI's path template syntax).
  static constexpr std::string_view web_file_path = "/{file}";

  /// Every route, in the order of docs/protocol.md's table. OPTIONS (the CORS preflight) is
  /// answered on every path and is not listed.
  static std::span<const route> routes();

  /// True for the requests whose body the route reads itself (request::body_in): uploads,
  /// which may be far larger than max_body_bytes.
  static bool streams_body(std::string_view method, std::string_view target);

  /// `api` and `files` serve /v1/; `web`: the web client's files served at / (nullptr: none,
  /// WEB_DIR=off).
  router(chat::account_service& accounts, api_routes& api, file_routes& files, people_routes& people,
         const cluster::bus& bus, metrics::server_metrics& metrics, readiness& ready, cors_policy cors,
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
  boost::asio::awaitable<response> health(const request& req);
  boost::asio::awaitable<response> ready(const request& req);
  boost::asio::awaitable<response> metrics_text(const request& req);
  boost::asio::awaitable<response> cluster_nodes(const request& req);
  boost::asio::awaitable<response> websocket_without_upgrade(const request& req);
  /// A web client file (GET or HEAD); 304 when If-None-Match names it.
  boost::asio::awaitable<response> web_file(const request& req);
  // The HTTP API for app servers and bots (api_routes.hpp, file_routes.hpp, people_routes.hpp).
  boost::asio::awaitable<response> me(const request& req);
  boost::asio::awaitable<response> update_me(const request& req);
  boost::asio::awaitable<response> delete_me(const request& req);
  boost::asio::awaitable<response> export_me(const request& req);
  boost::asio::awaitable<response> blocks(const request& req);
  boost::asio::awaitable<response> block(const request& req);
  boost::asio::awaitable<response> unblock(const request& req);
  boost::asio::awaitable<response> devices(const request& req);
  boost::asio::awaitable<response> add_device(const request& req);
  boost::asio::awaitable<response> remove_device(const request& req);
  boost::asio::awaitable<response> conversations(const request& req);
  boost::asio::awaitable<response> conversation_messages(const request& req);
  boost::asio::awaitable<response> send_message(const request& req);
  boost::asio::awaitable<response> upload_file(const request& req);
  boost::asio::awaitable<response> download_file(const request& req);

  chat::account_service& accounts_;
  const cluster::bus& bus_;
  metrics::server_metrics& metrics_;
  readiness& readiness_;
  cors_policy cors_;
  const static_files* web_;
  api_routes& api_;
  file_routes& files_;
  people_routes& people_;
};

}  // namespace chatrix::http
