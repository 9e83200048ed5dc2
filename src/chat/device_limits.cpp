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
      flood_limit_(options.message_flood_limit) {}

device_limits::text_verdict device_limits::take_text(steady_time now) {
  if (!texts_) return {};
  const auto wait = texts_->take(now);
  if (wait == milliseconds(0)) {
    if (now >= retry_at_) refused_in_a_row_ = 0;
    return {};
  }
  ++refused_in_a_row_;
  retry_at_ = now + wait;
  const bool flooding = flood_limit_ != 0 && refused_in_a_row_ > flood_limit_;
  return {flooding ? text_outcome::flooding : text_outcome::refused, wait};
}

milliseconds device_limits::take_search(steady_time now) { return searches_ ? searches_->take(now) : milliseconds(0); }

milliseconds device_limits::take_history(steady_time now) { return history_ ? history_->take(now) : milliseconds(0); }

bool device_limits::warning_due(steady_time now) {
  if (next_warning_ && now < *next_warning_) return false;
  next_warning_ = now + std::chrono::minutes(1);
  return true;
}

}  // namespace chatrix::chat
