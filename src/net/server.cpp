// Listener and HTTP sessions (Boost.Beast) with C++20 coroutines; an upgrade to WebSocket
// hands the socket to a websocket_session. All Beast stream code is in this one translation
// unit: instantiating Beast's operations inside coroutines costs ~20 s per unit on two cores.
#include "net/server.hpp"

#include "core/log.hpp"
#include "core/spawn.hpp"
#include "http/body_stream.hpp"
#include "net/access_log.hpp"
#include "net/admission.hpp"
#include "net/client_address.hpp"
#include "net/tls_bridge.hpp"
#include "net/tls_context.hpp"
#include "net/websocket_session.hpp"
#include "net/ws_frame.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/range/iterator_range.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <random>
#include <tuple>
#include <utility>

namespace chatrix::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using http_stream = beast::basic_stream<tcp, io_executor>;

namespace {

std::uint64_t random_device_prefix() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) & 0xFFFF'FFFF'0000'0000ULL;
}

/// IPv4 in its IPv4-mapped form, as config::parse_ip spells it: a client of a dual-stack
/// listener (::ffff:a.b.c.d) and of an IPv4 one is then the same address.
config::ip_bytes to_ip_bytes(const asio::ip::address& address) {
  if (address.is_v6()) return address.to_v6().to_bytes();
  return asio::ip::make_address_v6(asio::ip::v4_mapped, address.to_v4()).to_bytes();
}

/// The soft RLIMIT_NOFILE (app raised it to the hard limit before), 0 if unknown.
std::size_t open_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<std::size_t>(lim.rlim_cur);
}

/// A warning that repeats (one client over a limit, descriptors short on every accept) is
/// logged once a minute per key; the counters in /metrics have the full count.
constexpr limits::rate warning_rate{1, std::chrono::minutes(1)};
constexpr std::size_t max_warning_keys = 10'000;

}  // namespace

// ---- shared state ----

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(asio::io_context& io, server_options settings, chat::chat_service& chat_service, http::router& router,
       metrics::server_metrics& server_metrics)
      : ioc(io),
        options(std::move(settings)),
        chat(chat_service),
        routes(router),
        metrics(server_metrics),
        acceptor(io),
        admin_acceptor(io),
        websockets(io.get_executor(), options, chat_service, server_metrics),
        gate(std::make_shared<admission>(options.admission)) {}

  /// A connection just accepted, as the serving coroutines take it: the TCP peer's address,
  /// the admission ticket that counts the socket, and the id that names the connection in its
  /// log lines (after an upgrade, the WebSocket device's id).
  struct accepted_peer {
    config::ip_bytes address;
    admission::ticket ticket;
    std::uint64_t id = 0;
  };

  asio::awaitable<void> accept_loop(tcp::acceptor& from, http::listener_role role);
  /// Counts the socket and finds its peer; nullopt when the client is gone already.
  std::optional<accepted_peer> open_connection(const socket_type& socket);
  /// `socket` is the TCP connection, or the plain end of its TLS bridge.
  asio::awaitable<void> serve_http(socket_type socket, accepted_peer accepted, http::listener_role role);
  /// POST /v1/files once its header is read: the route reads the body (body_source). True
  /// when the connection may serve another request.
  asio::awaitable<bool> serve_upload(http_stream& stream, beast::flat_buffer& buffer,
                                     bhttp::request_parser<bhttp::string_body>& header, std::uint64_t id,
                                     const config::ip_bytes& client, http::listener_role role, std::string origin,
                                     std::chrono::steady_clock::time_point began);
  /// Counts and logs a request cut off by `limit` (HTTP_HEADER_TIMEOUT, HTTP_REQUEST_TIMEOUT).
  void note_timeout(const char* limit, std::uint64_t id, const config::ip_bytes& client);
  /// TLS_CERT: admits the client, terminates TLS (tls_bridge.hpp), then serve_http().
  asio::awaitable<void> serve_tls(socket_type socket, accepted_peer accepted, http::listener_role role);
  /// Writes `res` with Connection: close and ends the connection (see the linger below).
  asio::awaitable<void> answer_and_close(http_stream& stream, beast::flat_buffer& buffer, http::response res,
                                         const std::string& origin);
  /// A connection refused by an admission limit: counted, logged, answered with 429 or 503.
  asio::awaitable<void> refuse(http_stream& stream, beast::flat_buffer& buffer, const refusal& why,
                               std::uint64_t connection, const config::ip_bytes& client, const std::string& origin);
  /// The counting and logging part of refuse().
  void note_refusal(const refusal& why, std::uint64_t connection, const config::ip_bytes& client);
  bool origin_allowed(std::string_view origin) const;
  /// Whether a warning under `key` may be logged now (warning_rate).
  bool may_warn(const std::string& key);
  /// Warns when open sockets pass 90% of the descriptor limit.
  void check_descriptors();
  /// Waits until the sends already taken are stored and answered, closes every session and
  /// waits until they have stopped reading, all before the deadline set in stop().
  asio::awaitable<void> drain_sessions();

  asio::io_context& ioc;
  server_options options;
  chat::chat_service& chat;
  http::router& routes;
  metrics::server_metrics& metrics;
  tcp::acceptor acceptor;
  tcp::acceptor admin_acceptor;
  websocket_context websockets;
  std::shared_ptr<admission> gate;
  limits::keyed_limiter warnings{warning_rate, 1, max_warning_keys};
  std::size_t descriptor_limit = open_file_limit();
  std::size_t lingering = 0;
  std::uint64_t device_prefix = random_device_prefix();
  std::uint64_t next_device = 1;
};

// ---- HTTP ----

namespace {

/// `head`: the answer to a HEAD request, with the length of the body it leaves out.
bhttp::response<bhttp::string_body> to_beast(http::response& res, unsigned version, bool keep_alive,
                                             bool head = false) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), version};
  out.set(bhttp::field::server, "chatrix");
  if (!res.body.empty() || res.status != 204) out.set(bhttp::field::content_type, res.content_type);
  for (const auto& [k, v] : res.headers) out.set(k, v);
  out.keep_alive(keep_alive);
  if (head) {
    out.content_length(res.body.size());
  } else {
    out.body() = std::move(res.body);
    out.prepare_payload();
  }
  return out;
}

/// How long, and for how many bytes, a refused request's connection is drained before it closes.
constexpr std::chrono::seconds linger_time{2};
constexpr std::size_t linger_bytes = 1024 * 1024;
/// Refused connections draining at once. A storm of refused connections could otherwise hold
/// a descriptor each for linger_time; past this many they close at once (their answer may
/// then be lost to a reset, which a client in a storm can live with).
constexpr std::size_t max_lingering = 1024;
/// What a keep-alive connection reads while it waits for the next request.
constexpr std::size_t idle_read_bytes = 1024;

/// Every X-Forwarded-For line, joined as one list (RFC 9110 5.3).
std::string forwarded_for(const bhttp::request_header<>& req) {
  std::string out;
  for (const auto& line : boost::make_iterator_range(req.equal_range("X-Forwarded-For"))) {
    if (!out.empty()) out += ',';
    out += line.value();
  }
  return out;
}

/// The answer to a request the parser refused, or nullopt when there is nobody to answer (the
/// client closed, the connection broke or timed out).
std::optional<http::response> refusal_for(const beast::error_code& ec) {
  if (ec == bhttp::error::body_limit) {
    return http::error_response(413, errc::body_too_large,
                                "the body is larger than " + std::to_string(http::max_body_bytes) + " bytes");
  }
  if (ec == bhttp::error::header_limit) {
    return http::error_response(
        431, errc::headers_too_large,
        "the request line and headers are larger than " + std::to_string(http::max_header_bytes) + " bytes");
  }
  // Beast's syntax errors are the contiguous range bad_line_ending .. multiple_content_length.
  const auto& parse_errors = bhttp::make_error_code(bhttp::error::bad_line_ending).category();
  if (ec.category() == parse_errors && ec.value() >= static_cast<int>(bhttp::error::bad_line_ending) &&
      ec.value() <= static_cast<int>(bhttp::error::multiple_content_length)) {
    return http::error_response(400, errc::malformed_request, "not a valid HTTP/1.1 request: " + ec.message());
  }
  return std::nullopt;
}

/// An upload's body, read by the route piece by piece (http::body_source). Each read has
/// HTTP_REQUEST_TIMEOUT of its own, armed just before it: the time the route spends storing
/// what it read counts against nobody, and an upload that keeps sending is never cut off.
class beast_body_source final : public http::body_source {
 public:
  beast_body_source(http_stream& stream, beast::flat_buffer& buffer, bhttp::request_parser<bhttp::buffer_body>& parser,
                    std::chrono::seconds read_timeout)
      : stream_(stream),
        buffer_(buffer),
        parser_(parser),
        read_timeout_(read_timeout),
        awaits_continue_(beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {}

  std::optional<std::uint64_t> length() const override {
    const auto n = parser_.content_length();
    return n ? std::optional<std::uint64_t>(*n) : std::nullopt;
  }

  asio::awaitable<result<std::size_t>> read(std::span<char> into) override {
    if (std::exchange(awaits_continue_, false)) {
      // The client (curl, for bodies over 1 MiB) waits for this before sending the body. The
      // route reads only once the upload is accepted, so a refusal is answered instead.
      static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(read_timeout_);
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(go_on.data(), go_on.size()), use_tuple);
      if (ec) co_return make_error(errc::unavailable, "the upload stopped: " + ec.message());
    }
    // A chunk header alone yields no body bytes: read on until some arrive or the body ends.
    while (!parser_.is_done()) {
      auto& body = parser_.get().body();
      body.data = into.data();
      body.size = into.size();
      stream_.expires_after(read_timeout_);
      auto [ec, n] = co_await bhttp::async_read_some(stream_, buffer_, parser_, use_tuple);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec == beast::error::timeout) timed_out_ = true;
      if (ec) {
        if (refusal_for(ec)) co_return make_error(errc::malformed_request, "not a valid HTTP/1.1 body: " + ec.message());
        co_return make_error(errc::unavailable, "the upload stopped: " + ec.message());
      }
      const std::size_t got = into.size() - body.size;
      if (got > 0) co_return got;
    }
    co_return std::size_t{0};
  }

  /// Whether the body was read to its end (the connection may then serve another request).
  bool finished() const { return parser_.is_done(); }
  bool timed_out() const { return timed_out_; }

 private:
  http_stream& stream_;
  beast::flat_buffer& buffer_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  std::chrono::seconds read_timeout_;
  bool awaits_continue_;  // Expect: 100-continue, not answered yet
  bool timed_out_ = false;
};

/// A download written as the route reads it (http::body_sink); each write has
/// HTTP_REQUEST_TIMEOUT of its own.
class beast_body_sink final : public http::body_sink {
 public:
  beast_body_sink(http_stream& stream, http::router& routes, const std::string& origin, unsigned version,
                  bool keep_alive, bool head, std::chrono::seconds write_timeout)
      : stream_(stream),
        routes_(routes),
        origin_(origin),
        version_(version),
        keep_alive_(keep_alive),
        head_(head),
        write_timeout_(write_timeout) {}

  asio::awaitable<bool> start(http::response res, std::optional<std::uint64_t> length) override {
    routes_.apply_cors(origin_, res);
    status_ = res.status;
    bhttp::response<bhttp::empty_body> out{static_cast<bhttp::status>(res.status), version_};
    out.set(bhttp::field::server, "chatrix");
    out.set(bhttp::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers) out.set(k, v);
    if (length) {
      length_ = head_ ? 0 : *length;
      out.content_length(*length);
    } else if (version_ >= 11) {
      chunked_ = !head_;
      out.chunked(true);
    } else {
      // HTTP/1.0 knows no chunks: the body ends where the connection does.
      keep_alive_ = false;
      unframed_ = true;
    }
    out.keep_alive(keep_alive_);
    stream_.expires_after(write_timeout_);
    // The header alone: written whole, a chunked message with an empty body would end itself.
    bhttp::response_serializer<bhttp::empty_body> header(out);
    auto [ec, n] = co_await bhttp::async_write_header(stream_, header, use_tuple);
    started_ = !ec;
    co_return started_;
  }

  asio::awaitable<bool> write(std::string_view bytes) override {
    if (!started_ || head_) co_return false;
    if (bytes.empty()) co_return true;  // an empty chunk would end a chunked body
    stream_.expires_after(write_timeout_);
    const auto payload = asio::buffer(bytes.data(), bytes.size());
    beast::error_code ec;
    if (chunked_) {
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, bhttp::make_chunk(payload), use_tuple);
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, payload, use_tuple);
    }
    written_ += ec ? 0 : bytes.size();
    if (ec) started_ = false;
    co_return !ec;
  }

  asio::awaitable<bool> finish() override {
    if (!started_) co_return false;
    if (chunked_) {
      stream_.expires_after(write_timeout_);
      auto [ec, n] = co_await asio::async_write(stream_, bhttp::make_chunk_last(), use_tuple);
      if (ec) started_ = false;
    }
    finished_ = started_;
    co_return started_;
  }

  unsigned status() const { return status_; }
  std::uint64_t written() const { return written_; }
  /// The whole answer went out: the connection may serve another request.
  bool complete() const {
    if (unframed_) return false;
    return started_ && (chunked_ ? finished_ : written_ == length_);
  }

 private:
  http_stream& stream_;
  http::router& routes_;
  const std::string& origin_;
  unsigned version_;
  bool keep_alive_;
  bool head_;
  std::chrono::seconds write_timeout_;
  bool started_ = false;
  bool chunked_ = false;   // started without a length, on HTTP/1.1
  bool unframed_ = false;  // started without a length, on HTTP/1.0: ends with the connection
  bool finished_ = false;
  unsigned status_ = 0;
  std::uint64_t length_ = 0;
  std::uint64_t written_ = 0;
};

/// The fields of a request the routes read, from its header.
http::request to_route_request(const bhttp::request_header<>& head, std::string origin, std::string client_address,
                               http::listener_role role) {
  http::request r;
  r.method = std::string(head.method_string());
  r.target = std::string(head.target());
  if (auto it = head.find(bhttp::field::content_type); it != head.end()) r.content_type = std::string(it->value());
  r.origin = std::move(origin);
  if (auto it = head.find(bhttp::field::authorization); it != head.end()) r.authorization = std::string(it->value());
  if (auto it = head.find(bhttp::field::if_none_match); it != head.end()) r.if_none_match = std::string(it->value());
  r.client_address = std::move(client_address);
  r.listener = role;
  return r;
}

}  // namespace

bool server::impl::may_warn(const std::string& key) {
  return warnings.take(key, std::chrono::steady_clock::now()).count() == 0;
}

void server::impl::check_descriptors() {
  // Sockets are most of the descriptors; the store's files and connections are a handful. A
  // TLS connection holds three: its TCP socket and both ends of its bridge's socketpair.
  const std::size_t per_connection = options.tls ? 3 : 1;
  const std::size_t in_use = gate->open_sockets() * per_connection;
  if (descriptor_limit == 0 || in_use * 10 < descriptor_limit * 9) return;
  if (!may_warn("descriptors")) return;
  spdlog::warn("file descriptors running short: {} in use by {} connections, the limit (RLIMIT_NOFILE) is {}; "
               "raise it (ulimit -n, systemd LimitNOFILE) or lower ADDRESS_CONNECTIONS",
               in_use, gate->open_sockets(), descriptor_limit);
}

bool server::impl::origin_allowed(std::string_view origin) const {
  // No Origin header: not a browser (browsers always send one with a WebSocket upgrade), and
  // a non-browser client can write any Origin it likes, so the list could not stop it anyway.
  // The list protects users' browsers from pages on other sites opening sockets with them.
  if (options.ws_origins.empty() || origin.empty()) return true;
  std::string lowered(origin);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(options.ws_origins.begin(), options.ws_origins.end(), lowered) != options.ws_origins.end();
}

asio::awaitable<void> server::impl::answer_and_close(http_stream& stream, beast::flat_buffer& buffer,
                                                     http::response res, const std::string& origin) {
  routes.apply_cors(origin, res);
  auto out = to_beast(res, 11, false);
  stream.expires_after(options.http_request_timeout);
  auto [wec, wn] = co_await bhttp::async_write(stream, out, use_tuple);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (wec || lingering >= max_lingering) co_return;
  // The client may still be sending the rest of its request. Closing with unread bytes makes
  // the kernel send RST, which can destroy the answer before the client has read it; so send
  // FIN (above) and drop what arrives until the client closes.
  ++lingering;
  struct linger_done {
    std::size_t& count;
    ~linger_done() { --count; }
  } done{lingering};
  stream.expires_after(linger_time);
  for (std::size_t drained = 0; drained < linger_bytes;) {
    buffer.clear();
    auto [rec, rn] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
    if (rec) break;
    drained += rn;
  }
}

void server::impl::note_refusal(const refusal& why, std::uint64_t connection, const config::ip_bytes& client) {
  metrics::server_metrics::add(metrics.limited_connections);
  const auto address = address_text(client);
  if (may_warn(std::string(why.limit) + ' ' + address)) {
    log::write(spdlog::level::warn, log::connection(connection, address),
               "rate-limited: {} refused a connection: {} (logged once a minute per address)", why.limit,
               why.reason.message);
  }
}

asio::awaitable<void> server::impl::refuse(http_stream& stream, beast::flat_buffer& buffer, const refusal& why,
                                           std::uint64_t connection, const config::ip_bytes& client,
                                           const std::string& origin) {
  note_refusal(why, connection, client);
  // A named local, not a prvalue argument: see "Build notes" in docs/architecture.md (g++ 12).
  auto answer = http::error_response(why.reason);
  co_await answer_and_close(stream, buffer, std::move(answer), origin);
}

std::optional<server::impl::accepted_peer> server::impl::open_connection(const socket_type& socket) {
  auto ticket = gate->open_socket();
  check_descriptors();
  beast::error_code ec;
  const auto peer_endpoint = socket.remote_endpoint(ec);
  if (ec) return std::nullopt;
  return accepted_peer{to_ip_bytes(peer_endpoint.address()), std::move(ticket), device_prefix | next_device++};
}

asio::awaitable<void> server::impl::serve_http(socket_type socket, accepted_peer accepted, http::listener_role role) {
  auto self = shared_from_this();
  auto ticket = std::move(accepted.ticket);
  const auto peer = accepted.address;
  // A direct client counts from its connect on, so that connections trickling their headers
  // count too. A trusted proxy's connections count under the client each request names
  // (below); the proxy itself is not limited: say so in TRUSTED_PROXIES, or every client
  // behind it shares one address's limits.
  const bool from_proxy = is_trusted(peer, options.trusted_proxies);
  const std::uint64_t id = accepted.id;
  // The admin listener is the operator's (loopback by default): its deadlines hold, but a
  // client over a per-address limit on the public port must not blind the monitoring.
  const bool limited = role != http::listener_role::admin;
  http_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  if (limited && !from_proxy) {
    if (auto refused = gate->admit_http(ticket, peer, std::chrono::steady_clock::now())) {
      co_await refuse(stream, buffer, *refused, id, peer, {});
      co_return;
    }
  }
  for (bool keep_alive_wait = false;; keep_alive_wait = true) {
    if (keep_alive_wait && buffer.size() == 0) {
      // Between requests only HTTP_REQUEST_TIMEOUT runs; a request's clocks start with its
      // first byte.
      stream.expires_after(options.http_request_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(idle_read_bytes), use_tuple);
      if (ec) break;
      buffer.commit(n);
    }
    const auto began = std::chrono::steady_clock::now();
    const auto request_deadline = began + options.http_request_timeout;
    stream.expires_at(std::min(began + options.http_header_timeout, request_deadline));
    bhttp::request_parser<bhttp::string_body> parser;
    // The body's limit depends on the route: set once the header names it (below).
    parser.body_limit(boost::none);
    parser.header_limit(static_cast<std::uint32_t>(http::max_header_bytes));
    beast::error_code ec;
    std::size_t n = 0;
    std::tie(ec, n) = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
    std::string origin;
    auto client = peer;
    bool upgrade = false;
    bool streamed = false;  // an upload: the route reads the body itself
    if (!ec) {
      // The headers say who the client is and what it wants: admitted (or not) before its
      // body is read.
      const auto& head = parser.get();
      if (auto it = head.find(bhttp::field::origin); it != head.end()) origin = std::string(it->value());
      upgrade = role != http::listener_role::admin && websocket::is_upgrade(head) &&
                http::router::is_websocket_path(head.target());
      std::optional<refusal> refused;
      if (from_proxy) {
        client = forwarded_client(peer, forwarded_for(head), options.trusted_proxies);
        if (limited) refused = gate->admit_http(ticket, client, std::chrono::steady_clock::now());
      }
      if (limited && !refused && !upgrade) refused = gate->serve_plain_http(ticket);
      if (refused) {
        co_await refuse(stream, buffer, *refused, id, client, origin);
        co_return;
      }
      streamed = !upgrade && http::router::streams_body(head.method_string(), head.target());
      if (!streamed) {
        // Refused on its Content-Length before a byte of it is read; a chunked body when it
        // passes the limit.
        if (parser.content_length() && *parser.content_length() > http::max_body_bytes) {
          ec = bhttp::error::body_limit;
        } else {
          parser.body_limit(http::max_body_bytes);
        }
      }
      if (!ec && !streamed && !parser.is_done()) {
        stream.expires_at(request_deadline);
        std::tie(ec, n) = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
      }
    }
    if (ec == beast::error::timeout) {
      // A client trickling its request (slowloris) holds a socket and a parser: cut it off.
      note_timeout(parser.is_header_done() ? "HTTP_REQUEST_TIMEOUT" : "HTTP_HEADER_TIMEOUT", id, client);
      break;
    }
    if (ec) {
      // A request that cannot be served is answered with the reason, then the connection
      // closes: past a parse error there is no telling where a next request would start.
      if (auto answer = refusal_for(ec)) co_await answer_and_close(stream, buffer, std::move(*answer), origin);
      co_return;
    }
    if (streamed) {
      if (co_await serve_upload(stream, buffer, parser, id, client, role, std::move(origin), began)) continue;
      co_return;
    }
    auto req = parser.release();
    const std::string target(req.target());

    if (upgrade) {
      if (websockets.sessions.stopping()) break;
      if (!origin_allowed(origin)) {
        metrics::server_metrics::add(metrics.origin_refused);
        const auto address = address_text(client);
        if (may_warn("WS_ORIGINS " + address)) {
          log::write(spdlog::level::warn, log::connection(id, address),
                     "rate-limited: WS_ORIGINS refused a WebSocket with Origin {} (logged once a minute per address)",
                     origin);
        }
        auto answer =
            http::error_response(make_error(errc::forbidden_origin, "this origin may not open a WebSocket here"));
        co_await answer_and_close(stream, buffer, std::move(answer), origin);
        co_return;
      }
      ws::upgrade_request up;
      up.method = req.method_string();
      up.http_version = req.version();
      up.upgrade = req[bhttp::field::upgrade];
      up.connection = req[bhttp::field::connection];
      up.ws_version = req[bhttp::field::sec_websocket_version];
      up.ws_key = req[bhttp::field::sec_websocket_key];
      const auto answer = ws::answer_handshake(up);
      if (answer.accepted) {
        if (auto refused = gate->upgrade(ticket)) {
          co_await refuse(stream, buffer, *refused, id, client, origin);
          co_return;
        }
      }
      stream.expires_after(options.http_request_timeout);
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(answer.response), use_tuple);
      if (options.access_log) {
        log_access({id, address_text(client), up.method, target, status_of_response(answer.response), 0,
                    std::chrono::steady_clock::now() - began, req[bhttp::field::user_agent]});
      }
      if (wec || !answer.accepted) break;
      // Disarm the HTTP timeout first: its pending wait would otherwise keep this stream's
      // state and read operation alive for the timeout after the socket has moved on.
      stream.expires_never();
      auto session = std::make_shared<websocket_session>(stream.release_socket(), websockets, id, std::move(ticket));
      // Bytes after the request (a client that sent its token frame right away) are the
      // WebSocket's, not HTTP's.
      const auto rest = buffer.cdata();
      if (rest.size() > 0) session->feed(std::string_view(static_cast<const char*>(rest.data()), rest.size()));
      websockets.sessions.add(id, session);
      // The session runs on callbacks and short-lived coroutines of its own, so this HTTP
      // session's buffers and frame are released now instead of living as long as it.
      session->start();
      co_return;
    }

    auto r = to_route_request(req.base(), std::move(origin), address_text(client), role);
    r.body = std::move(req.body());
    const bool keep_alive = req.keep_alive() && !websockets.sessions.stopping();
    const bool head = req.method() == bhttp::verb::head;
    beast_body_sink sink(stream, routes, r.origin, req.version(), keep_alive, head, options.http_request_timeout);
    r.body_out = &sink;
    auto res = co_await routes.handle(r);
    if (res.streamed) {
      // A download: the route wrote it.
      if (options.access_log) {
        log_access({id, r.client_address, r.method, r.target, sink.status() == 0 ? res.status : sink.status(),
                    sink.written(), std::chrono::steady_clock::now() - began, req[bhttp::field::user_agent]});
      }
      if (!sink.complete() || !keep_alive) break;
      continue;
    }
    routes.apply_cors(r.origin, res);
    auto out = to_beast(res, req.version(), keep_alive, head);
    stream.expires_after(options.http_request_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, out, use_tuple);
    if (options.access_log) {
      log_access({id, r.client_address, r.method, r.target, res.status, out.body().size(),
                  std::chrono::steady_clock::now() - began, req[bhttp::field::user_agent]});
    }
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void server::impl::note_timeout(const char* limit, std::uint64_t id, const config::ip_bytes& client) {
  metrics::server_metrics::add(metrics.http_timeouts);
  const auto address = address_text(client);
  if (may_warn(std::string(limit) + ' ' + address)) {
    log::write(spdlog::level::warn, log::connection(id, address),
               "rate-limited: {} cut off a slow request (logged once a minute per address)", limit);
  }
}

asio::awaitable<bool> server::impl::serve_upload(http_stream& stream, beast::flat_buffer& buffer,
                                                 bhttp::request_parser<bhttp::string_body>& header, std::uint64_t id,
                                                 const config::ip_bytes& client, http::listener_role role,
                                                 std::string origin, std::chrono::steady_clock::time_point began) {
  // The same parser state, with a body the route fills a piece at a time.
  bhttp::request_parser<bhttp::buffer_body> parser(std::move(header));
  // The route counts the bytes against FILE_MAX_BYTES (and answers 413 itself).
  parser.body_limit(boost::none);
  const bool keep_alive = parser.keep_alive() && !websockets.sessions.stopping();
  const unsigned version = parser.get().version();
  auto r = to_route_request(parser.get().base(), std::move(origin), address_text(client), role);
  const std::string user_agent(parser.get()[bhttp::field::user_agent]);
  beast_body_source source(stream, buffer, parser, options.http_request_timeout);
  r.body_in = &source;
  auto res = co_await routes.handle(r);
  if (source.timed_out()) {
    note_timeout("HTTP_REQUEST_TIMEOUT", id, client);
    co_return false;
  }
  if (options.access_log) {
    log_access({id, r.client_address, r.method, r.target, res.status, res.body.size(),
                std::chrono::steady_clock::now() - began, user_agent});
  }
  if (!source.finished()) {
    // Refused before the body's end (401, 413, 429 ...): the rest of it is not read.
    co_await answer_and_close(stream, buffer, std::move(res), r.origin);
    co_return false;
  }
  routes.apply_cors(r.origin, res);
  auto out = to_beast(res, version, keep_alive);
  stream.expires_after(options.http_request_timeout);
  auto [wec, wn] = co_await bhttp::async_write(stream, out, use_tuple);
  co_return !wec && keep_alive;
}

asio::awaitable<void> server::impl::accept_loop(tcp::acceptor& from, http::listener_role role) {
  auto self = shared_from_this();
  asio::steady_timer backoff(ioc);
  // Runs on through the drain, so that probes get their answer (/ready: "draining"); stop()
  // closes the listeners once the sessions are gone.
  while (from.is_open()) {
    auto [ec, socket] = co_await from.async_accept(ioc.get_executor(), use_tuple);
    if (ec == asio::error::operation_aborted || !from.is_open()) break;
    if (ec) {
      // Out of file descriptors (or a transient network error): wait instead of spinning.
      if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system) {
        if (may_warn("accept descriptors")) {
          spdlog::warn("accept failed: out of file descriptors ({}), {} sockets open, the limit (RLIMIT_NOFILE) is "
                       "{}; new connections wait in the backlog (logged once a minute)",
                       ec.message(), gate->open_sockets(), descriptor_limit);
        }
      } else if (may_warn("accept " + ec.message())) {
        spdlog::warn("accept failed: {} (logged once a minute)", ec.message());
      }
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // The WebSocket session reads without blocking (websocket_session::read_loop); set here, the
    // one ioctl also serves the HTTP reads, which would otherwise make one of their own.
    socket.non_blocking(true, ignored);
    auto accepted = open_connection(socket);
    if (!accepted) continue;  // the client is gone already
    if (options.tls && role != http::listener_role::admin) {
      spawn_logged(ioc, serve_tls(std::move(socket), std::move(*accepted), role), "TLS session");
    } else {
      spawn_logged(ioc, serve_http(std::move(socket), std::move(*accepted), role), "HTTP session");
    }
  }
}

// ---- TLS ----

asio::awaitable<void> server::impl::serve_tls(socket_type socket, accepted_peer accepted, http::listener_role role) {
  auto self = shared_from_this();
  // The handshake is most of what a TLS connection costs (a signature and a key exchange), so
  // CONNECT_LIMIT and ADDRESS_CONNECTIONS count the client before it, as they count a plain
  // client before its request. Over a limit the connection closes unanswered: a 429 would
  // need the very handshake the limit is there to save. A trusted proxy's client is admitted
  // by serve_http once its X-Forwarded-For is read.
  if (!is_trusted(accepted.address, options.trusted_proxies)) {
    if (auto refused = gate->admit_http(accepted.ticket, accepted.address, std::chrono::steady_clock::now())) {
      note_refusal(*refused, accepted.id, accepted.address);
      co_return;
    }
  }
  auto tls = co_await accept_tls(std::move(socket), options.tls->current(),
                                 tls_bridge_timeouts{options.http_header_timeout, options.idle_timeout});
  if (tls.plain) {
    co_await serve_http(std::move(*tls.plain), std::move(accepted), role);
    co_return;
  }
  const auto address = address_text(accepted.address);
  const auto fields = log::connection(accepted.id, address);
  switch (tls.failure) {
    case tls_failure::timed_out:
      // A client that never finishes its handshake holds a socket as a slow request does.
      metrics::server_metrics::add(metrics.http_timeouts);
      if (may_warn("HTTP_HEADER_TIMEOUT " + address)) {
        log::write(spdlog::level::warn, fields,
                   "rate-limited: HTTP_HEADER_TIMEOUT cut off a TLS handshake (logged once a minute per address)");
      }
      break;
    case tls_failure::no_descriptors:
      if (may_warn("TLS descriptors")) {
        log::write(spdlog::level::warn, fields,
                   "TLS connection dropped: no socketpair for its bridge: {} (logged once a minute)", tls.reason);
      }
      break;
    default:
      // Scanners, clients that do not trust the certificate, plain HTTP (answered 400): worth
      // seeing when a certificate is wrong, not worth a line per connection.
      if (may_warn("TLS handshake " + address)) {
        log::write(spdlog::level::info, fields, "TLS handshake failed: {} (logged once a minute per address)",
                   tls.reason);
      }
      break;
  }
}

// ---- server ----

server::server(asio::io_context& ioc, server_options options, chat::chat_service& chat, http::router& routes,
               metrics::server_metrics& metrics)
    : impl_(std::make_shared<impl>(ioc, std::move(options), chat, routes, metrics)) {}

server::~server() = default;

tcp::acceptor listen(asio::io_context& ioc, const std::string& address, std::uint16_t port) {
  tcp::acceptor acc(ioc);
  tcp::endpoint ep(asio::ip::make_address(address), port);
  acc.open(ep.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(ep);
  acc.listen(asio::socket_base::max_listen_connections);
  return acc;
}

std::uint16_t server::start(tcp::acceptor listening, std::optional<tcp::acceptor> admin) {
  auto& s = *impl_;
  s.acceptor = std::move(listening);
  if (admin) {
    s.admin_acceptor = std::move(*admin);
    spawn_logged(s.ioc, s.accept_loop(s.acceptor, http::listener_role::main), "accept loop");
    spawn_logged(s.ioc, s.accept_loop(s.admin_acceptor, http::listener_role::admin), "admin accept loop");
  } else {
    spawn_logged(s.ioc, s.accept_loop(s.acceptor, http::listener_role::only), "accept loop");
  }
  return s.acceptor.local_endpoint().port();
}

void server::stop(std::chrono::milliseconds grace, std::function<void()> done) {
  auto s = impl_;
  s->websockets.sessions.begin_stopping(std::chrono::steady_clock::now() + grace);
  // Sessions stop reading at their next frame (read_loop). Those not yet authenticated have
  // nothing in flight and go at once.
  for (const auto& session : s->websockets.sessions.live()) session->server_stopping();
  // `done` runs once, also when the shutdown itself fails, or the process would never exit.
  auto once = std::make_shared<std::function<void()>>(std::move(done));
  auto finished = [s, once] {
    // Until now HTTP was still answered, one request per connection and no upgrade.
    beast::error_code ignored;
    s->acceptor.close(ignored);
    s->admin_acceptor.close(ignored);
    if (auto fn = std::exchange(*once, nullptr)) fn();
  };
  spawn_logged(
      s->ioc,
      [s, finished]() -> asio::awaitable<void> {
        co_await s->drain_sessions();
        finished();
      },
      "shutdown", finished);
}

asio::awaitable<void> server::impl::drain_sessions() {
  auto self = shared_from_this();
  // Sends already taken are stored and answered (DELIVERED, and published to the recipients)
  // before their sessions close; then every session gets 1001 behind its queued frames. The
  // waits sleep until a frame is handled, the store answers the last TEXT or a session ends.
  auto& sessions = websockets.sessions;
  while ((sessions.frames_in_progress() > 0 || chat.texts_in_flight() > 0) && !sessions.deadline_passed()) {
    chat.when_texts_settled([self] { self->websockets.sessions.notify(); });
    co_await sessions.wait_for_change();
  }
  for (const auto& session : sessions.live()) session->go_away();
  while (!sessions.empty() && !sessions.deadline_passed()) co_await sessions.wait_for_change();
}

}  // namespace chatrix::net
