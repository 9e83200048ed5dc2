// The rate limits of login and registration as the account service sees them: one keyed
// limit per rule (a folded username, a client address), counted on this node or shared by
// every node of a cluster (cluster/redis/redis_limiter.hpp implements it over Redis).
#pragma once

#include "limits/keyed_limiter.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace chatrix::chat {

/// One limit over string keys: a token bucket per key (limits::rate, N at once and N per
/// period), with tokens that may be handed back (a login whose password was right).
///
/// Contract, for every implementation:
/// - take() never fails: an implementation that cannot reach shared counters decides with
///   counters of its own (and says so in the log) rather than refuse or admit everyone;
/// - a limit that is off() admits every take() at once;
/// - give_back() is best effort: it may be lost (a Redis link that dropped meanwhile), which
///   only ever makes the limit stricter.
///
/// Thread-safety: none; call on the I/O thread. take() completes on the caller's executor.
class login_limiter {
 public:
  virtual ~login_limiter() = default;

  virtual const limits::rate& limit() const noexcept = 0;
  bool off() const noexcept { return limit().off(); }

  /// Takes one token from `key`'s bucket: zero when it was taken, else how long until one
  /// will be there (at least 1 ms).
  virtual boost::asio::awaitable<std::chrono::milliseconds> take(std::string key) = 0;
  /// Puts back a token take() took for `key`.
  virtual void give_back(std::string key) = 0;
};

/// Counted in this process: limits::keyed_limiter (bounded memory, see there).
class local_login_limiter final : public login_limiter {
 public:
  using time_source = std::function<limits::steady_time()>;

  explicit local_login_limiter(limits::rate limit, time_source now = [] { return std::chrono::steady_clock::now(); })
      : keys_(limit), now_(std::move(now)) {}

  const limits::rate& limit() const noexcept override { return keys_.limit(); }
  boost::asio::awaitable<std::chrono::milliseconds> take(std::string key) override {
    co_return keys_.take(key, now_());
  }
  void give_back(std::string key) override { keys_.give_back(key); }

 private:
  limits::keyed_limiter keys_;
  time_source now_;
};

/// The three limits of the account service.
struct login_limits {
  std::unique_ptr<login_limiter> failures_per_username;      // LOGIN_FAILURE_LIMIT
  std::unique_ptr<login_limiter> attempts_per_address;       // LOGIN_ADDRESS_LIMIT
  std::unique_ptr<login_limiter> registrations_per_address;  // REGISTER_LIMIT
};

/// Each limit counted in this process.
inline login_limits local_login_limits(limits::rate failures_per_username, limits::rate attempts_per_address,
                                       limits::rate registrations_per_address) {
  return {std::make_unique<local_login_limiter>(failures_per_username),
          std::make_unique<local_login_limiter>(attempts_per_address),
          std::make_unique<local_login_limiter>(registrations_per_address)};
}

}  // namespace chatrix::chat
