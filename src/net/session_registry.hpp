// The WebSocket sessions of one server, and what its shutdown waits for: the chat frames being
// handled and the sessions still reading. The shutdown sleeps until one of these changes.
#pragma once

#include "net/io_types.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace chatrix::net {

class websocket_session;

/// Thread-safety: call only on the I/O thread.
class session_registry {
 public:
  explicit session_registry(io_executor executor);

  void add(std::uint64_t id, std::weak_ptr<websocket_session> session);
  /// The session stopped reading: the shutdown no longer waits for it.
  void remove(std::uint64_t id);
  bool empty() const noexcept { return sessions_.empty(); }
  /// The sessions as they are now. go_away() may end a session at once (its reader runs
  /// inline and removes it), so the shutdown walks this copy, never the map.
  std::vector<std::shared_ptr<websocket_session>> live() const;

  /// Counts one chat frame as being handled for as long as it lives.
  class frame_in_progress {
   public:
    explicit frame_in_progress(session_registry& registry) noexcept : registry_(registry) {
      ++registry_.frames_in_progress_;
    }
    ~frame_in_progress() { registry_.frame_done(); }
    frame_in_progress(const frame_in_progress&) = delete;
    frame_in_progress& operator=(const frame_in_progress&) = delete;

   private:
    session_registry& registry_;
  };
  std::size_t frames_in_progress() const noexcept { return frames_in_progress_; }

  bool stopping() const noexcept { return stopping_; }
  /// The shutdown begins: sessions take no new frame, and wait_for_change() returns at
  /// `deadline` at the latest.
  void begin_stopping(std::chrono::steady_clock::time_point deadline);
  bool deadline_passed() const { return std::chrono::steady_clock::now() >= wake_.expiry(); }

  /// Suspends the shutdown until a session left, the last frame in progress ended, notify()
  /// was called or the deadline passed; the caller checks again what it waits for. For one
  /// waiter at a time.
  boost::asio::awaitable<void> wait_for_change();
  /// Something the shutdown waits for outside the registry (the chat service's TEXTs) changed.
  void notify() noexcept { wake_.cancel(); }

 private:
  void frame_done() noexcept;

  std::unordered_map<std::uint64_t, std::weak_ptr<websocket_session>> sessions_;
  std::size_t frames_in_progress_ = 0;
  bool stopping_ = false;
  // A condition variable for a coroutine: the timer expires only at the shutdown's deadline
  // (never before the shutdown) and each event cancels the pending wait, so the waiter sleeps
  // until something happens instead of polling.
  timer_type wake_;
};

}  // namespace chatrix::net
