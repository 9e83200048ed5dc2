// The users this node announced online (a device of theirs attached here), and the grace
// before it announces one offline: the last device of a user going away starts
// PRESENCE_GRACE, a device of theirs attaching within it cancels it, so a flapping connection
// publishes nothing. Pure: times are handed in; the chat service owns the timer.
#pragma once

#include "cluster/bus.hpp"
#include "core/types.hpp"
#include "limits/rate.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

namespace chatrix::chat {

/// Thread-safety: none; owned by the chat service, used on the I/O thread.
class presence_here {
 public:
  explicit presence_here(std::chrono::milliseconds grace) : grace_(grace) {}

  /// A device of `id` finished attaching at `now`: true when the user is newly online on this
  /// node (to publish); false when they were already, or were leaving within the grace.
  bool arrived(user_id id, unix_ms now);
  /// The last device of `id` here went away at `at`: offline once the grace has passed. Does
  /// nothing for a user this node did not announce.
  void departed(user_id id, unix_ms at, limits::steady_time now);
  /// The users whose grace has run out (now offline here, as of their departure).
  std::vector<cluster::presence_update> due(limits::steady_time now);
  /// When the next grace runs out, if one is running.
  std::optional<limits::steady_time> next_due() const;
  /// Every user announced here, online as of when they arrived (event_sink::local_presence).
  std::vector<cluster::presence_update> online() const;
  /// Shutdown: every user announced here goes offline, as of their departure (or `now`).
  std::vector<cluster::presence_update> take_all(unix_ms now);

 private:
  struct entry {
    unix_ms since = 0;
    std::optional<unix_ms> departed_at;
    std::uint64_t departure = 0;  // which departure the grace queue's entry is for
  };
  struct pending {
    limits::steady_time due{};
    user_id id = 0;
    std::uint64_t departure = 0;
  };

  std::chrono::milliseconds grace_;
  std::unordered_map<user_id, entry> users_;
  // In due order: the grace is the same for all. An entry whose user came back (or left
  // again) is stale and skipped; at most one per departure within the grace.
  std::deque<pending> graces_;
  std::uint64_t next_departure_ = 0;
};

}  // namespace chatrix::chat
