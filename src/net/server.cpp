// Listener and HTTP sessions (Boost.Beast) with C++20 coroutines; an upgrade to WebSocket
// hands the socket to a websocket_session. All Beast stream code is in this one translation
// unit: instantiating Beast's operations inside coroutines costs ~20 s per unit on two cores.
#include "net/server.hpp"

#include "core/spawn.hpp"
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
#include <spdlog/spdlog.h>

#include <optional>
#include <random>
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

}  // namespace

// ---- shared state ----

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(asio::io_context& io, server_options settings, chat::chat_service& chat_service, http::router& router,
       metrics::server_metrics& server_metrics)
      : ioc(io),
        options(std::move(settings)),
        chat(chat_service),
        routes(router),
        acceptor(io),
        websockets(io.get_executor(), options, chat_service, server_metrics) {}

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve_http(socket_type socket);
  /// Waits until the sends already taken are stored and answered, closes every session and
  /// waits until they have stopped reading, all before the deadline set in stop().
  asio::awaitable<void> drain_sessions();

  asio::io_context& ioc;
  server_options options;
  chat::chat_service& chat;
  http::router& routes;
  tcp::acceptor acceptor;
  websocket_context websockets;
  std::uint64_t device_prefix = random_device_prefix();
  std::uint64_t next_device = 1;
};

// ---- HTTP ----

namespace {

bhttp::response<bhttp::string_body> to_beast(const http::response& res, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), version};
  out.set(bhttp::field::server, "chatrix");
  if (!res.body.empty() || res.status != 204) out.set(bhttp::field::content_type, res.content_type);
  for (const auto& [k, v] : res.headers) out.set(k, v);
  out.body() = res.body;
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

/// How long, and for how many bytes, a refused request's connection is drained before it closes.
constexpr std::chrono::seconds linger_time{2};
constexpr std::size_t linger_bytes = 1024 * 1024;

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

}  // namespace

asio::awaitable<void> server::impl::serve_http(socket_type socket) {
  auto self = shared_from_this();
  beast::error_code peer_ec;
  const auto peer = socket.remote_endpoint(peer_ec);
  // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d; limits and logs use a.b.c.d.
  const auto peer_ip = peer.address().is_v6() && peer.address().to_v6().is_v4_mapped()
                           ? asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, peer.address().to_v6()))
                           : peer.address();
  const std::string client_address = peer_ec ? std::string() : peer_ip.to_string();
  http_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(options.http_timeout);
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(http::max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(http::max_header_bytes));
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    if (ec) {
      // A request that cannot be served is answered with the reason, then the connection
      // closes: past a parse error there is no telling where a next request would start.
      if (auto refusal = refusal_for(ec)) {
        routes.apply_cors("", *refusal);
        auto out = to_beast(*refusal, 11, false);
        auto [wec, wn] = co_await bhttp::async_write(stream, out, use_tuple);
        if (!wec) {
          // The client may still be sending the rest of the refused request. Closing with
          // unread bytes makes the kernel send RST, which can destroy the answer before the
          // client has read it; so send FIN and drop what arrives until the client closes.
          beast::error_code ignored;
          stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
          stream.expires_after(linger_time);
          for (std::size_t drained = 0; drained < linger_bytes;) {
            buffer.clear();
            auto [rec, rn] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
            if (rec) break;
            drained += rn;
          }
        }
      }
      break;
    }
    auto req = parser.release();
    const std::string target(req.target());

    if (websocket::is_upgrade(req) && http::router::is_websocket_path(target)) {
      if (websockets.sessions.stopping()) break;
      ws::upgrade_request up;
      up.method = req.method_string();
      up.http_version = req.version();
      up.upgrade = req[bhttp::field::upgrade];
      up.connection = req[bhttp::field::connection];
      up.ws_version = req[bhttp::field::sec_websocket_version];
      up.ws_key = req[bhttp::field::sec_websocket_key];
      const auto answer = ws::answer_handshake(up);
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(answer.response), use_tuple);
      if (wec || !answer.accepted) break;
      const auto id = device_prefix | next_device++;
      // Disarm the HTTP timeout first: its pending wait would otherwise keep this stream's
      // state and read operation alive for http_timeout after the socket has moved on.
      stream.expires_never();
      auto session = std::make_shared<websocket_session>(stream.release_socket(), websockets, id);
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

    http::request r;
    r.method = std::string(req.method_string());
    r.target = target;
    r.body = std::move(req.body());
    if (auto it = req.find(bhttp::field::content_type); it != req.end()) r.content_type = std::string(it->value());
    if (auto it = req.find(bhttp::field::origin); it != req.end()) r.origin = std::string(it->value());
    if (auto it = req.find(bhttp::field::authorization); it != req.end()) r.authorization = std::string(it->value());
    r.client_address = client_address;
    auto res = co_await routes.handle(r);
    routes.apply_cors(r.origin, res);
    const bool keep_alive = req.keep_alive() && !websockets.sessions.stopping();
    auto out = to_beast(res, req.version(), keep_alive);
    auto [wec, wn] = co_await bhttp::async_write(stream, out, use_tuple);
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> server::impl::accept_loop() {
  auto self = shared_from_this();
  asio::steady_timer backoff(ioc);
  while (!websockets.sessions.stopping()) {
    auto [ec, socket] = co_await acceptor.async_accept(ioc.get_executor(), use_tuple);
    if (websockets.sessions.stopping() || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of file descriptors (or a transient network error): wait instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // The WebSocket session reads without blocking (websocket_session::read_loop); set here, the
    // one ioctl also serves the HTTP reads, which would otherwise make one of their own.
    socket.non_blocking(true, ignored);
    spawn_logged(ioc, serve_http(std::move(socket)), "HTTP session");
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

std::uint16_t server::start(tcp::acceptor listening) {
  auto& acc = impl_->acceptor;
  acc = std::move(listening);
  spawn_logged(impl_->ioc, impl_->accept_loop(), "accept loop");
  return acc.local_endpoint().port();
}

void server::stop(std::chrono::milliseconds grace, std::function<void()> done) {
  auto s = impl_;
  s->websockets.sessions.begin_stopping(std::chrono::steady_clock::now() + grace);
  beast::error_code ignored;
  s->acceptor.close(ignored);
  // Sessions stop reading at their next frame (read_loop). Those not yet authenticated have
  // nothing in flight and go at once.
  for (const auto& session : s->websockets.sessions.live()) session->server_stopping();
  // `done` runs once, also when the shutdown itself fails, or the process would never exit.
  auto once = std::make_shared<std::function<void()>>(std::move(done));
  auto finished = [once] {
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
