#include "chat/device_limits.hpp"

namespace chatrix::chat {

using limits::steady_time;
using std::chrono::milliseconds;

std::optional<limits::token_bucket> device_limits::bucket(limits::rate rate, std::uint64_t burst, steady_time now) {
  if (rate.off()) return std::nullopt;
  return limits::token_bucket(rate, burst, now);
}

device_limits::device_limits(const device_limit_options& options, steady_time now)
    : texts_(bucket(options.message_rate, options.message_burst, now)),
      searches_(bucket(options.search_limit, options.search_limit.count, now)),
      history_(bucket(options.history_limit, options.history_limit.count, now)),
      typing_(bucket(options.typing_limit, options.typing_limit.count, now)),
      refusals_(options.message_flood_limit == 0 ? std::nullopt
                                                 : bucket(options.message_rate, options.message_flood_limit, now)) {}

device_limits::text_verdict device_limits::take_text(steady_time now) {
  if (!texts_) return {};
  const auto wait = texts_->take(now);
  if (wait == milliseconds(0)) return {};
  const bool flooding = refusals_ && refusals_->take(now) > milliseconds(0);
  return {flooding ? text_outcome::flooding : text_outcome::refused, wait};
}

milliseconds device_limits::take_search(steady_time now) { return searches_ ? searches_->take(now) : milliseconds(0); }

milliseconds device_limits::take_history(steady_time now) { return history_ ? history_->take(now) : milliseconds(0); }

milliseconds device_limits::take_typing(steady_time now) { return typing_ ? typing_->take(now) : milliseconds(0); }

bool device_limits::warning_due(steady_time now) {
  if (next_warning_ && now < *next_warning_) return false;
  next_warning_ = now + std::chrono::minutes(1);
  return true;
}

void left_over_buckets::keep(user_id user, const device_limits& limits, steady_time now) {
  const auto& bucket = limits.text_bucket();
  if (!bucket || bucket->full_at(now)) {
    left_.erase(user);
    return;
  }
  if (left_.size() >= max_users_ && !left_.contains(user)) {
    std::erase_if(left_, [now](const auto& entry) { return entry.second.full_at(now); });
    if (left_.size() >= max_users_) left_.erase(left_.begin());
  }
  left_.insert_or_assign(user, *bucket);
}

void left_over_buckets::resume(user_id user, device_limits& limits, steady_time now) {
  const auto it = left_.find(user);
  if (it == left_.end()) return;
  if (!it->second.full_at(now)) limits.resume_texts(it->second);
  left_.erase(it);
}

}  // namespace chatrix::chat
