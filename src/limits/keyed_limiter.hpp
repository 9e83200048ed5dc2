// One token bucket per key (a username, a client address), in bounded memory: a key whose
// bucket has refilled is forgotten, and when the table is full the fullest ones go first.
#pragma once

#include "limits/rate.hpp"

#include <cstddef>
#include <string>
#include <iterator>
#include <unordered_map>

namespace chatrix::limits {

/// Thread-safety: none; one owner thread (the I/O thread).
class keyed_limiter {
 public:
  /// `burst` 0 means limit.count (the usual "N per period, N at once").
  keyed_limiter(rate limit, std::uint64_t burst = 0, std::size_t max_keys = 100'000)
      : limit_(limit), burst_(burst == 0 ? limit.count : burst), max_keys_(max_keys) {}

  bool off() const noexcept { return limit_.off(); }
  const rate& limit() const noexcept { return limit_; }

  /// Zero when `key` may go on (a token was taken), else how long it must wait.
  std::chrono::milliseconds take(const std::string& key, steady_time now, double cost = 1.0) {
    if (off()) return std::chrono::milliseconds(0);
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
      if (buckets_.size() >= max_keys_) make_room(now);
      it = buckets_.emplace(key, token_bucket(limit_, burst_, now)).first;
    }
    return it->second.take(now, cost);
  }

  /// How long `key` would wait for `cost` tokens, without taking any.
  std::chrono::milliseconds peek(const std::string& key, steady_time now, double cost = 1.0) const {
    if (off()) return std::chrono::milliseconds(0);
    const auto it = buckets_.find(key);
    if (it == buckets_.end()) return std::chrono::milliseconds(0);
    auto copy = it->second;
    return copy.take(now, cost);
  }

  void give_back(const std::string& key, double cost = 1.0) {
    if (const auto it = buckets_.find(key); it != buckets_.end()) it->second.give_back(cost);
  }

  /// Forgets `key` (its limit starts afresh).
  void reset(const std::string& key) { buckets_.erase(key); }

  std::size_t size() const noexcept { return buckets_.size(); }

 private:
  // Refilled buckets carry no information; if every bucket is still draining (a flood of
  // distinct keys), an arbitrary one goes: memory stays bounded, and the keys an attacker
  // pushes out are mostly its own.
  void make_room(steady_time now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      it = it->second.full_at(now) ? buckets_.erase(it) : std::next(it);
    }
    if (buckets_.size() >= max_keys_) buckets_.erase(buckets_.begin());
  }

  rate limit_;
  std::uint64_t burst_;
  std::size_t max_keys_;
  std::unordered_map<std::string, token_bucket> buckets_;
};

}  // namespace chatrix::limits
