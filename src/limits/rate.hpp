// A rate limit as configured ("10/m": ten a minute) and the token bucket that enforces it.
// Pure computation on times handed in: no clock, no threads, so limits are tested exactly.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace chatrix::limits {

using steady_time = std::chrono::steady_clock::time_point;

/// `count` events per `period`; count 0 turns the limit off.
struct rate {
  std::uint64_t count = 0;
  std::chrono::milliseconds period{1000};

  bool off() const noexcept { return count == 0; }
  friend bool operator==(const rate&, const rate&) = default;
};

/// Holds up to `burst` tokens and gains `limit.count` per `limit.period`. A full bucket lets
/// `burst` events through at once; after that they pass at the sustained rate. Buckets start
/// full, so the first events after a quiet spell are never refused.
class token_bucket {
 public:
  token_bucket() = default;
  token_bucket(rate limit, std::uint64_t burst, steady_time now)
      : per_ms_(limit.off() ? 0.0 : static_cast<double>(limit.count) / static_cast<double>(limit.period.count())),
        burst_(static_cast<double>(std::max<std::uint64_t>(burst, 1))),
        tokens_(burst_),
        last_(now) {}

  /// Takes `cost` tokens, or none: returns zero when they were taken, else how long until
  /// they would be there (never less than 1 ms).
  std::chrono::milliseconds take(steady_time now, double cost = 1.0) {
    refill(now);
    if (tokens_ >= cost) {
      tokens_ -= cost;
      return std::chrono::milliseconds(0);
    }
    if (per_ms_ <= 0.0) return std::chrono::milliseconds(1);
    const auto wait = static_cast<std::int64_t>((cost - tokens_) / per_ms_) + 1;
    return std::chrono::milliseconds(wait);
  }

  /// Gives back what an event took (a login that turned out to be right, for instance).
  void give_back(double cost = 1.0) { tokens_ = std::min(burst_, tokens_ + cost); }

  /// Whether the bucket has refilled completely by `now`: it then holds no information and
  /// can be forgotten (a new one starts full).
  bool full_at(steady_time now) const {
    const auto elapsed = std::chrono::duration<double, std::milli>(now - last_).count();
    return tokens_ + elapsed * per_ms_ >= burst_;
  }

 private:
  void refill(steady_time now) {
    if (now <= last_) return;
    const auto elapsed = std::chrono::duration<double, std::milli>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * per_ms_);
    last_ = now;
  }

  double per_ms_ = 0.0;
  double burst_ = 1.0;
  double tokens_ = 1.0;
  steady_time last_{};
};

}  // namespace chatrix::limits
