// When each live session's token runs out. One timer and one min-heap of deadlines for every
// session of the node, rather than a timer per session: an idle connection costs ~1.5 KB, and
// a steady_timer of its own would add ~100 bytes to each; a heap entry is 24.
#pragma once

#include "core/clock.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace chatrix::chat {

/// Thread-safety: none; the I/O thread given as `io` only.
class token_expiry {
 public:
  /// `current(device, deadline)`: whether `deadline` is still that device's (it may have gone,
  /// or refreshed its token). `expired(device)` runs for each device whose current deadline
  /// has passed, once.
  token_expiry(boost::asio::any_io_executor io, const clock& clock,
               std::function<bool(std::uint64_t device, std::int64_t deadline_s)> current,
               std::function<void(std::uint64_t device)> expired);

  /// `device` must be ended at `deadline_s` (unix seconds) unless current() says otherwise by
  /// then. An earlier deadline of the same device is not removed here: it is dropped when it
  /// comes up (or at the next compaction), so a refresh costs O(log n).
  void watch(std::uint64_t device, std::int64_t deadline_s);

  std::size_t entries() const noexcept { return heap_.size(); }

 private:
  struct entry {
    std::int64_t deadline_s;
    std::uint64_t device;
  };
  /// A min-heap of deadlines: std::*_heap build max-heaps, hence "later".
  static bool later(const entry& a, const entry& b) { return a.deadline_s > b.deadline_s; }

  void on_timer();
  void arm();
  /// Drops stale entries. Run when the heap has doubled since the last run, so that devices
  /// refreshing their tokens again and again (or leaving) cannot grow it without bound: it
  /// holds at most about twice the live sessions.
  void compact();

  const clock& clock_;
  std::function<bool(std::uint64_t, std::int64_t)> current_;
  std::function<void(std::uint64_t)> expired_;
  std::vector<entry> heap_;
  std::size_t compact_at_ = 64;
  boost::asio::steady_timer timer_;
  std::int64_t armed_for_s_ = 0;  // the deadline the timer waits for; 0 = not armed
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatrix::chat
