// The WebSocket session: reader, writer, keep-alive and the close handshake. One I/O thread
// runs every session (and the chat service), so sessions need no strands.
#include "net/websocket_session.hpp"

#include "core/log.hpp"
#include "core/spawn.hpp"
#include "net/client_address.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <span>
#include <utility>

namespace chatrix::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// Frames above the configured limit are still read (to answer ERR and carry on) up to this
/// many times the limit; beyond it the connection is failed with 1009 (message too big).
constexpr std::size_t hard_frame_factor = 16;

/// Frames per gathered write: header + payload are two iovecs and Asio hands at most 64 to
/// one sendmsg, so 32 frames leave in a single system call.
constexpr std::size_t max_batch_frames = 32;
constexpr std::size_t max_batch_bytes = 256 * 1024;
/// How long a closing session waits for the peer's close frame (or EOF) before dropping it.
constexpr std::chrono::seconds close_wait{5};

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

websocket_session::websocket_session(socket_type&& socket, websocket_context& context, std::uint64_t id,
                                     admission::ticket admitted)
    : socket_(std::move(socket)),
      context_(context),
      id_(id),
      frame_reader_(context.options.max_frame_bytes * hard_frame_factor),
      timer_(socket_.get_executor()),
      life_(context.metrics),
      admitted_(std::move(admitted)) {}

websocket_session::~websocket_session() { set_queued_bytes(0); }

// ---- metrics ----

websocket_session::counted_lifecycle::counted_lifecycle(metrics::server_metrics& metrics) noexcept
    : metrics_(metrics) {
  counted_in(state())->fetch_add(1, std::memory_order_relaxed);
}

websocket_session::counted_lifecycle::~counted_lifecycle() {
  if (auto* g = counted_in(state())) g->fetch_sub(1, std::memory_order_relaxed);
}

bool websocket_session::counted_lifecycle::advance(ws_state to) noexcept {
  auto* before = counted_in(state());
  if (!ws_lifecycle::advance(to)) return false;
  auto* after = counted_in(to);
  if (before != after) {
    if (before) before->fetch_sub(1, std::memory_order_relaxed);
    if (after) after->fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

metrics::gauge* websocket_session::counted_lifecycle::counted_in(ws_state s) const noexcept {
  switch (s) {
    case ws_state::authenticating:
      return &metrics_.connections_in(metrics::connection_state::authenticating);
    case ws_state::open:
      return &metrics_.connections_in(metrics::connection_state::open);
    case ws_state::closing:
    case ws_state::failing:
    case ws_state::flushing:
    case ws_state::close_sent:
      return &metrics_.connections_in(metrics::connection_state::closing);
    case ws_state::closed:
      return nullptr;
  }
  return nullptr;
}

void websocket_session::count_error(const error& err) noexcept {
  metrics::server_metrics::add(context_.metrics.errors_sent);
  context_.metrics.error_sent(err.code);
}

void websocket_session::set_queued_bytes(std::size_t bytes) noexcept {
  // One relaxed add on the I/O thread per queued and per written frame.
  context_.metrics.socket_queued_bytes.fetch_add(static_cast<std::int64_t>(bytes) - static_cast<std::int64_t>(queued_bytes_),
                                                 std::memory_order_relaxed);
  queued_bytes_ = bytes;
}

std::string websocket_session::client_address() const {
  return admitted_.address() ? address_text(*admitted_.address()) : std::string();
}

std::array<log::field, 2> websocket_session::log_fields() const { return log::connection(id_, client_address()); }

void websocket_session::start() {
  metrics::server_metrics::add(context_.metrics.connections_total);
  // The accept loop made the socket non-blocking: reads are attempted only when it is
  // readable or just was, and must never block.
  arm_timer(context_.options.auth_timeout);
  if (frame_reader_.buffered() > 0) {
    spawn_reader();  // the token frame came with the upgrade request
  } else {
    wait_readable();
  }
}

// ---- shutdown ----

void websocket_session::server_stopping() {
  if (!attached_) {
    go_away();
    return;
  }
  // A reader held for flow must hold for the shutdown instead (its next frame is not taken).
  resume_reader_if_unblocked();
}

void websocket_session::go_away() {
  // Keeps this session alive through the call if nothing else does.
  const auto self = shared_from_this();
  const bool parked = reader_ == reader_state::held_for_shutdown;
  if (parked) {
    reader_ = reader_state::active;
    held_reader_.reset();
  }
  begin_close(ws::close_code::going_away);
  // Reading stopped for the shutdown; the peer's close must be seen now, and a session
  // that ended meanwhile (idle timeout, reset) must still be detached by its reader.
  if (parked) spawn_reader();
}

void websocket_session::close_for_error() { begin_close(ws::close_code::internal_error); }

void websocket_session::end_session(const error& reason) {
  if (!life_.accepts_frames()) return;
  count_error(reason);
  push(ws::opcode::text, std::make_shared<const std::string>(protocol::encode_error(reason)));
  // The close reason is at most 123 bytes (RFC 6455 5.5); the ERR frame carries the whole story.
  begin_close(ws::close_code::policy_violation, std::string(code_name(reason.code)));
}

// ---- chat::connection ----

void websocket_session::send(chat::shared_frame frame, message_id receipt) {
  if (!life_.accepts_frames()) return;
  // An empty queue always takes one frame, so a single large reply cannot trip the limit.
  if (queued_bytes_ > 0 && queued_bytes_ + frame->size() > context_.options.send_queue_bytes) {
    // A client that does not read must not make the server hold an ever-growing queue
    // (Redis's output-buffer limit, translated). Cutting it off loses nothing: frames not
    // written carry no receipt, so their messages stay pending for the next connection.
    metrics::server_metrics::add(context_.metrics.slow_consumer_disconnects);
    log::write(spdlog::level::info, log_fields(), "user {}: disconnected, {} bytes queued and not read", user_.id,
               queued_bytes_);
    finish();
    return;
  }
  push(ws::opcode::text, std::move(frame), receipt);
}

void websocket_session::when_queue_at_most(std::size_t bytes, std::function<void()> ready) {
  if (!life_.is_open() || queued_bytes_ <= bytes) {
    ready();
    return;
  }
  drain_waiters_.push_back(drain_waiter{bytes, std::move(ready)});
}

void websocket_session::release_drain_waiters(bool all) {
  if (drain_waiters_.empty()) return;
  // Moved out first: a waiter may register again from inside ready(), and the vector's
  // memory is not kept while nobody waits.
  auto waiters = std::move(drain_waiters_);
  drain_waiters_.clear();
  for (auto& w : waiters) {
    if (all || queued_bytes_ <= w.at_most) {
      w.ready();
    } else {
      drain_waiters_.push_back(std::move(w));
    }
  }
}

// ---- reader ----

/// Waits for the socket to become readable outside any coroutine: an idle session holds a
/// small wait operation instead of coroutine frames (about 900 bytes).
void websocket_session::wait_readable() {
  socket_.async_wait(tcp::socket::wait_read, exact_alloc([self = shared_from_this()](boost::system::error_code ec) {
                       if (ec || !self->life_.is_open()) {
                         self->end_reading();
                         return;
                       }
                       self->spawn_reader();
                     }));
}

void websocket_session::spawn_reader() {
  auto self = shared_from_this();
  spawn_logged(
      socket_.get_executor(), [self] { return self->read_loop(); }, "websocket reader",
      [self] { self->abandon(/*writer_failed=*/false); });
}

void websocket_session::hold_reader(reader_state why) {
  reader_ = why;
  held_reader_ = shared_from_this();
}

void websocket_session::resume_reader() {
  reader_ = reader_state::active;
  asio::post(socket_.get_executor(), [self = std::move(held_reader_)] { self->spawn_reader(); });
}

void websocket_session::resume_reader_if_unblocked() {
  if (reader_ != reader_state::held_for_flow) return;
  if (life_.accepts_frames() && !context_.sessions.stopping() && flow_blocked()) return;
  resume_reader();
}

bool websocket_session::flow_blocked() const {
  return queued_bytes_ > context_.options.send_queue_bytes / 2 || !context_.chat.may_read(*this);
}

void websocket_session::end_reading() {
  if (reader_ == reader_state::ended) return;
  reader_ = reader_state::ended;
  held_reader_.reset();
  if (attached_) {
    attached_ = false;
    context_.chat.detach(*this);
  }
  // A close frame still queued (an echo, or ours behind other frames) is written first; the
  // writer or the close_wait timer finishes the connection then.
  if (!life_.advance(ws_state::flushing)) finish();
  context_.sessions.remove(id_);
}

void websocket_session::abandon(bool writer_failed) {
  log::write(spdlog::level::warn, log_fields(), "user {}: connection dropped after its {} failed", user_.id,
             writer_failed ? "writer" : "reader");
  // A writer that threw has no write pending: its queue can go now.
  if (writer_failed) writing_ = false;
  finish();
  // Whatever the reader is doing, the chat service and the registry let go of the session now;
  // a reader still waiting finds reading ended.
  end_reading();
}

/// Runs while there is something to read or process, then hands over to wait_readable().
asio::awaitable<void> websocket_session::read_loop() {
  const auto limit = context_.options.max_frame_bytes;
  bool may_have_more = true;  // the socket was reported readable (or data came with the upgrade)
  bool read_before = false;   // this wake-up has read already
  boost::system::error_code ec;
  while (life_.is_open()) {
    if (life_.state() == ws_state::open && context_.sessions.stopping()) {
      // Shutting down: no new frame is taken, so that the sends already taken can be stored
      // and acknowledged before the session is closed (server::stop, then go_away()).
      hold_reader(reader_state::held_for_shutdown);
      co_return;
    }
    if (life_.accepts_frames() && flow_blocked()) {
      // A client whose own replies pile up (it sends faster than it reads, or has many TEXTs
      // awaiting storage) is not read from until they drain: TCP slows it down. Only events
      // it did not ask for can push its queue over the limit (the slow-consumer cut-off).
      // Authenticating sessions too: their replies (pongs, the ERR) are bounded already, and
      // this keeps them so whatever answers are added later. A closing session answers
      // nothing, so it reads on for the peer's close.
      hold_reader(reader_state::held_for_flow);
      co_return;
    }

    const ws::event ev = frame_reader_.next();
    if (ev.kind == ws::event_kind::none || (ev.kind == ws::event_kind::error && life_.closing())) {
      // A failed stream is not parsed any more; its bytes are read and dropped until the peer
      // closes or close_wait passes.
      if (ev.kind == ws::event_kind::error) frame_reader_.clear();
      if (may_have_more) {
        if (std::exchange(read_before, true)) {
          // The last read filled the scratch buffer: the other sessions' handlers run before
          // the next one, so that a client writing as fast as it can (a ping flood) does not
          // keep the I/O thread to itself. It costs one handler per 64 KiB read.
          co_await asio::post(socket_.get_executor(), asio::use_awaitable);
          if (!life_.is_open()) break;
        }
        // One recv per wake-up: a read that did not fill the scratch buffer drained the
        // socket, and bytes arriving later are reported by the next readiness event (this
        // thread polls for it only after the wait below is queued). Measuring the socket
        // first (FIONREAD) cost a system call more per read and another to find it empty.
        auto& scratch = read_scratch();
        const std::size_t n = socket_.read_some(asio::buffer(scratch), ec);
        if (!ec) {
          frame_reader_.feed(std::string_view(scratch.data(), n));
          rx_seen_ = true;
          may_have_more = n == scratch.size();
          continue;
        }
        if (ec != asio::error::would_block && ec != asio::error::try_again) break;  // EOF or reset
      }
      // Idle connections keep no read buffer (it exists only while a frame is incomplete)
      // and no coroutine: the wait's handler starts a new read loop.
      frame_reader_.release();
      wait_readable();
      co_return;
    }

    switch (ev.kind) {
      case ws::event_kind::ping:
        if (admit_control_frame() && life_.accepts_frames()) answer_ping(ev.payload);
        continue;
      case ws::event_kind::pong:
        admit_control_frame();  // nothing to answer, but it counts before authentication
        continue;
      case ws::event_kind::close:
        if (life_.state() == ws_state::close_sent) {
          finish();
        } else {
          // Echo the code (RFC 6455 5.5.1) after whatever is queued, unless our own close is
          // queued already; the connection finishes once it is written.
          begin_close(ev.code == ws::close_code::no_status ? 0 : ev.code);
        }
        break;
      case ws::event_kind::error:
        log::write(spdlog::level::debug, log_fields(), "failing the WebSocket: {}", ev.payload);
        if (life_.state() == ws_state::authenticating) metrics::server_metrics::add(context_.metrics.auth_failures);
        begin_close(ev.code, ev.payload, /*protocol_error=*/true);
        continue;
      default:
        break;
    }
    if (ev.kind == ws::event_kind::close) break;
    if (!life_.accepts_frames()) continue;  // data after our close is read and ignored

    if (life_.state() == ws_state::authenticating) {
      // The first message carries the token; the payload stays valid while it is checked,
      // since nothing else touches the reader meanwhile.
      auto who = co_await context_.chat.authenticate(ev.payload, &explicit_acks_);
      if (life_.state() != ws_state::authenticating) continue;  // the deadline passed meanwhile
      if (!who) {
        metrics::server_metrics::add(context_.metrics.auth_failures);
        count_error(who.error());
        push(ws::opcode::text, std::make_shared<const std::string>(protocol::encode_error(who.error(), -1)));
        // 1008 tells a client its token is bad (old clients drop it); an outage is not that.
        begin_close(who.error().code == errc::unavailable ? ws::close_code::try_again_later
                                                          : ws::close_code::policy_violation);
        continue;
      }
      user_ = std::move(who->account);
      // The chat service keeps the token and ends the session when it expires or is revoked.
      auto token = std::move(who->token);
      life_.advance(ws_state::open);
      admitted_.authenticated();
      rx_seen_ = true;
      arm_timer(keepalive_tick());
      attached_ = true;
      co_await context_.chat.attach(*this, std::move(token), who->since);
      continue;
    }

    if (ev.kind == ws::event_kind::binary) {
      context_.chat.refuse_frame(*this, make_error(errc::invalid_field, "binary frames are not supported; send JSON text"));
    } else if (ev.payload.size() > limit) {
      context_.chat.refuse_frame(*this, make_error(errc::frame_too_large, "the frame is " +
                                                                              std::to_string(ev.payload.size()) +
                                                                              " bytes; the limit is " +
                                                                              std::to_string(limit)));
    } else {
      const session_registry::frame_in_progress counted(context_.sessions);
      co_await context_.chat.handle_frame(*this, ev.payload);
    }
  }
  end_reading();
}

// ---- writer ----

void websocket_session::push(ws::opcode op, chat::shared_frame payload, message_id receipt) {
  set_queued_bytes(queued_bytes_ + payload->size());
  queue_.push_back(queued_frame{std::move(payload), receipt, op});
  if (!writing_) {
    writing_ = true;
    // The writer starts after the handlers already queued, not inline: those are typically
    // the rest of a store batch's completions, and the frames they add leave in the same
    // system call instead of one write each.
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->spawn_writer(); });
  }
}

void websocket_session::push_control(ws::opcode op, std::string payload) {
  push(op, std::make_shared<const std::string>(std::move(payload)));
}

// ---- control frames from the client ----

bool websocket_session::admit_control_frame() {
  if (life_.state() != ws_state::authenticating) return true;
  const auto limit = context_.options.unauthenticated_pings;
  if (limit == 0 || ++unauthenticated_control_frames_ <= limit) return true;
  // A client that has not said who it is gets a few pings (a keep-alive racing the token is
  // normal), not an unbounded conversation: each one costs a read and a pong.
  metrics::server_metrics::add(context_.metrics.unauthenticated_closed);
  // Counted by the address the edge admitted (X-Forwarded-For's client behind a trusted proxy).
  if (context_.unauthenticated_warnings.take(client_address(), std::chrono::steady_clock::now()).count() == 0) {
    log::write(spdlog::level::warn, log_fields(),
               "closed, more than {} control frames before authentication (UNAUTHENTICATED_PINGS; at most one such "
               "line a minute per address)",
               limit);
  }
  begin_close(ws::close_code::policy_violation, "too many control frames before authentication");
  return false;
}

void websocket_session::answer_ping(std::string_view payload) {
  if (waiting_pong_) {
    set_queued_bytes(queued_bytes_ - waiting_pong_->size() + payload.size());
    waiting_pong_->assign(payload);
    return;
  }
  waiting_pong_ = std::make_shared<std::string>(payload);
  push(ws::opcode::pong, waiting_pong_);
}

void websocket_session::spawn_writer() {
  auto self = shared_from_this();
  spawn_logged(
      socket_.get_executor(), [self] { return self->write_loop(); }, "websocket writer",
      [self] { self->abandon(/*writer_failed=*/true); });
}

asio::awaitable<void> websocket_session::write_loop() {
  // Per batch: one header per frame here, the payloads are the shared frames themselves.
  std::array<std::array<std::uint8_t, ws::max_header_bytes>, max_batch_frames> headers;
  std::array<asio::const_buffer, 2 * max_batch_frames> buffers;
  while (life_.is_open() && !queue_empty()) {
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
      // Its bytes are in this write now: a later ping queues a pong of its own.
      if (q.op == ws::opcode::pong) waiting_pong_.reset();
      if (q.op == ws::opcode::close) break;  // nothing follows a close frame
    }
    // The payloads stay alive in queue_ meanwhile (a push may move the shared_ptrs, never the
    // strings they own); only the writer pops.
    auto [ec, n] = co_await asio::async_write(socket_, std::span<const asio::const_buffer>(buffers.data(), nbuf),
                                              use_tuple);
    if (!life_.is_open()) break;  // finished meanwhile; the queue is dropped below
    if (ec) {
      finish();
      break;
    }
    // Receipts in queue order. on_written may queue more frames (or cut this session off),
    // so the queue is indexed afresh each time.
    for (std::size_t k = 0; k < frames && life_.is_open(); ++k) {
      auto& q = queue_[queue_head_];
      const auto receipt = q.receipt;
      const auto op = q.op;
      set_queued_bytes(queued_bytes_ - q.payload->size());
      q.payload.reset();
      ++queue_head_;
      if (op == ws::opcode::close) on_close_written();
      if (receipt != 0 && attached_) context_.chat.on_written(*this, receipt);
    }
    if (queue_head_ >= 64 && queue_head_ * 2 >= queue_.size()) {
      // Under a steady stream the queue never empties; drop the written prefix now and then.
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
      queue_head_ = 0;
    }
    // The queue shrank: whoever waits for it to drain (the chat service's backlog, a reader
    // held for flow) goes on when it is far enough.
    release_drain_waiters(/*all=*/false);
    resume_reader_if_unblocked();
  }
  if (!life_.is_open() || queue_empty()) drop_queue();
  writing_ = false;
}

void websocket_session::drop_queue() {
  waiting_pong_.reset();
  std::vector<queued_frame>().swap(queue_);
  queue_head_ = 0;
  set_queued_bytes(0);
}

// ---- closing ----

void websocket_session::begin_close(std::uint16_t code, std::string_view reason, bool protocol_error) {
  if (!life_.advance(protocol_error ? ws_state::failing : ws_state::closing)) return;
  push_control(ws::opcode::close, code == 0 ? std::string() : ws::close_payload(code, reason));
  arm_timer(close_wait);
  resume_reader_if_unblocked();  // a reader held for flow reads on, for the peer's close
}

void websocket_session::on_close_written() {
  switch (life_.state()) {
    case ws_state::closing:
      life_.advance(ws_state::close_sent);
      return;
    case ws_state::failing: {
      life_.advance(ws_state::close_sent);
      // The stream cannot be parsed any more, so the peer's close would go unseen: send FIN
      // now (a client then completes its side at once) and drop what it still sends.
      boost::system::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    case ws_state::flushing:
      finish();  // the handshake is complete, or nobody listens
      return;
    default:
      return;
  }
}

void websocket_session::finish() {
  if (!life_.advance(ws_state::closed)) return;
  ++timer_gen_;
  timer_.cancel();
  set_queued_bytes(0);
  if (!writing_) drop_queue();  // else the writer drops it when its write returns
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  // Nobody waits on a closed connection: the chat service's waiters see it closed, and a
  // reader held for flow ends (detaching the session).
  release_drain_waiters(/*all=*/true);
  resume_reader_if_unblocked();
}

// ---- timer ----

/// One timer per session, for whatever the state needs: the auth deadline, keep-alive pings
/// and the idle cut-off, or the wait for the peer's close.
void websocket_session::arm_timer(std::chrono::steady_clock::duration after) {
  const auto gen = ++timer_gen_;
  timer_.expires_after(after);
  timer_.async_wait(exact_alloc([weak = weak_from_this(), gen](boost::system::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    // A handler already queued when the timer was re-armed must not act on the new state.
    if (self && gen == self->timer_gen_) self->on_timer();
  }));
}

/// Half the idle timeout, in milliseconds: in whole seconds, 1 s would become 0.
std::chrono::milliseconds websocket_session::keepalive_tick() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(context_.options.idle_timeout) / 2;
}

void websocket_session::on_timer() {
  switch (life_.state()) {
    case ws_state::authenticating:
      metrics::server_metrics::add(context_.metrics.auth_failures);
      begin_close(ws::close_code::policy_violation, "authentication timeout");
      return;
    case ws_state::open:
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
        log::write(spdlog::level::debug, log_fields(), "user {}: idle timeout", user_.id);
        begin_close(ws::close_code::going_away, "idle timeout");
        return;
      }
      arm_timer(keepalive_tick());
      return;
    case ws_state::closing:
    case ws_state::failing:
    case ws_state::flushing:
    case ws_state::close_sent:
      finish();  // close_wait passed
      return;
    case ws_state::closed:
      return;
  }
}

}  // namespace chatrix::net
