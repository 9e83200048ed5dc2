// The abuse rules around login and registration (docs/security.md, "Login and registration"):
// the three rate limits, the bound on password hashes in flight (HASH_QUEUE), and what is
// logged and counted. The account service asks it before any password work and tells it how
// each login ended; it never sees a password.
#pragma once

#include "chat/login_limiter.hpp"
#include "core/error.hpp"
#include "metrics/metrics.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace chatrix::chat {

/// A place in the hash queue, held while a password is looked up and hashed or verified;
/// destroying it frees the place. Move-only.
class hash_ticket {
 public:
  hash_ticket() = default;
  /// `in_flight` is the chatrix_queue_depth{queue="password_hashes"} gauge itself.
  explicit hash_ticket(metrics::gauge& in_flight) : in_flight_(&in_flight) {
    in_flight.fetch_add(1, std::memory_order_relaxed);
  }
  hash_ticket(hash_ticket&& other) noexcept : in_flight_(std::exchange(other.in_flight_, nullptr)) {}
  hash_ticket& operator=(hash_ticket&& other) noexcept {
    if (this != &other) {
      release();
      in_flight_ = std::exchange(other.in_flight_, nullptr);
    }
    return *this;
  }
  hash_ticket(const hash_ticket&) = delete;
  hash_ticket& operator=(const hash_ticket&) = delete;
  ~hash_ticket() { release(); }

 private:
  void release() noexcept {
    if (in_flight_) in_flight_->fetch_sub(1, std::memory_order_relaxed);
    in_flight_ = nullptr;
  }
  metrics::gauge* in_flight_ = nullptr;
};

/// A login let through to the password check. Settle it with login_guard::failed() or
/// login_guard::released(); left unsettled, the username's token stays used.
struct login_attempt {
  std::string username_key;    // the LOGIN_FAILURE_LIMIT key: the folded username
  std::string shown_username;  // for the log: printable, truncated
  std::string address;         // the client address as the edge gave it, for the log
  hash_ticket ticket;
};

/// A registration let through to hashing.
struct registration_attempt {
  std::string address_key;
  hash_ticket ticket;
};

/// The key a client address is limited by: the address itself, except that an IPv6 address
/// counts as its /64 (one subscriber usually holds a whole /64, so per-/128 keys would let
/// one client take 2^64 turns) and an IPv4-mapped one as its IPv4 address. "" (not known)
/// is one key of its own.
std::string address_limit_key(std::string_view address);

/// A username as it may appear in a log line: printable ASCII (other bytes as \xNN, quotes
/// and backslashes escaped), at most 64 bytes of the original then "...".
std::string loggable_username(std::string_view username);

/// Thread-safety: none; call on the I/O thread.
class login_guard {
 public:
  /// `hash_queue` 0: no bound.
  login_guard(login_limits limits, std::size_t hash_queue, metrics::server_metrics& metrics);

  /// Before a login's password is looked at. errc::rate_limited (with retry_after_ms) when the
  /// address has used up LOGIN_ADDRESS_LIMIT or the username LOGIN_FAILURE_LIMIT (whether or
  /// not it exists: the key is only the folded name); errc::overloaded when HASH_QUEUE is full.
  /// Every attempt let through takes a token of the username's failure budget, so parallel
  /// guesses cannot overrun it; released() gives it back.
  boost::asio::awaitable<result<login_attempt>> admit_login(const std::string& username, const std::string& address);
  /// The password was wrong or the user unknown: counted and logged (username and address).
  void failed(login_attempt& attempt);
  /// The password was right, or never checked (a store error): no failure to count.
  void released(login_attempt& attempt);

  /// Before a registration's password is hashed: errc::rate_limited over REGISTER_LIMIT,
  /// errc::overloaded when HASH_QUEUE is full.
  boost::asio::awaitable<result<registration_attempt>> admit_registration(const std::string& address);
  /// No account was created (username taken, store error): REGISTER_LIMIT counts accounts
  /// created, so the token goes back.
  void not_created(registration_attempt& attempt);

  /// A place in the hash queue for other password work (a password change), or
  /// errc::overloaded (counted and logged like a login's).
  result<hash_ticket> hash_slot();

  std::size_t hashes_in_flight() const noexcept {
    return static_cast<std::size_t>(metrics_.hash_queue.load(std::memory_order_relaxed));
  }

 private:
  /// Logs `line` at warn, at most once per minute for each setting and key.
  void log_limited(std::string_view setting, const std::string& key, const std::string& line);

  login_limits limits_;
  std::size_t hash_queue_;
  metrics::server_metrics& metrics_;
  limits::keyed_limiter log_gate_;
};

}  // namespace chatrix::chat
