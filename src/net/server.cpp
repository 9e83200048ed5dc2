// Listener, HTTP sessions (Boost.Beast) and WebSocket sessions (RFC 6455 on the raw socket,
// framing in net/ws_frame.hpp) with C++20 coroutines. One I/O thread runs all of it (and the
// chat service), so sessions need no strands.
#include "net/server.hpp"

#include "net/ws_frame.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>

namespace chatrix::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Sockets and timers bound to the io_context's own executor rather than any_io_executor: the
// type-erased executor costs 40 bytes more in every socket, timer and pending operation.
using io_executor = asio::io_context::executor_type;
using socket_type = asio::basic_stream_socket<tcp, io_executor>;
using timer_type = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, io_executor>;
using http_stream = beast::basic_stream<tcp, io_executor>;

namespace {

/// Frames above the configured limit are still read (to answer ERR and carry on) up to this
/// many times the limit; beyond it the connection is failed with 1009 (message too big).
constexpr std::size_t hard_frame_factor = 16;

std::uint64_t random_device_prefix() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) & 0xFFFF'FFFF'0000'0000ULL;
}

/// Where sessions read into before the bytes go to their frame reader (which keeps only
/// what belongs to an incomplete frame). One per I/O thread.
std::array<char, 64 * 1024>& read_scratch() {
  thread_local std::array<char, 64 * 1024> scratch;
  return scratch;
}

/// For operations that stay pending while a connection idles. Asio's default handler
/// allocator recycles freed operation blocks per thread, so a small wait would often inherit
/// the larger block of a finished HTTP read or write and keep it for the connection's life.
template <class Handler>
auto exact_alloc(Handler&& h) {
  return asio::bind_allocator(std::allocator<void>(), std::forward<Handler>(h));
}

}  // namespace

// ---- shared state ----

class ws_session;

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(asio::io_context& ioc, server_options options, chat::chat_service& chat, http::router& routes,
       metrics::server_metrics& metrics)
      : ioc(ioc), options(std::move(options)), chat(chat), routes(routes), metrics(metrics), acceptor(ioc) {}

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve_http(socket_type socket);

  asio::io_context& ioc;
  server_options options;
  chat::chat_service& chat;
  http::router& routes;
  metrics::server_metrics& metrics;
  tcp::acceptor acceptor;
  bool stopping = false;
  std::size_t frames_in_progress = 0;  // chat frames being handled (shutdown waits for them)
  std::uint64_t device_prefix = random_device_prefix();
  std::uint64_t next_device = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<ws_session>> sessions;

  /// The sessions as they are now. go_away() may end a session at once (its reader runs
  /// inline and erases it from `sessions`), so shutdown walks this copy, never the map.
  std::vector<std::shared_ptr<ws_session>> live_sessions() const {
    std::vector<std::shared_ptr<ws_session>> out;
    out.reserve(sessions.size());
    for (const auto& [id, weak] : sessions)
      if (auto session = weak.lock()) out.push_back(std::move(session));
    return out;
  }
};

// ---- WebSocket session ----

/// Represents one authenticated (or authenticating) WebSocket connection: one device.
///
/// RFC 6455 on the raw socket (net/ws_frame.hpp does the framing). Everything written goes
/// through one queue drained by one writer, so control frames never interleave with data
/// and many frames leave in one gathered write. While idle the session holds no buffer: the
/// reader waits for readability and only then allocates, the writer exists only while the
/// queue is not empty.
class ws_session final : public chat::connection, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(socket_type&& socket, server::impl& server, std::uint64_t id)
      : socket_(std::move(socket)),
        server_(server),
        id_(id),
        reader_(server.options.max_frame_bytes * hard_frame_factor),
        timer_(socket_.get_executor()) {}

  /// Bytes the HTTP parser had already read past the upgrade request (a pipelined first frame).
  void feed(std::string_view bytes) { reader_.feed(bytes); }

  /// Starts the session: the auth deadline runs from here.
  void start();

  /// Closes the session with 1001 after the queued frames are written (server shutdown).
  void go_away() {
    // Keeps this session alive through the call if nothing else does.
    const auto parked = std::move(parked_self_);
    if (open_ && !closing_) begin_close(ws::close_code::going_away);
    // Reading stopped for the shutdown; the peer's close must be seen now, and a session
    // that ended meanwhile (idle timeout, reset) must still be detached by its reader.
    if (parked) spawn_reader();
  }
  bool attached() const noexcept { return attached_; }

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
      finish();
      return;
    }
    push(ws::opcode::text, std::move(frame), receipt);
  }

 private:
  struct queued_frame {
    chat::shared_frame payload;
    message_id receipt = 0;
    ws::opcode op = ws::opcode::text;
  };
  enum class phase : std::uint8_t { authenticating, open, closing };

  /// Frames per gathered write: header + payload are two iovecs and Asio hands at most 64 to
  /// one sendmsg, so 32 frames leave in a single system call.
  static constexpr std::size_t max_batch_frames = 32;
  static constexpr std::size_t max_batch_bytes = 256 * 1024;
  /// How long a closing session waits for the peer's close frame (or EOF) before dropping it.
  static constexpr std::chrono::seconds close_wait{5};

  asio::awaitable<void> read_loop();
  asio::awaitable<void> write_loop();

  /// Waits for the socket to become readable outside any coroutine: an idle session holds a
  /// small wait operation instead of coroutine frames (about 900 bytes).
  void wait_readable() {
    socket_.async_wait(tcp::socket::wait_read, exact_alloc([self = shared_from_this()](boost::system::error_code ec) {
                         if (ec || !self->open_) {
                           self->end_reading();
                           return;
                         }
                         self->spawn_reader();
                       }));
  }
  void spawn_reader() {
    asio::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->read_loop(); }, asio::detached);
  }
  /// Reading is over (EOF, error, the peer's close, or finish()).
  void end_reading() {
    if (!reading_) return;
    reading_ = false;
    if (attached_) {
      server_.chat.detach(*this);
      attached_ = false;
    }
    // A close frame still queued (an echo, or ours behind other frames) is written first; the
    // writer or the close_wait timer finishes the connection then.
    if (!(close_queued_ && !close_written_ && open_)) finish();
    server_.sessions.erase(id_);
  }

  asio::awaitable<void> pause() {
    asio::steady_timer t(socket_.get_executor(), std::chrono::milliseconds(1));
    co_await t.async_wait(use_tuple);
  }

  void push(ws::opcode op, chat::shared_frame payload, message_id receipt = 0) {
    queued_bytes_ += payload->size();
    queue_.push_back(queued_frame{std::move(payload), receipt, op});
    if (!writing_) {
      writing_ = true;
      // The writer starts after the handlers already queued, not inline: those are typically
      // the rest of a store batch's completions, and the frames they add leave in the same
      // system call instead of one write each.
      asio::post(socket_.get_executor(), [self = shared_from_this()] {
        asio::co_spawn(self->socket_.get_executor(), [self] { return self->write_loop(); }, asio::detached);
      });
    }
  }

  void push_control(ws::opcode op, std::string payload) {
    push(op, std::make_shared<const std::string>(std::move(payload)));
  }

  /// Queues a close frame behind everything already queued; nothing is sent after it. The
  /// session then waits (close_wait at most) for the peer's close before shutting down.
  void begin_close(std::uint16_t code, std::string_view reason = {}) {
    if (close_queued_ || !open_) return;
    close_queued_ = true;
    closing_ = true;
    phase_ = phase::closing;
    push_control(ws::opcode::close, code == 0 ? std::string() : ws::close_payload(code, reason));
    arm_timer(close_wait);
  }

  /// The close frame went out.
  void on_close_written() {
    close_written_ = true;
    if (peer_closed_ || !reading_) {
      finish();  // the handshake is complete, or nobody listens
    } else if (failed_) {
      // The stream cannot be parsed any more, so the peer's close would go unseen: send FIN
      // now (a client then completes its side at once) and drop what it still sends.
      boost::system::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  /// Ends the connection now: TCP shutdown, no more reads or writes.
  void finish() {
    if (!open_) return;
    open_ = false;
    closing_ = true;
    ++timer_gen_;
    timer_.cancel();
    queued_bytes_ = 0;
    if (!writing_) drop_queue();  // else the writer drops it when its write returns
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  /// One timer per session, for whatever the phase needs: the auth deadline, keep-alive pings
  /// and the idle cut-off, or the wait for the peer's close.
  void arm_timer(std::chrono::steady_clock::duration after) {
    const auto gen = ++timer_gen_;
    timer_.expires_after(after);
    timer_.async_wait(exact_alloc([weak = weak_from_this(), gen](boost::system::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      // A handler already queued when the timer was re-armed must not act on the new phase.
      if (self && gen == self->timer_gen_) self->on_timer();
    }));
  }

  /// Half the idle timeout, in milliseconds: in whole seconds, 1 s would become 0.
  std::chrono::milliseconds keepalive_tick() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(server_.options.idle_timeout) / 2;
  }

  void on_timer() {
    switch (phase_) {
      case phase::authenticating:
        metrics::server_metrics::add(server_.metrics.auth_failures);
        begin_close(ws::close_code::policy_violation, "authentication timeout");
        return;
      case phase::open:
        // Ping at half the idle timeout; a second silent half closes the connection.
        if (rx_seen_) {
          rx_seen_ = false;
          ping_sent_ = false;
        } else if (!ping_sent_) {
          ping_sent_ = true;
          push_control(ws::opcode::ping, {});
        } else {
          // A close frame rather than a bare TCP close, so a client that is alive after all
          // learns why (1001) instead of seeing 1006; a dead one is dropped after close_wait.
          spdlog::debug("user {} device {:x}: idle timeout", user_.id, id_);
          begin_close(ws::close_code::going_away, "idle timeout");
          return;
        }
        arm_timer(keepalive_tick());
        return;
      case phase::closing:
        finish();
        return;
    }
  }

  socket_type socket_;
  server::impl& server_;
  std::uint64_t id_;
  user user_;
  ws::frame_reader reader_;
  timer_type timer_;
  std::uint32_t timer_gen_ = 0;
  phase phase_ = phase::authenticating;
  bool explicit_acks_ = false;
  bool open_ = true;
  bool closing_ = false;       // no more chat frames are taken
  bool close_queued_ = false;  // our close frame is queued (or written)
  bool close_written_ = false;
  bool peer_closed_ = false;  // the peer's close frame arrived
  bool failed_ = false;       // a protocol error: the rest of the stream is not parsed
  bool reading_ = true;
  bool writing_ = false;
  bool attached_ = false;
  // Set while reading is stopped for the shutdown (until go_away()): with no read loop and
  // perhaps no write pending, nothing else would own the session.
  std::shared_ptr<ws_session> parked_self_;
  bool rx_seen_ = false;  // bytes arrived since the last keep-alive tick
  bool ping_sent_ = false;
  // A vector consumed from queue_head_ rather than a std::deque: an idle connection then
  // holds no queue memory at all (a deque allocates a 512-byte block up front).
  std::vector<queued_frame> queue_;
  std::size_t queue_head_ = 0;
  std::size_t queued_bytes_ = 0;

  bool queue_empty() const noexcept { return queue_head_ == queue_.size(); }
  void drop_queue() {
    std::vector<queued_frame>().swap(queue_);
    queue_head_ = 0;
    queued_bytes_ = 0;
  }
};

void ws_session::start() {
  metrics::server_metrics::add(server_.metrics.connections_total);
  // The accept loop made the socket non-blocking: reads are attempted only when it is
  // readable or just was, and must never block.
  arm_timer(server_.options.auth_timeout);
  if (reader_.buffered() > 0) {
    spawn_reader();  // the token frame came with the upgrade request
  } else {
    wait_readable();
  }
}

/// Runs while there is something to read or process, then hands over to wait_readable().
asio::awaitable<void> ws_session::read_loop() {
  const auto limit = server_.options.max_frame_bytes;
  bool may_have_more = true;  // the socket was reported readable (or data came with the upgrade)
  boost::system::error_code ec;
  while (open_) {
    // A client whose own replies pile up (it sends faster than it reads, or has many TEXTs
    // awaiting storage) is not read from until they drain: TCP slows it down. Only events
    // it did not ask for can push its queue over the limit (the slow-consumer cut-off).
    while (attached_ && open_ && !close_queued_ && !server_.stopping &&
           (queued_bytes_ > server_.options.send_queue_bytes / 2 || !server_.chat.may_read(*this)))
      co_await pause();
    if (!open_) break;
    if (server_.stopping && attached_ && !close_queued_) {
      // Shutting down: no new frame is taken, so that the sends already taken can be stored
      // and acknowledged before the session is closed (server::stop, then go_away()).
      parked_self_ = shared_from_this();
      co_return;
    }

    const ws::event ev = reader_.next();
    if (ev.kind == ws::event_kind::none || (ev.kind == ws::event_kind::error && close_queued_)) {
      // A failed stream is not parsed any more; its bytes are read and dropped until the peer
      // closes or close_wait passes.
      if (ev.kind == ws::event_kind::error) reader_.clear();
      if (may_have_more) {
        // One recv per wake-up: a read that did not fill the scratch buffer drained the
        // socket, and bytes arriving later are reported by the next readiness event (this
        // thread polls for it only after the wait below is queued). Measuring the socket
        // first (FIONREAD) cost a system call more per read and another to find it empty.
        auto& scratch = read_scratch();
        const std::size_t n = socket_.read_some(asio::buffer(scratch), ec);
        if (!ec) {
          reader_.feed(std::string_view(scratch.data(), n));
          rx_seen_ = true;
          may_have_more = n == scratch.size();
          continue;
        }
        if (ec != asio::error::would_block && ec != asio::error::try_again) break;  // EOF or reset
      }
      // Idle connections keep no read buffer (it exists only while a frame is incomplete)
      // and no coroutine: the wait's handler starts a new read loop.
      reader_.release();
      wait_readable();
      co_return;
    }

    switch (ev.kind) {
      case ws::event_kind::ping:
        if (!close_queued_) push_control(ws::opcode::pong, std::string(ev.payload));
        continue;
      case ws::event_kind::pong:
        continue;
      case ws::event_kind::close:
        peer_closed_ = true;
        if (close_written_) {
          finish();
        } else if (!close_queued_) {
          // Echo the code (RFC 6455 5.5.1) after whatever is queued; finish once it is written.
          begin_close(ev.code == ws::close_code::no_status ? 0 : ev.code);
        }
        break;
      case ws::event_kind::error:
        spdlog::debug("device {:x}: failing the WebSocket: {}", id_, ev.payload);
        if (phase_ == phase::authenticating) metrics::server_metrics::add(server_.metrics.auth_failures);
        failed_ = true;
        begin_close(ev.code, ev.payload);
        continue;
      default:
        break;
    }
    if (ev.kind == ws::event_kind::close) break;
    if (close_queued_) continue;  // data after our close is read and ignored

    if (phase_ == phase::authenticating) {
      // The first message carries the token; the payload stays valid while it is checked,
      // since nothing else touches the reader meanwhile.
      auto who = co_await server_.chat.authenticate(ev.payload, &explicit_acks_);
      if (close_queued_ || !open_) continue;  // the deadline passed meanwhile
      if (!who) {
        metrics::server_metrics::add(server_.metrics.auth_failures);
        push(ws::opcode::text, std::make_shared<const std::string>(protocol::encode_error(who.error(), -1)));
        // 1008 tells a client its token is bad (old clients drop it); an outage is not that.
        begin_close(who.error().code == errc::unavailable ? ws::close_code::try_again_later
                                                          : ws::close_code::policy_violation);
        continue;
      }
      user_ = std::move(*who);
      phase_ = phase::open;
      rx_seen_ = true;
      arm_timer(keepalive_tick());
      attached_ = true;
      co_await server_.chat.attach(*this);
      continue;
    }

    if (ev.kind == ws::event_kind::binary) {
      server_.chat.refuse_frame(*this, make_error(errc::invalid_field, "binary frames are not supported; send JSON text"));
    } else if (ev.payload.size() > limit) {
      server_.chat.refuse_frame(*this, make_error(errc::frame_too_large, "the frame is " +
                                                                             std::to_string(ev.payload.size()) +
                                                                             " bytes; the limit is " +
                                                                             std::to_string(limit)));
    } else {
      struct in_progress {
        std::size_t& n;
        explicit in_progress(std::size_t& count) : n(++count) {}
        ~in_progress() { --n; }
      } counted(server_.frames_in_progress);
      co_await server_.chat.handle_frame(*this, ev.payload);
    }
  }
  end_reading();
}

asio::awaitable<void> ws_session::write_loop() {
  // Per batch: one header per frame here, the payloads are the shared frames themselves.
  std::array<std::array<std::uint8_t, ws::max_header_bytes>, max_batch_frames> headers;
  std::array<asio::const_buffer, 2 * max_batch_frames> buffers;
  while (open_ && !queue_empty()) {
    std::size_t frames = 0;
    std::size_t nbuf = 0;
    std::size_t bytes = 0;
    for (std::size_t i = queue_head_; i < queue_.size() && frames < max_batch_frames && bytes < max_batch_bytes; ++i) {
      const auto& q = queue_[i];
      const auto h = ws::encode_header(headers[frames].data(), q.op, q.payload->size());
      buffers[nbuf++] = asio::buffer(headers[frames].data(), h);
      if (!q.payload->empty()) buffers[nbuf++] = asio::buffer(*q.payload);
      bytes += h + q.payload->size();
      ++frames;
      if (q.op == ws::opcode::close) break;  // nothing follows a close frame
    }
    // The payloads stay alive in queue_ meanwhile (a push may move the shared_ptrs, never the
    // strings they own); only the writer pops.
    auto [ec, n] = co_await asio::async_write(socket_, std::span<const asio::const_buffer>(buffers.data(), nbuf),
                                              use_tuple);
    if (!open_) break;  // finished meanwhile; the queue is dropped below
    if (ec) {
      finish();
      break;
    }
    // Receipts in queue order. on_written may queue more frames (or cut this session off),
    // so the queue is indexed afresh each time.
    for (std::size_t k = 0; k < frames && open_; ++k) {
      auto& q = queue_[queue_head_];
      const auto receipt = q.receipt;
      const auto op = q.op;
      queued_bytes_ -= q.payload->size();
      q.payload.reset();
      ++queue_head_;
      if (op == ws::opcode::close) on_close_written();
      if (receipt != 0 && attached_) server_.chat.on_written(*this, receipt);
    }
    if (queue_head_ >= 64 && queue_head_ * 2 >= queue_.size()) {
      // Under a steady stream the queue never empties; drop the written prefix now and then.
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
      queue_head_ = 0;
    }
  }
  if (!open_ || queue_empty()) drop_queue();
  writing_ = false;
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
      if (stopping) break;
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
      auto session = std::make_shared<ws_session>(stream.release_socket(), *this, id);
      // Bytes after the request (a client that sent its token frame right away) are the
      // WebSocket's, not HTTP's.
      const auto rest = buffer.cdata();
      if (rest.size() > 0) session->feed(std::string_view(static_cast<const char*>(rest.data()), rest.size()));
      sessions.emplace(id, session);
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
    auto [ec, socket] = co_await acceptor.async_accept(ioc.get_executor(), use_tuple);
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
    // The WebSocket session reads without blocking (ws_session::read_loop); set here, the
    // one ioctl also serves the HTTP reads, which would otherwise make one of their own.
    socket.non_blocking(true, ignored);
    asio::co_spawn(ioc, serve_http(std::move(socket)), asio::detached);
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

std::uint16_t server::start() { return start(listen(impl_->ioc, impl_->options.address, impl_->options.port)); }

std::uint16_t server::start(tcp::acceptor listening) {
  auto& acc = impl_->acceptor;
  acc = std::move(listening);
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  return acc.local_endpoint().port();
}

void server::stop(std::chrono::milliseconds grace, std::function<void()> done) {
  auto s = impl_;
  s->stopping = true;
  beast::error_code ignored;
  s->acceptor.close(ignored);
  // Sessions stop reading at their next frame (read_loop). Those not yet authenticated have
  // nothing in flight and go at once.
  for (const auto& session : s->live_sessions())
    if (!session->attached()) session->go_away();
  asio::co_spawn(
      s->ioc,
      [s, grace, done = std::move(done)]() -> asio::awaitable<void> {
        asio::steady_timer tick(s->ioc);
        const auto until = std::chrono::steady_clock::now() + grace;
        // Sends already taken are stored and answered (DELIVERED, and published to the
        // recipients) before their sessions close; then every session gets 1001 behind its
        // queued frames.
        while ((s->frames_in_progress > 0 || s->chat.texts_in_flight() > 0) && std::chrono::steady_clock::now() < until) {
          tick.expires_after(std::chrono::milliseconds(20));
          co_await tick.async_wait(use_tuple);
        }
        for (const auto& session : s->live_sessions()) session->go_away();
        while (!s->sessions.empty() && std::chrono::steady_clock::now() < until) {
          tick.expires_after(std::chrono::milliseconds(20));
          co_await tick.async_wait(use_tuple);
        }
        done();
      },
      asio::detached);
}

}  // namespace chatrix::net
