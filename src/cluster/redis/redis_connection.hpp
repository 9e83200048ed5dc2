// One Redis connection on an Asio socket: pipelined commands with FIFO reply matching,
// AUTH/SELECT, reconnect with exponential backoff, and an optional subscriber mode.
#pragma once

#include "cluster/redis/resp_reader.hpp"
#include "config/address.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::cluster::redis {

/// Where Redis is and how to log in; REDISADDR parsed by the configuration.
using redis_address = config::redis_address;

struct connection_options {
  redis_address address;
  /// CLIENT SETNAME (visible in CLIENT LIST) and the log prefix; no spaces.
  std::string name = "chatrix";
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds connect_timeout{3000};
  /// Replies awaited with nothing read for this long: the link is presumed dead (a half-open
  /// TCP connection would otherwise never fail) and is dropped.
  std::chrono::milliseconds reply_timeout{5000};
  /// Subscriber mode: PING this often so a dead link is noticed (via reply_timeout).
  std::chrono::milliseconds ping_interval{1000};
  /// Bounds, so an outage or a slow server never grows memory without limit: beyond them
  /// commands fail at once with no_buffer_space.
  std::size_t max_pending = 1'000'000;          // commands awaiting replies
  std::size_t max_buffered_bytes = 64u << 20;   // formatted, not yet written
};

/// Commands are queued and written together, once per event-loop turn, in one async_write;
/// replies are matched FIFO to their callbacks. While the link is not up, commands fail
/// (asynchronously) with `not_connected`; when the link drops, every pending callback gets the
/// error. Reconnects by itself (backoff from backoff_min doubling to backoff_max, jittered).
///
/// Subscriber mode (subscribe() before start()): after each (re)connect the channels are
/// subscribed again, pushes go to the push handler, and the state handler reports "up" only
/// once the subscription is confirmed.
///
/// Lifetime: create() returns a shared_ptr; pending operations keep the object alive. After
/// close() or close_gracefully() no callback or handler is ever invoked again, so the owner
/// may be destroyed right after calling either.
///
/// Thread-safety: none. Every call, and every callback, happens on the executor's thread
/// (one thread: the chat service's I/O thread).
class redis_connection : public std::enable_shared_from_this<redis_connection> {
 public:
  /// `ec` is set when no reply came (link lost, not connected, closed, over a bound); a Redis
  /// error reply comes with an empty `ec` and `r.type == reply::kind::error`.
  using callback = std::function<void(boost::system::error_code ec, reply r)>;
  using push_handler = std::function<void(std::string_view channel, std::string payload)>;
  using state_handler = std::function<void(bool up)>;

  static std::shared_ptr<redis_connection> create(boost::asio::any_io_executor ex, connection_options options);

  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;
  ~redis_connection();

  /// Called with true when the link is ready (after AUTH/SELECT, and the subscription in
  /// subscriber mode), with false when a ready link drops.
  void on_state(state_handler handler) { state_handler_ = std::move(handler); }

  /// Turns on subscriber mode for `channels` (at least one). Call before start().
  void subscribe(std::vector<std::string> channels, push_handler handler);

  /// Connects (and keeps reconnecting until closed).
  void start();

  /// Queues one command. `cb` may be empty (the reply is discarded). Never blocks and never
  /// calls `cb` from inside send().
  void send(std::span<const std::string_view> args, callback cb = {});
  void send(std::initializer_list<std::string_view> args, callback cb = {}) {
    send(std::span<const std::string_view>(args.begin(), args.size()), std::move(cb));
  }

  bool is_up() const noexcept { return state_ == state::up; }
  std::size_t pending() const noexcept { return callbacks_.size(); }

  /// Closes now. Pending callbacks are dropped without being called.
  void close();

  /// Stops accepting commands and closes once the replies to those already sent have come
  /// (or after `timeout`). Pending callbacks are dropped without being called; handlers are
  /// cleared. Meant for a last DEL/ZREM on shutdown.
  void close_gracefully(std::chrono::milliseconds timeout);

  struct counters {
    std::uint64_t connects = 0;      // links that became ready
    std::uint64_t disconnects = 0;   // ready links that dropped
    std::uint64_t failed_connects = 0;
    std::uint64_t commands = 0;      // queued on a live link
    std::uint64_t writes = 0;        // async_write calls (pipelining: far fewer than commands)
    std::uint64_t replies = 0;
    std::uint64_t pushes = 0;
    std::uint64_t rejected = 0;      // failed at once: not connected or over a bound
  };
  const counters& stats() const noexcept { return stats_; }

 private:
  enum class state { idle, connecting, handshake, up, backoff, closing, closed };

  redis_connection(boost::asio::any_io_executor ex, connection_options options);

  void start_connect();
  void on_connected();
  void become_up();
  void enqueue(std::span<const std::string_view> args, callback cb);
  void enqueue(std::initializer_list<std::string_view> args, callback cb) {
    enqueue(std::span<const std::string_view>(args.begin(), args.size()), std::move(cb));
  }
  void schedule_flush();
  void do_write();
  void do_read();
  void dispatch(reply r);
  void drop(boost::system::error_code ec, std::string_view why);
  void schedule_reconnect();
  void arm_health();
  void reject(callback cb, boost::system::error_code ec);
  bool linked() const noexcept {
    return state_ == state::handshake || state_ == state::up || state_ == state::closing;
  }

  boost::asio::any_io_executor ex_;
  connection_options options_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;         // connect timeout, backoff, graceful-close deadline
  boost::asio::steady_timer health_timer_;  // reply timeout and subscriber PINGs
  resp_reader reader_;
  std::vector<char> read_buf_;

  state state_ = state::idle;
  std::uint64_t generation_ = 0;  // bumped on every drop/close: handlers of older links ignore themselves
  std::string out_;               // commands queued for the next write
  bool writing_ = false;
  bool flush_posted_ = false;
  std::deque<callback> callbacks_;  // one per command written or queued on this link, FIFO
  std::chrono::steady_clock::time_point last_progress_{};
  std::chrono::steady_clock::time_point last_ping_{};
  std::chrono::milliseconds backoff_;
  bool logged_down_ = false;  // one warning per outage, not one per attempt

  std::vector<std::string> channels_;  // subscriber mode when non-empty
  push_handler push_handler_;
  state_handler state_handler_;
  counters stats_;
};

}  // namespace chatrix::cluster::redis
