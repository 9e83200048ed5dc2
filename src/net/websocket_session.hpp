// One WebSocket connection, one device: RFC 6455 on the raw socket (framing in net/ws_frame.hpp,
// life cycle in net/websocket_lifecycle.hpp), feeding chat::chat_service. No Beast here: only
// the HTTP side (server.cpp) pays for Beast's template instantiation.
#pragma once

#include "chat/chat_service.hpp"
#include "core/log.hpp"
#include "limits/keyed_limiter.hpp"
#include "metrics/metrics.hpp"
#include "net/admission.hpp"
#include "net/io_types.hpp"
#include "net/server_options.hpp"
#include "net/session_registry.hpp"
#include "net/websocket_lifecycle.hpp"
#include "net/ws_frame.hpp"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::net {

/// What the WebSocket sessions of one server share. Owned by the server.
struct websocket_context {
  websocket_context(io_executor executor, const server_options& server_settings, chat::chat_service& chat_service,
                    metrics::server_metrics& server_metrics)
      : options(server_settings), chat(chat_service), metrics(server_metrics), sessions(std::move(executor)) {}

  const server_options& options;
  chat::chat_service& chat;
  metrics::server_metrics& metrics;
  session_registry sessions;
  /// One warning a minute per client address for sockets closed for control frames before
  /// authentication: a flood of such sockets must not become a flood of log lines.
  limits::keyed_limiter unauthenticated_warnings{limits::rate{1, std::chrono::minutes(1)}, 1, 4096};
};

/// Represents one authenticated (or authenticating) WebSocket connection: one device.
///
/// Everything written goes through one queue drained by one writer, so control frames never
/// interleave with data and many frames leave in one gathered write. While idle the session
/// holds no buffer and no coroutine: the reader waits for readability and only then
/// allocates, the writer exists only while the queue is not empty.
///
/// The reader is an activity next to the life cycle (ws_lifecycle): it is active (running, or
/// waiting for readability), held, or ended. It is held (no coroutine, no pending wait; the
/// session kept alive by held_reader_) while a device that still takes frames (authenticating
/// or open) must not be read: its queue is over half full or the chat service has too many of
/// its TEXTs in flight (the write that drains the queue, the chat service, a close or the
/// shutdown resume it), or, once open, while the server is shutting down (go_away() resumes
/// it). It ends once the session has closed or the peer has, and then detaches the session
/// from the chat service and the registry.
///
/// Whatever a client sends, what it makes the session queue is bounded in every phase: a
/// ping queues at most one pong (answer_ping), replies hold the reader (flow_blocked), and
/// before authentication only a few control frames are taken (admit_control_frame). Once
/// closing, nothing read is answered any more.
///
/// Thread-safety: call only on the I/O thread.
class websocket_session final : public chat::connection, public std::enable_shared_from_this<websocket_session> {
 public:
  websocket_session(socket_type&& socket, websocket_context& context, std::uint64_t id,
                    admission::ticket admitted = {});
  ~websocket_session() override;
  websocket_session(const websocket_session&) = delete;
  websocket_session& operator=(const websocket_session&) = delete;

  /// The client's address (after TRUSTED_PROXIES), "" when unknown.
  std::string client_address() const override;
  /// What the session's log lines carry: its id and client address (core/log.hpp).
  std::array<log::field, 2> log_fields() const;

  /// Bytes the HTTP parser had already read past the upgrade request (a pipelined first frame).
  void feed(std::string_view bytes) { frame_reader_.feed(bytes); }

  /// Starts the session: the auth deadline runs from here.
  void start();

  /// The server stops: a session not yet attached closes at once (it has nothing in flight);
  /// an attached one stops reading at its next frame, so that the sends already taken are
  /// stored and answered before go_away().
  void server_stopping();
  /// Closes the session with 1001 after the queued frames are written (server shutdown).
  void go_away();

  // ---- chat::connection ----
  std::uint64_t device_id() const noexcept override { return id_; }
  const user& account() const noexcept override { return user_; }
  bool explicit_acks() const noexcept override { return explicit_acks_; }
  bool is_open() const noexcept override { return life_.is_open(); }
  std::size_t queued_bytes() const noexcept override { return queued_bytes_; }
  void send(chat::shared_frame frame, message_id receipt) override;
  void when_queue_at_most(std::size_t bytes, std::function<void()> ready) override;
  void may_read_again() override { resume_reader_if_unblocked(); }
  void close_for_error() override;
  void end_session(const error& reason) override;

 private:
  /// The life cycle, keeping chatrix_websocket_connections{state} current: every session is
  /// counted in its phase from construction until it is closed or destroyed.
  class counted_lifecycle : private ws_lifecycle {
   public:
    explicit counted_lifecycle(metrics::server_metrics& metrics) noexcept;
    ~counted_lifecycle();
    counted_lifecycle(const counted_lifecycle&) = delete;
    counted_lifecycle& operator=(const counted_lifecycle&) = delete;

    bool advance(ws_state to) noexcept;
    using ws_lifecycle::accepts_frames;
    using ws_lifecycle::closing;
    using ws_lifecycle::is_open;
    using ws_lifecycle::state;

   private:
    metrics::gauge* counted_in(ws_state s) const noexcept;
    metrics::server_metrics& metrics_;
  };

  struct queued_frame {
    chat::shared_frame payload;
    message_id receipt = 0;
    ws::opcode op = ws::opcode::text;
  };
  struct drain_waiter {
    std::size_t at_most = 0;
    std::function<void()> ready;
  };
  enum class reader_state : std::uint8_t { active, held_for_flow, held_for_shutdown, ended };

  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();

  void wait_readable();
  void spawn_reader();
  void spawn_writer();
  /// The reader stops here until resume_reader(), keeping the session alive meanwhile.
  void hold_reader(reader_state why);
  /// Restarts a held reader (posted: the caller is in the middle of its own work).
  void resume_reader();
  /// Restarts a reader held for flow once it may go on: the flow cleared, or the session is
  /// no longer open (a closing one reads on for the peer's close, a closed one ends).
  void resume_reader_if_unblocked();
  /// Whether a device must not be read now: its replies pile up, or too many of its TEXTs
  /// await storage. TCP then slows the client down.
  bool flow_blocked() const;
  /// Reading is over (EOF, error, the peer's close, or finish()).
  void end_reading();
  /// A reader or writer coroutine threw: the session ends at once and leaves the chat service
  /// and the registry, so that nobody keeps a pointer to it.
  void abandon(bool writer_failed);

  void push(ws::opcode op, chat::shared_frame payload, message_id receipt = 0);
  void push_control(ws::opcode op, std::string payload);

  // ---- control frames from the client ----
  /// Counts a ping or pong received before authentication; past options.unauthenticated_pings
  /// it closes the connection (1008) and returns false. Always true once authenticated.
  bool admit_control_frame();
  /// Queues the pong for a ping, or (RFC 6455 5.5.3 lets a pong answer only the latest ping)
  /// gives the pong still waiting in the queue this ping's payload, so that a client sending
  /// pings without reading makes us hold at most two pongs: one being written, one waiting.
  void answer_ping(std::string_view payload);
  /// Queues a close frame behind everything already queued; nothing is sent after it. The
  /// session then waits (close_wait at most) for the peer's close before shutting down.
  void begin_close(std::uint16_t code, std::string_view reason = {}, bool protocol_error = false);
  /// The close frame went out.
  void on_close_written();
  /// Ends the connection now: TCP shutdown, no more reads or writes.
  void finish();
  void release_drain_waiters(bool all);

  void arm_timer(std::chrono::steady_clock::duration after);
  std::chrono::milliseconds keepalive_tick() const;
  void on_timer();

  bool queue_empty() const noexcept { return queue_head_ == queue_.size(); }
  void drop_queue();
  /// Sets queued_bytes_, keeping chatrix_socket_queued_bytes (the sum over sessions) current.
  void set_queued_bytes(std::size_t bytes) noexcept;
  /// An ERR frame this session sends itself (the chat service counts its own).
  void count_error(const error& err) noexcept;

  socket_type socket_;
  websocket_context& context_;
  std::uint64_t id_;
  user user_;
  ws::frame_reader frame_reader_;
  timer_type timer_;
  std::uint32_t timer_gen_ = 0;
  counted_lifecycle life_;
  reader_state reader_ = reader_state::active;
  bool explicit_acks_ = false;
  bool writing_ = false;   // a writer coroutine exists (the queue is not empty)
  bool attached_ = false;  // the chat service holds a pointer to this session
  bool rx_seen_ = false;   // bytes arrived since the last keep-alive tick
  bool ping_sent_ = false;
  std::shared_ptr<websocket_session> held_reader_;
  // A vector consumed from queue_head_ rather than a std::deque: an idle connection then
  // holds no queue memory at all (a deque allocates a 512-byte block up front).
  std::vector<queued_frame> queue_;
  std::size_t queue_head_ = 0;
  std::size_t queued_bytes_ = 0;
  std::vector<drain_waiter> drain_waiters_;
  // The queued pong the writer has not taken yet (answer_ping may still change its payload).
  std::shared_ptr<std::string> waiting_pong_;
  std::size_t unauthenticated_control_frames_ = 0;
  // Counted against the connection limits until the session ends (the unauthenticated
  // count only until it authenticates).
  admission::ticket admitted_;
};

}  // namespace chatrix::net
