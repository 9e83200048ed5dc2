// The limits of one connection (device): TEXT frames through a token bucket, with a cut-off
// for a client that ignores the refusals, and searches and history requests through buckets
// of their own, so that neither the write path nor the read paths can be used to load the
// database from one socket. Pure computation on times handed in, like limits/rate.hpp.
#pragma once

#include "core/types.hpp"
#include "limits/rate.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace chatrix::chat {

/// MESSAGE_RATE, MESSAGE_BURST, MESSAGE_FLOOD_LIMIT, SEARCH_LIMIT, HISTORY_LIMIT and TYPING_LIMIT (see
/// config::server_config for the defaults and docs/security.md for the reasons).
struct device_limit_options {
  limits::rate message_rate{5000, std::chrono::seconds(1)};
  std::uint64_t message_burst = 2000;
  /// Refusals a connection may run up at once, then MESSAGE_RATE of them per period (a
  /// bucket like the TEXTs' own); one more closes the connection. 0 = never.
  std::uint64_t message_flood_limit = 1000;
  limits::rate search_limit{10, std::chrono::seconds(1)};
  limits::rate history_limit{20, std::chrono::seconds(1)};
  limits::rate typing_limit{10, std::chrono::seconds(1)};  // TYPING_LIMIT
};

/// Thread-safety: none; owned by the chat service, used on the I/O thread.
class device_limits {
 public:
  enum class text_outcome {
    accepted,  // a token was taken: handle the TEXT
    refused,   // over the rate: ERR rate_limited, retry_after
    flooding,  // refused, and past message_flood_limit: close the connection
  };
  struct text_verdict {
    text_outcome outcome = text_outcome::accepted;
    std::chrono::milliseconds retry_after{0};  // when refused or flooding
  };

  device_limits(const device_limit_options& options, limits::steady_time now);

  /// One TEXT arrives at `now`. A refusal says when the next TEXT would pass. Refusals are
  /// themselves limited like TEXTs (message_flood_limit at once, then message_rate): a client
  /// that backs off when told, or that goes only a little over the rate, is never cut off; one
  /// that writes as fast as it can is, within milliseconds. "Refused in a row, none accepted in
  /// between" would never catch it: a token refills every 1/MESSAGE_RATE s (0.5 ms by default)
  /// whatever the client does, and the server's own pauses in reading (a device at its
  /// in-flight cap) look like a client that waited.
  text_verdict take_text(limits::steady_time now);

  /// Zero when the search or history request may go on, else how long until it would.
  std::chrono::milliseconds take_search(limits::steady_time now);
  std::chrono::milliseconds take_history(limits::steady_time now);
  std::chrono::milliseconds take_typing(limits::steady_time now);

  /// True at most once a minute: a client that hits a limit all the time leaves one warning
  /// a minute in the log, not one per frame.
  bool warning_due(limits::steady_time now);

  /// The TEXT bucket as it is (nullopt when the limit is off), and one to go on from.
  const std::optional<limits::token_bucket>& text_bucket() const noexcept { return texts_; }
  void resume_texts(const limits::token_bucket& left) {
    if (texts_) texts_ = left;
  }

 private:
  static std::optional<limits::token_bucket> bucket(limits::rate rate, std::uint64_t burst, limits::steady_time now);

  std::optional<limits::token_bucket> texts_;  // nullopt: the limit is off
  std::optional<limits::token_bucket> searches_;
  std::optional<limits::token_bucket> history_;
  std::optional<limits::token_bucket> typing_;
  std::optional<limits::token_bucket> refusals_;  // nullopt: never cut off
  std::optional<limits::steady_time> next_warning_;
};

/// What the TEXT buckets of closed connections had left, by user: the user's next connection
/// goes on from there instead of a full bucket, so that a client cut off for flooding cannot
/// buy a fresh burst (2000 TEXTs by default) by reconnecting. Bounded: a bucket that has
/// refilled is forgotten, and when the table is full an arbitrary user is forgiven.
/// Thread-safety: none; owned by the chat service, used on the I/O thread.
class left_over_buckets {
 public:
  explicit left_over_buckets(std::size_t max_users = 100'000) : max_users_(std::max<std::size_t>(max_users, 1)) {}

  /// A connection of `user` closes with `limits`.
  void keep(user_id user, const device_limits& limits, limits::steady_time now);
  /// A new connection of `user` starts: it goes on from what the last closed one left.
  void resume(user_id user, device_limits& limits, limits::steady_time now);

  std::size_t size() const noexcept { return left_.size(); }

 private:
  std::size_t max_users_;
  std::unordered_map<user_id, limits::token_bucket> left_;
};

}  // namespace chatrix::chat
