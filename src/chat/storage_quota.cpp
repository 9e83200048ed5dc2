#include "chat/storage_quota.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace chatrix::chat {

namespace {
constexpr unix_ms day_ms = 24 * 60 * 60 * 1000;
}

storage_quota::storage_quota(std::uint64_t bytes_per_day, std::size_t max_users)
    : bytes_per_day_(bytes_per_day), max_users_(std::max<std::size_t>(max_users, 1)) {}

std::int64_t storage_quota::day_of(unix_ms t) { return t >= 0 ? t / day_ms : (t - day_ms + 1) / day_ms; }

void storage_quota::start_day(std::int64_t day) {
  if (day <= day_) return;  // a clock stepping back a little does not bring yesterday back
  day_ = day;
  used_.clear();
}

std::chrono::milliseconds storage_quota::charge(user_id user, std::uint64_t bytes, unix_ms now) {
  if (off()) return std::chrono::milliseconds(0);
  start_day(day_of(now));
  auto it = used_.find(user);
  const std::uint64_t used = it == used_.end() ? 0 : it->second;
  if (bytes > bytes_per_day_ || used > bytes_per_day_ - bytes) {
    return std::chrono::milliseconds(std::max<unix_ms>((day_ + 1) * day_ms - now, 1));
  }
  if (it == used_.end()) {
    if (used_.size() >= max_users_) make_room();
    it = used_.emplace(user, 0).first;
  }
  it->second += bytes;
  return std::chrono::milliseconds(0);
}

void storage_quota::refund(user_id user, std::uint64_t bytes, unix_ms charged_at) {
  if (off() || day_of(charged_at) != day_) return;
  if (auto it = used_.find(user); it != used_.end()) it->second -= std::min(it->second, bytes);
}

// Forgetting a count gives that user back what it used today, so the lighter half goes: each
// of them is forgiven at most the median use, and a user close to its quota is the last to be
// forgotten. One pass over the table per max_users/2 new users keeps the cost constant per
// user; the table (~40 bytes a user, ~4 MB at the default) cannot grow past max_users.
void storage_quota::make_room() {
  std::vector<std::pair<std::uint64_t, user_id>> by_use;
  by_use.reserve(used_.size());
  for (const auto& [user, used] : used_) by_use.emplace_back(used, user);
  const auto drop = by_use.size() - by_use.size() / 2;
  std::nth_element(by_use.begin(), by_use.begin() + static_cast<std::ptrdiff_t>(drop), by_use.end());
  for (std::size_t i = 0; i < drop; ++i) used_.erase(by_use[i].second);
}

}  // namespace chatrix::chat
