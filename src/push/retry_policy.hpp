// When a webhook attempt counts as done, is tried again, or is given up, and how long the next
// attempt waits. Pure: the push service hands in what happened.
#pragma once

#include <algorithm>
#include <chrono>

namespace chatrix::push {

/// What one POST to the webhook came to.
enum class attempt_outcome {
  sent,     // 2xx: the receiver has it
  retry,    // a network error, the 5 s timeout, 408, 429 or 5xx: worth another attempt
  refused,  // any other status: the receiver will not take it, however often it is sent
};

/// `status` is the HTTP status, 0 when no answer came (network error, timeout).
constexpr attempt_outcome classify(int status) noexcept {
  if (status >= 200 && status < 300) return attempt_outcome::sent;
  if (status == 0 || status == 408 || status == 429 || status >= 500) return attempt_outcome::retry;
  return attempt_outcome::refused;
}

struct retry_policy {
  std::chrono::milliseconds first_delay{std::chrono::seconds(1)};
  std::chrono::milliseconds max_delay{std::chrono::seconds(60)};
  int max_attempts = 8;

  /// How long to wait after the `failed`-th failed attempt (1, 2, ...): first_delay doubled
  /// each time, never above max_delay.
  constexpr std::chrono::milliseconds delay_after(int failed) const noexcept {
    auto delay = first_delay;
    for (int i = 1; i < failed && delay < max_delay; ++i) delay *= 2;
    return std::min(delay, max_delay);
  }
  /// Whether another attempt follows the `failed`-th failed one.
  constexpr bool may_retry(int failed) const noexcept { return failed < max_attempts; }
};

}  // namespace chatrix::push
