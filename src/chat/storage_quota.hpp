// STORAGE_QUOTA: bytes of message content each user may store per UTC day. Counted per node,
// in memory: a user whose devices are connected to k nodes can store up to k quotas a day,
// and a restart forgets the day's counts (docs/security.md says why that is enough). Pure
// computation on times handed in.
#pragma once

#include "core/types.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace chatrix::chat {

/// Thread-safety: none; owned by the chat service, used on the I/O thread.
class storage_quota {
 public:
  /// `bytes_per_day` 0 turns the quota off. At most `max_users` users are counted at once.
  explicit storage_quota(std::uint64_t bytes_per_day, std::size_t max_users = 100'000);

  bool off() const noexcept { return bytes_per_day_ == 0; }

  /// Charges `bytes` to `user` for the UTC day of `now`, or refuses them when the day's
  /// total would pass the quota: returns zero when charged, else the time until the next UTC
  /// midnight, when the count starts again.
  std::chrono::milliseconds charge(user_id user, std::uint64_t bytes, unix_ms now);

  /// Gives back a charge made at `charged_at` whose message was not stored after all (a
  /// retry recognised as a duplicate, a failed write). A charge of an earlier day, or one
  /// forgotten meanwhile, is not given back.
  void refund(user_id user, std::uint64_t bytes, unix_ms charged_at);

  /// Users with a count today (bounded by max_users).
  std::size_t size() const noexcept { return used_.size(); }

 private:
  static std::int64_t day_of(unix_ms t);
  void start_day(std::int64_t day);
  void make_room();

  std::uint64_t bytes_per_day_;
  std::size_t max_users_;
  std::int64_t day_ = 0;  // the UTC day (days since the epoch) every count belongs to
  std::unordered_map<user_id, std::uint64_t> used_;
};

}  // namespace chatrix::chat
