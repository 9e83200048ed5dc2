// The limits of one connection (device): TEXT frames through a token bucket, with a cut-off
// for a client that ignores the refusals, and searches and history requests through buckets
// of their own, so that neither the write path nor the read paths can be used to load the
// database from one socket. Pure computation on times handed in, like limits/rate.hpp.
#pragma once

#include "limits/rate.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace chatrix::chat {

/// MESSAGE_RATE, MESSAGE_BURST, MESSAGE_FLOOD_LIMIT, SEARCH_LIMIT and HISTORY_LIMIT (see
/// config::server_config for the defaults and docs/security.md for the reasons).
struct device_limit_options {
  limits::rate message_rate{2000, std::chrono::seconds(1)};
  std::uint64_t message_burst = 2000;
  /// Refused TEXTs in a row (see device_limits::take_text) before the connection is closed;
  /// 0 = never.
  std::uint64_t message_flood_limit = 1000;
  limits::rate search_limit{10, std::chrono::seconds(1)};
  limits::rate history_limit{20, std::chrono::seconds(1)};
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

  /// One TEXT arrives at `now`. A refusal says when the next TEXT would pass; refusals count
  /// "in a row" until a TEXT passes that came no earlier than the last refusal said. A TEXT
  /// that slips through on a token refilled meanwhile does not end the row: otherwise a
  /// client writing as fast as it can would never reach the flood limit, since a token comes
  /// back every 1/MESSAGE_RATE s (0.5 ms by default) whatever it does.
  text_verdict take_text(limits::steady_time now);

  /// Zero when the search or history request may go on, else how long until it would.
  std::chrono::milliseconds take_search(limits::steady_time now);
  std::chrono::milliseconds take_history(limits::steady_time now);

  /// True at most once a minute: a client that hits a limit all the time leaves one warning
  /// a minute in the log, not one per frame.
  bool warning_due(limits::steady_time now);

 private:
  static std::optional<limits::token_bucket> bucket(limits::rate rate, std::uint64_t burst, limits::steady_time now);

  std::optional<limits::token_bucket> texts_;  // nullopt: the limit is off
  std::optional<limits::token_bucket> searches_;
  std::optional<limits::token_bucket> history_;
  std::uint64_t flood_limit_;
  std::uint64_t refused_in_a_row_ = 0;
  limits::steady_time retry_at_{};
  std::optional<limits::steady_time> next_warning_;
};

}  // namespace chatrix::chat
