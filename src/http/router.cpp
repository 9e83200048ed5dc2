#include "http/router.hpp"

#include "http/api_routes.hpp"
#include "http/bearer.hpp"
#include "http/file_routes.hpp"
#include "http/json_body.hpp"
#include "http/people_routes.hpp"
#include "http/target.hpp"
#include "protocol/codec.hpp"


#include <algorithm>

namespace chatrix::http {

namespace asio = boost::asio;

namespace {

unsigned status_for(errc code) {
  switch (code) {
    case errc::username_taken: return 409;
    case errc::bad_credentials:
    case errc::unauthorized: return 401;
    case errc::forbidden:
    case errc::forbidden_origin:
    case errc::blocked: return 403;
    case errc::not_found: return 404;
    case errc::malformed_request: return 400;
    case errc::method_not_allowed: return 405;
    case errc::body_too_large: return 413;
    case errc::upgrade_required: return 426;
    case errc::headers_too_large: return 431;
    case errc::rate_limited:
    case errc::quota_exceeded: return 429;
    case errc::overloaded:
    case errc::unavailable: return 503;
    case errc::internal: return 500;
    default: return 400;
  }
}

/// A path as an error message may echo it: the answer is JSON, so bytes that are not
/// printable ASCII (invalid UTF-8 among them) become '?', and it is cut after 200 bytes.
std::string shown_path(std::string_view path) {
  std::string out;
  for (const char c : path.substr(0, 200)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
  if (path.size() > 200) out += "...";
  return out;
}

std::string_view path_of(std::string_view target) {
  auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

response token_response(const chat::session_token& t) {
  std::string body = "{\"token\":";
  protocol::append_json_string(body, t.token);
  body += ",\"user\":{\"id\":" + std::to_string(t.account.id) + ",\"username\":";
  protocol::append_json_string(body, t.account.username);
  body += ",\"name\":";
  protocol::append_json_string(body, t.account.name);
  body += "}}";
  return response{200, std::move(body)};
}

response revoked_response(std::size_t count) {
  return response{200, "{\"revoked\":" + std::to_string(count) + "}"};
}

}  // namespace

response error_response(unsigned status, errc code, std::string message) {
  std::string body = "{\"error\":";
  protocol::append_json_string(body, message);
  body += ",\"code\":";
  protocol::append_json_string(body, code_name(code));
  body += '}';
  response res{status, std::move(body)};
  res.error = code;
  return res;
}

response error_response(const error& err) {
  auto res = error_response(status_for(err.code), err.code, err.message);
  if (err.retry_after_ms > 0) {
    // The body keeps the exact figure; the header (RFC 9110) takes whole seconds, rounded up.
    res.body.pop_back();
    res.body += ",\"retry_after_ms\":" + std::to_string(err.retry_after_ms) + '}';
    res.headers.emplace_back("Retry-After", std::to_string((err.retry_after_ms + 999) / 1000));
  }
  return res;
}

// ---- the route table ----

namespace {

using scope = route_scope;

bool served_on(route_scope where, listener_role listener) {
  switch (listener) {
    case listener_role::only: return true;
    case listener_role::main: return where != scope::admin;
    case listener_role::admin: return where != scope::main;
  }
  return false;
}

}  // namespace

std::span<const router::route> router::routes() {
  static constexpr route table[] = {
      {"POST", "/auth/register", scope::main, &router::register_user},
      {"POST", "/auth/login", scope::main, &router::login},
      {"POST", "/auth/logout", scope::main, &router::logout},
      {"POST", "/auth/logout-all", scope::main, &router::logout_all},
      {"POST", "/auth/password", scope::main, &router::change_password},
      // The probes: on every listener, and HEAD for probers that send it.
      {"GET", "/health", scope::both, &router::health},
      {"HEAD", "/health", scope::both, &router::health},
      {"GET", "/ready", scope::both, &router::ready},
      {"HEAD", "/ready", scope::both, &router::ready},
      {"GET", "/metrics", scope::admin, &router::metrics_text},
      {"GET", "/ws", scope::main, &router::websocket_without_upgrade},
      {"GET", "/ws/", scope::main, &router::websocket_without_upgrade},
      {"GET", "/cluster", scope::admin, &router::cluster_nodes},
      {"GET", "/", scope::main, &router::web_file},
      {"HEAD", "/", scope::main, &router::web_file},
      {"GET", web_file_path, scope::main, &router::web_file},
      {"HEAD", web_file_path, scope::main, &router::web_file},
      {"GET", "/v1/me", scope::main, &router::me},
      {"PATCH", "/v1/me", scope::main, &router::update_me},
      {"DELETE", "/v1/me", scope::main, &router::delete_me},
      {"GET", "/v1/me/export", scope::main, &router::export_me},
      {"GET", "/v1/blocks", scope::main, &router::blocks},
      {"POST", "/v1/blocks", scope::main, &router::block},
      {"DELETE", "/v1/blocks/{username}", scope::main, &router::unblock},
      {"GET", "/v1/devices", scope::main, &router::devices},
      {"POST", "/v1/devices", scope::main, &router::add_device},
      {"DELETE", "/v1/devices", scope::main, &router::remove_device},
      {"GET", "/v1/conversations", scope::main, &router::conversations},
      {"GET", "/v1/conversations/{chat_id}/messages", scope::main, &router::conversation_messages},
      {"POST", "/v1/messages", scope::main, &router::send_message},
      {"POST", "/v1/files", scope::main, &router::upload_file},
      {"GET", "/v1/files/{id}", scope::main, &router::download_file},
      {"HEAD", "/v1/files/{id}", scope::main, &router::download_file},
  };
  return table;
}

router::router(chat::account_service& accounts, api_routes& api, file_routes& files, people_routes& people,
               const cluster::bus& bus, metrics::server_metrics& metrics, readiness& ready, cors_policy cors,
               const static_files* web)
    : accounts_(accounts),
      bus_(bus),
      metrics_(metrics),
      readiness_(ready),
      cors_(std::move(cors)),
      web_(web),
      api_(api),
      files_(files),
      people_(people) {}

bool router::streams_body(std::string_view method, std::string_view target) {
  return method == "POST" && path_of(target) == "/v1/files";
}

bool router::is_websocket_path(std::string_view target) {
  auto p = path_of(target);
  return p == "/ws" || p == "/ws/";
}

void router::apply_cors(const std::string& origin, response& res) const {
  if (res.error) metrics_.error_sent(*res.error);
  const bool any = std::find(cors_.origins.begin(), cors_.origins.end(), "*") != cors_.origins.end();
  if (any) {
    res.headers.emplace_back("Access-Control-Allow-Origin", "*");
  } else if (!origin.empty() && std::find(cors_.origins.begin(), cors_.origins.end(), origin) != cors_.origins.end()) {
    res.headers.emplace_back("Access-Control-Allow-Origin", origin);
    res.headers.emplace_back("Vary", "Origin");
  }
}

asio::awaitable<response> router::handle(const request& req) {
  metrics::server_metrics::add(metrics_.http_requests);
  const auto path = path_of(req.target);
  // The routes of this path: its own, else (a file of the web client) the web files'.
  const auto table = routes();
  std::vector<const route*> found;
  for (const auto& r : table)
    if (r.path == path) found.push_back(&r);
  // Paths with parameters ("/v1/files/{id}"); the web client's files are matched below.
  if (found.empty()) {
    for (const auto& r : table)
      if (r.path != web_file_path && path_matches(r.path, path)) found.push_back(&r);
  }
  if (found.empty() && web_ != nullptr && path != "/" && web_->find(path) != nullptr) {
    for (const auto& r : table)
      if (r.path == web_file_path) found.push_back(&r);
  }
  // Every route of a path has the same scope (routes_test checks it); a path of no route is
  // the main listener's, which answers it 404 (or its CORS preflight).
  if (!served_on(found.empty() ? scope::main : found.front()->scope, req.listener))
    co_return error_response(404, errc::not_found, "no route for " + shown_path(path));
  if (req.method == "OPTIONS") {
    response res{204, {}, {}};
    res.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, POST, PATCH, DELETE, OPTIONS");
    res.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type, Authorization");
    res.headers.emplace_back("Access-Control-Max-Age", "86400");
    co_return res;
  }
  if (found.empty()) co_return error_response(404, errc::not_found, "no route for " + shown_path(path));
  std::string allow;
  for (const auto* r : found) {
    if (r->method == req.method) co_return co_await (this->*(r->handle))(req);
    allow += std::string(r->method) + ", ";
  }
  auto res = error_response(405, errc::method_not_allowed, "method " + req.method + " is not allowed here");
  res.headers.emplace_back("Allow", allow + "OPTIONS");
  co_return res;
}

// ---- operator routes and the web client ----

asio::awaitable<response> router::health(const request&) {
  response res{200, "{\"status\":\"ok\"}"};
  res.headers.emplace_back("Cache-Control", "no-store");
  co_return res;
}

asio::awaitable<response> router::ready(const request&) {
  const auto state = co_await readiness_.check();
  response res{200, "{\"status\":\"ready\"}"};
  if (!state.ready) {
    res.status = 503;
    res.body = "{\"status\":\"not_ready\",\"reason\":";
    protocol::append_json_string(res.body, state.reason);
    res.body += ",\"code\":\"unavailable\"}";
  }
  res.headers.emplace_back("Cache-Control", "no-store");
  co_return res;
}

asio::awaitable<response> router::metrics_text(const request&) {
  co_return response{200, metrics::render_prometheus(metrics_), "text/plain; version=0.0.4"};
}

asio::awaitable<response> router::websocket_without_upgrade(const request&) {
  co_return error_response(426, errc::upgrade_required, "this endpoint expects a WebSocket upgrade");
}

asio::awaitable<response> router::web_file(const request& req) {
  const auto path = path_of(req.target);
  const auto* file = web_ == nullptr ? nullptr : web_->find(path);
  if (file == nullptr) co_return error_response(404, errc::not_found, "no route for " + shown_path(path));
  response res;
  // Revalidated on every load (a cheap 304): an upgraded server's client takes effect at once.
  res.headers.emplace_back("Cache-Control", "no-cache");
  res.headers.emplace_back("ETag", file->etag);
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (file->content_type.starts_with("text/html")) {
    // The client loads nothing from another address; the socket goes back to this host.
    res.headers.emplace_back("Content-Security-Policy",
                             "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
                             "style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    res.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  res.content_type = file->content_type;
  if (!req.if_none_match.empty() && req.if_none_match == file->etag) {
    res.status = 304;
    co_return res;
  }
  res.body = file->body;
  co_return res;
}

asio::awaitable<response> router::cluster_nodes(const request&) {
  std::string body = "{\"node_id\":";
  protocol::append_json_string(body, bus_.node_id());
  body += ",\"nodes\":[";
  bool first = true;
  for (const auto& n : bus_.nodes()) {
    if (!first) body += ',';
    first = false;
    body += "{\"id\":";
    protocol::append_json_string(body, n.id);
    body += ",\"address\":";
    protocol::append_json_string(body, n.address);
    body += ",\"started_at\":" + std::to_string(n.started_at);
    body += ",\"connections\":" + std::to_string(n.connections);
    body += ",\"expires_at\":" + std::to_string(n.expires_at) + "}";
  }
  body += "]}";
  co_return response{200, std::move(body)};
}

// ---- the HTTP API ----

asio::awaitable<response> router::me(const request& req) {
  co_return co_await people_.me(req);
}

asio::awaitable<response> router::update_me(const request& req) {
  co_return co_await people_.update_me(req);
}

asio::awaitable<response> router::delete_me(const request& req) {
  co_return co_await people_.delete_me(req);
}

asio::awaitable<response> router::export_me(const request& req) {
  co_return co_await people_.export_account(req);
}

asio::awaitable<response> router::blocks(const request& req) {
  co_return co_await people_.blocks(req);
}

asio::awaitable<response> router::block(const request& req) {
  co_return co_await people_.block(req);
}

asio::awaitable<response> router::unblock(const request& req) {
  co_return co_await people_.unblock(req);
}

asio::awaitable<response> router::devices(const request& req) {
  co_return co_await people_.devices(req);
}

asio::awaitable<response> router::add_device(const request& req) {
  co_return co_await people_.add_device(req);
}

asio::awaitable<response> router::remove_device(const request& req) {
  co_return co_await people_.remove_device(req);
}

asio::awaitable<response> router::conversations(const request& req) {
  co_return co_await api_.conversations(req);
}

asio::awaitable<response> router::conversation_messages(const request& req) {
  co_return co_await api_.conversation_messages(req);
}

asio::awaitable<response> router::send_message(const request& req) {
  co_return co_await api_.send_message(req);
}

asio::awaitable<response> router::upload_file(const request& req) {
  co_return co_await files_.upload(req);
}

asio::awaitable<response> router::download_file(const request& req) {
  co_return co_await files_.download(req);
}

// ---- accounts ----

asio::awaitable<response> router::register_user(const request& req) {
  auto fields = read_fields(req, {"username", "password", "name"});
  if (!fields) co_return error_response(fields.error());
  auto& f = *fields;
  auto r = co_await accounts_.register_user(std::move(f[0]), std::move(f[1]), std::move(f[2]), req.client_address);
  if (!r) co_return error_response(r.error());
  co_return token_response(*r);
}

asio::awaitable<response> router::login(const request& req) {
  auto fields = read_fields(req, {"username", "password"});
  if (!fields) co_return error_response(fields.error());
  auto& f = *fields;
  // A request without credentials is a client bug, not a failed login: say so (400) instead
  // of the deliberately vague 401.
  if (f[0].empty()) co_return error_response(make_error(errc::invalid_field, "username is missing or empty"));
  if (f[1].empty()) co_return error_response(make_error(errc::invalid_field, "password is missing or empty"));
  auto r = co_await accounts_.login(std::move(f[0]), std::move(f[1]), req.client_address);
  if (!r) co_return error_response(r.error());
  co_return token_response(*r);
}

// ---- token lifecycle (docs/security.md, "Token lifecycle") ----

asio::awaitable<response> router::logout(const request& req) {
  auto token = bearer_token(req);
  if (!token) co_return bearer_refused(token.error());
  auto r = co_await accounts_.logout(std::move(*token));
  if (!r) co_return bearer_refused(r.error());
  co_return revoked_response(*r);
}

asio::awaitable<response> router::logout_all(const request& req) {
  auto token = bearer_token(req);
  if (!token) co_return bearer_refused(token.error());
  auto r = co_await accounts_.logout_all(std::move(*token));
  if (!r) co_return bearer_refused(r.error());
  co_return revoked_response(*r);
}

asio::awaitable<response> router::change_password(const request& req) {
  auto token = bearer_token(req);
  if (!token) co_return bearer_refused(token.error());
  auto fields = read_fields(req, {"old_password", "new_password"});
  if (!fields) co_return error_response(fields.error());
  auto& f = *fields;
  if (f[0].empty()) co_return error_response(make_error(errc::invalid_field, "old_password is missing or empty"));
  auto r = co_await accounts_.change_password(std::move(*token), std::move(f[0]), std::move(f[1]), req.client_address);
  if (!r) co_return bearer_refused(r.error());
  co_return revoked_response(*r);
}

}  // namespace chatrix::http
