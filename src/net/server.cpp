// Listener, HTTP sessions and WebSocket sessions on Boost.Beast with C++20 coroutines.
// One I/O thread runs all of it (and the chat service), so sessions need no strands.
#include "net/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <random>
#include <unordered_map>

namespace chatrix::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

/// Frames above the configured limit are still read (to answer ERR and carry on) up to this
/// many times the limit; beyond it the connection is failed with 1009 (message too big).
constexpr std::size_t hard_frame_factor = 16;

std::uint64_t random_device_prefix() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) & 0xFFFF'FFFF'0000'0000ULL;
}

}  // namespace

// ---- shared state ----

class ws_session;

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(asio::io_context& ioc, server_options options, chat::chat_service& chat, http::router& routes,
       metrics::server_metrics& metrics)
      : ioc(ioc), options(std::move(options)), chat(chat), routes(routes), metrics(metrics), acceptor(ioc) {}

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve_http(tcp::socket socket);

  asio::io_context& ioc;
  server_options options;
  chat::chat_service& chat;
  http::router& routes;
  metrics::server_metrics& metrics;
  tcp::acceptor acceptor;
  bool stopping = false;
  std::uint64_t device_prefix = random_device_prefix();
  std::uint64_t next_device = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<ws_session>> sessions;
};

// ---- WebSocket session ----

/// Represents one authenticated (or authenticating) WebSocket connection: one device.
class ws_session final : public chat::connection, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(beast::tcp_stream&& stream, server::impl& server, std::uint64_t id)
      : ws_(std::move(stream)), server_(server), id_(id) {}

  asio::awaitable<void> run(bhttp::request<bhttp::string_body> req);

  /// Closes the session with 1001 after the queued frames are written (server shutdown).
  void go_away() {
    if (!open_ || closing_) return;
    closing_ = true;
    if (!writing_) start_close(websocket::close_code::going_away);
  }

  // ---- chat::connection ----
  std::uint64_t device_id() const noexcept override { return id_; }
  const user& account() const noexcept override { return user_; }
  bool explicit_acks() const noexcept override { return explicit_acks_; }
  bool is_open() const noexcept override { return open_; }
  std::size_t queued_bytes() const noexcept override { return queued_bytes_; }

  void send(chat::shared_frame frame, message_id receipt) override {
    if (!open_ || closing_) return;
    // An empty queue always takes one frame, so a single large reply cannot trip the limit.
    if (queued_bytes_ > 0 && queued_bytes_ + frame->size() > server_.options.send_queue_bytes) {
      // A client that does not read must not make the server hold an ever-growing queue
      // (Redis's output-buffer limit, translated). Cutting it off loses nothing: frames not
      // written carry no receipt, so their messages stay pending for the next connection.
      metrics::server_metrics::add(server_.metrics.slow_consumer_disconnects);
      spdlog::info("user {} device {:x}: disconnected, {} bytes queued and not read", user_.id, id_, queued_bytes_);
      cut_off();
      return;
    }
    queued_bytes_ += frame->size();
    queue_.push_back(queued_frame{std::move(frame), receipt});
    if (!writing_) {
      writing_ = true;
      asio::co_spawn(ws_.get_executor(), [self = shared_from_this()] { return self->write_loop(); }, asio::detached);
    }
  }

 private:
  struct queued_frame {
    chat::shared_frame frame;
    message_id receipt = 0;
  };

  asio::awaitable<bool> authenticate();
  asio::awaitable<void> read_loop();
  asio::awaitable<void> write_loop();

  void start_close(websocket::close_code code) {
    asio::co_spawn(
        ws_.get_executor(),
        [self = shared_from_this(), code]() -> asio::awaitable<void> {
          co_await self->ws_.async_close(code, use_tuple);
        },
        asio::detached);
  }

  void cut_off() {
    open_ = false;
    drop_queue();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  websocket::stream<beast::tcp_stream> ws_;
  server::impl& server_;
  std::uint64_t id_;
  user user_;
  bool explicit_acks_ = false;
  bool open_ = true;
  bool closing_ = false;
  bool writing_ = false;
  bool attached_ = false;
  // A vector consumed from queue_head_ rather than a std::deque: an idle connection then
  // holds no queue memory at all (a deque allocates a 512-byte block up front).
  std::vector<queued_frame> queue_;
  std::size_t queue_head_ = 0;
  std::size_t queued_bytes_ = 0;
  beast::flat_buffer buffer_;

  bool queue_empty() const noexcept { return queue_head_ == queue_.size(); }
  void drop_queue() {
    std::vector<queued_frame>().swap(queue_);
    queue_head_ = 0;
    queued_bytes_ = 0;
  }
};

asio::awaitable<void> ws_session::run(bhttp::request<bhttp::string_body> req) {
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = server_.options.auth_timeout;
  timeouts.idle_timeout = server_.options.idle_timeout;
  timeouts.keep_alive_pings = true;  // ping at half the idle timeout; silence past it closes
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(bhttp::field::server, "chatrix"); }));
  ws_.read_message_max(server_.options.max_frame_bytes * hard_frame_factor);
  ws_.auto_fragment(false);
  ws_.text(true);

  auto [ec] = co_await ws_.async_accept(req, use_tuple);
  req = {};  // the upgrade request's headers are not needed for the session's lifetime
  if (ec) {
    server_.sessions.erase(id_);
    co_return;
  }
  metrics::server_metrics::add(server_.metrics.connections_total);

  if (co_await authenticate()) {
    attached_ = true;
    co_await server_.chat.attach(*this);
    if (closing_ && !writing_) start_close(websocket::close_code::going_away);
    co_await read_loop();
    server_.chat.detach(*this);
    attached_ = false;
  }
  open_ = false;
  server_.sessions.erase(id_);
}

asio::awaitable<bool> ws_session::authenticate() {
  // The first frame must arrive before the deadline; a silent socket is closed with 1008.
  asio::steady_timer deadline(ws_.get_executor(), server_.options.auth_timeout);
  bool timed_out = false;
  deadline.async_wait([this, &timed_out, weak = weak_from_this()](beast::error_code e) {
    if (e || weak.expired()) return;
    timed_out = true;
    start_close(websocket::close_code::policy_error);
  });
  auto [ec, n] = co_await ws_.async_read(buffer_, use_tuple);
  deadline.cancel();
  if (ec || timed_out) {
    metrics::server_metrics::add(server_.metrics.auth_failures);
    co_return false;
  }
  std::string first = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  auto who = co_await server_.chat.authenticate(first, &explicit_acks_);
  if (!who) {
    metrics::server_metrics::add(server_.metrics.auth_failures);
    auto frame = protocol::encode_error(who.error(), -1);
    co_await ws_.async_write(asio::buffer(frame), use_tuple);
    co_await ws_.async_close(websocket::close_code::policy_error, use_tuple);
    co_return false;
  }
  user_ = std::move(*who);
  co_return true;
}

asio::awaitable<void> ws_session::read_loop() {
  const auto limit = server_.options.max_frame_bytes;
  asio::steady_timer backpressure(ws_.get_executor());
  for (;;) {
    // A client whose own replies pile up (it sends faster than it reads, or has many TEXTs
    // awaiting storage) is not read from until they drain: TCP slows it down. Only events
    // it did not ask for can push its queue over the limit (the slow-consumer cut-off).
    while (open_ && (queued_bytes_ > server_.options.send_queue_bytes / 2 || !server_.chat.may_read(*this))) {
      backpressure.expires_after(std::chrono::milliseconds(1));
      co_await backpressure.async_wait(use_tuple);
    }
    if (!open_) break;
    auto [ec, n] = co_await ws_.async_read(buffer_, use_tuple);
    if (ec) break;
    if (!ws_.got_text()) {
      server_.chat.refuse_frame(*this, make_error(errc::invalid_field, "binary frames are not supported; send JSON text"));
    } else if (n > limit) {
      server_.chat.refuse_frame(*this, make_error(errc::frame_too_large, "the frame is " + std::to_string(n) +
                                                                             " bytes; the limit is " +
                                                                             std::to_string(limit)));
    } else {
      const auto data = buffer_.cdata();
      co_await server_.chat.handle_frame(
          *this, std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    // Idle connections keep no read buffer: it is allocated for each message instead.
    buffer_.consume(buffer_.size());
    buffer_.shrink_to_fit();
  }
  open_ = false;
}

asio::awaitable<void> ws_session::write_loop() {
  while (!queue_empty() && open_) {
    auto frame = std::move(queue_[queue_head_].frame);
    const auto receipt = queue_[queue_head_].receipt;
    ++queue_head_;
    if (queue_head_ >= 64 && queue_head_ * 2 >= queue_.size()) {
      // Under a steady stream the queue never empties; drop the written prefix now and then.
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
      queue_head_ = 0;
    }
    auto [ec, n] = co_await ws_.async_write(asio::buffer(*frame), use_tuple);
    if (!open_) break;  // cut off meanwhile; the queue was dropped
    queued_bytes_ -= frame->size();
    if (ec) {
      open_ = false;
      break;
    }
    if (receipt != 0 && attached_) server_.chat.on_written(*this, receipt);
  }
  if (queue_empty()) drop_queue();
  writing_ = false;
  if (closing_ && open_) start_close(websocket::close_code::going_away);
}

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

}  // namespace

asio::awaitable<void> server::impl::serve_http(tcp::socket socket) {
  auto self = shared_from_this();
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(options.http_timeout);
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(http::max_body_bytes);
    parser.header_limit(16 * 1024);
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    if (ec == bhttp::error::body_limit) {
      auto res = http::error_response(413, errc::frame_too_large,
                                      "the body is larger than " + std::to_string(http::max_body_bytes) + " bytes");
      routes.apply_cors("", res);
      auto out = to_beast(res, 11, false);
      co_await bhttp::async_write(stream, out, use_tuple);
      break;
    }
    if (ec) break;
    auto req = parser.release();
    const std::string target(req.target());

    if (websocket::is_upgrade(req) && http::router::is_websocket_path(target)) {
      if (stopping) break;
      const auto id = device_prefix | next_device++;
      auto session = std::make_shared<ws_session>(std::move(stream), *this, id);
      sessions.emplace(id, session);
      // A coroutine of its own, so that this HTTP session's buffers and frame are released
      // now instead of living as long as the WebSocket.
      asio::co_spawn(
          ioc, [session, req = std::move(req)]() mutable { return session->run(std::move(req)); }, asio::detached);
      co_return;
    }

    http::request r;
    r.method = std::string(req.method_string());
    r.target = target;
    r.body = std::move(req.body());
    if (auto it = req.find(bhttp::field::content_type); it != req.end()) r.content_type = std::string(it->value());
    if (auto it = req.find(bhttp::field::origin); it != req.end()) r.origin = std::string(it->value());
    auto res = co_await routes.handle(r);
    routes.apply_cors(r.origin, res);
    const bool keep_alive = req.keep_alive() && !stopping;
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
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (stopping || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of file descriptors (or a transient network error): wait instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(ioc, serve_http(std::move(socket)), asio::detached);
  }
}

// ---- server ----

server::server(asio::io_context& ioc, server_options options, chat::chat_service& chat, http::router& routes,
               metrics::server_metrics& metrics)
    : impl_(std::make_shared<impl>(ioc, std::move(options), chat, routes, metrics)) {}

server::~server() = default;

std::uint16_t server::start() {
  auto& acc = impl_->acceptor;
  tcp::endpoint ep(asio::ip::make_address(impl_->options.address), impl_->options.port);
  acc.open(ep.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(ep);
  acc.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  return acc.local_endpoint().port();
}

void server::stop(std::chrono::milliseconds grace, std::function<void()> done) {
  auto s = impl_;
  s->stopping = true;
  beast::error_code ignored;
  s->acceptor.close(ignored);
  for (auto& [id, weak] : s->sessions)
    if (auto session = weak.lock()) session->go_away();
  asio::co_spawn(
      s->ioc,
      [s, grace, done = std::move(done)]() -> asio::awaitable<void> {
        asio::steady_timer tick(s->ioc);
        const auto until = std::chrono::steady_clock::now() + grace;
        while (!s->sessions.empty() && std::chrono::steady_clock::now() < until) {
          tick.expires_after(std::chrono::milliseconds(20));
          co_await tick.async_wait(use_tuple);
        }
        done();
      },
      asio::detached);
}

}  // namespace chatrix::net
