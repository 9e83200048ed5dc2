#include "http/router.hpp"

#include "protocol/codec.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace chatrix::http {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

unsigned status_for(errc code) {
  switch (code) {
    case errc::username_taken: return 409;
    case errc::bad_credentials:
    case errc::unauthorized: return 401;
    case errc::forbidden:
    case errc::forbidden_origin: return 403;
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

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme is
/// case-insensitive). Only the header: a token in the URL would end up in proxy and access
/// logs, so a query string is never read for one.
result<std::string> bearer_token(const request& req) {
  constexpr std::string_view scheme = "bearer ";
  std::string_view h = req.authorization;
  const bool is_bearer = h.size() > scheme.size() && std::equal(scheme.begin(), scheme.end(), h.begin(), [](char a, char b) {
                           return a == (b >= 'A' && b <= 'Z' ? char(b - 'A' + 'a') : b);
                         });
  if (!is_bearer) return make_error(errc::unauthorized, "this route needs an Authorization: Bearer <token> header");
  h.remove_prefix(scheme.size());
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (h.empty()) return make_error(errc::unauthorized, "this route needs an Authorization: Bearer <token> header");
  return std::string(h);
}

/// 401 for a missing or refused token, with the challenge RFC 6750 §3 asks for.
response bearer_refused(const error& err) {
  auto res = error_response(err);
  if (err.code == errc::unauthorized) res.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"chatrix\"");
  return res;
}

response revoked_response(std::size_t count) {
  return response{200, "{\"revoked\":" + std::to_string(count) + "}"};
}

/// Reads the named string fields of a JSON object body; a missing field reads as "".
result<std::vector<std::string>> read_fields(const request& req, std::initializer_list<std::string_view> names) {
  // The content type is not checked: the original accepted any, and so do its clients' tools.
  boost::system::error_code ec;
  auto v = json::parse(req.body, ec);
  if (ec || !v.is_object()) return make_error(errc::invalid_field, "the body must be a JSON object");
  std::vector<std::string> out;
  for (auto name : names) {
    auto* f = v.get_object().if_contains(name);
    if (!f || f->is_null()) {
      out.emplace_back();
    } else if (f->is_string()) {
      out.emplace_back(f->get_string());
    } else {
      return make_error(errc::invalid_field, std::string(name) + " must be a string");
    }
  }
  return out;
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

router::router(chat::account_service& accounts, const cluster::bus& bus, metrics::server_metrics& metrics,
               cors_policy cors, const static_files* web)
    : accounts_(accounts), bus_(bus), metrics_(metrics), cors_(std::move(cors)), web_(web) {}

std::optional<response> router::web_file(const request& req, std::string_view path) const {
  if (web_ == nullptr || (req.method != "GET" && req.method != "HEAD")) return std::nullopt;
  const auto* file = web_->find(path);
  if (file == nullptr) return std::nullopt;
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
    return res;
  }
  res.body = file->body;
  return res;
}

response router::cluster_nodes() const {
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
  return response{200, std::move(body)};
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
  const bool operator_route = path == "/metrics" || path == "/cluster";
  if ((req.listener == listener_role::main && operator_route) ||
      (req.listener == listener_role::admin && !operator_route && path != "/health")) {
    co_return error_response(404, errc::not_found, "no route for " + shown_path(path));
  }
  if (req.method == "OPTIONS") {
    response res{204, {}, {}};
    res.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    res.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type, Authorization");
    res.headers.emplace_back("Access-Control-Max-Age", "86400");
    co_return res;
  }
  auto only = [&](std::string_view method) -> std::optional<response> {
    if (req.method == method) return std::nullopt;
    auto res = error_response(405, errc::method_not_allowed, "method " + req.method + " is not allowed here");
    res.headers.emplace_back("Allow", std::string(method) + ", OPTIONS");
    return res;
  };
  if (path == "/auth/register") {
    if (auto r = only("POST")) co_return *r;
    co_return co_await register_user(req);
  }
  if (path == "/auth/login") {
    if (auto r = only("POST")) co_return *r;
    co_return co_await login(req);
  }
  if (path == "/auth/logout") {
    if (auto r = only("POST")) co_return *r;
    co_return co_await logout(req);
  }
  if (path == "/auth/logout-all") {
    if (auto r = only("POST")) co_return *r;
    co_return co_await logout_all(req);
  }
  if (path == "/auth/password") {
    if (auto r = only("POST")) co_return *r;
    co_return co_await change_password(req);
  }
  if (path == "/health") {
    if (auto r = only("GET")) co_return *r;
    co_return response{200, "{\"status\":\"ok\"}"};
  }
  if (path == "/cluster") {
    if (auto r = only("GET")) co_return *r;
    co_return cluster_nodes();
  }
  if (path == "/metrics") {
    if (auto r = only("GET")) co_return *r;
    co_return response{200, metrics::render_prometheus(metrics_), "text/plain; version=0.0.4"};
  }
  if (is_websocket_path(req.target)) {
    if (auto r = only("GET")) co_return *r;
    co_return error_response(426, errc::upgrade_required, "this endpoint expects a WebSocket upgrade");
  }
  if (req.listener != listener_role::admin) {
    if (auto file = web_file(req, path)) co_return std::move(*file);
  }
  co_return error_response(404, errc::not_found, "no route for " + shown_path(path));
}

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
