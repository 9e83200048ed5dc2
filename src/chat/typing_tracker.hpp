// Who is typing to whom, per typing device: a TYPING true lasts 6 s unless refreshed, and
// ends when its device goes away, so that the recipient is told typing:false in both cases
// (docs/protocol.md, "Typing"). Pure: times are handed in; the chat service owns the timer.
#pragma once

#include "core/types.hpp"
#include "limits/rate.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chatrix::chat {

/// Thread-safety: none; owned by the chat service, used on the I/O thread.
class typing_tracker {
 public:
  /// A true not refreshed within this is over (clients refresh every 3-4 s).
  static constexpr std::chrono::seconds expiry{6};
  /// Recipients one device may be typing to at once; a further one ends the oldest. Keeps the
  /// table at most this many entries per connection whatever a client sends.
  static constexpr std::size_t max_per_device = 8;

  /// A typing that is over and whose recipient must hear typing:false.
  struct ended {
    user from;
    user_id to = 0;
    std::optional<conversation_id> chat;
  };

  /// `device` of `from` is typing to `to` (new, or a refresh). Returns the entry it pushed
  /// out to stay within max_per_device, if any.
  std::optional<ended> typing(std::uint64_t device, const user& from, user_id to, std::optional<conversation_id> chat,
                              limits::steady_time now);
  /// `device` stopped typing to `to`; true when it was typing.
  bool stopped(std::uint64_t device, user_id to);
  /// The typings not refreshed in time (removed).
  std::vector<ended> expired(limits::steady_time now);
  /// Everything `device` was typing (removed): it went away.
  std::vector<ended> device_gone(std::uint64_t device);
  /// When the next typing runs out, if any is active.
  std::optional<limits::steady_time> next_expiry() const;
  std::size_t size() const noexcept { return by_expiry_.size(); }

 private:
  struct entry {
    user_id to = 0;
    std::optional<conversation_id> chat;
    limits::steady_time expires{};
  };
  struct device_typing {
    user from;
    std::vector<entry> entries;  // at most max_per_device, oldest refresh first
  };
  using expiry_key = std::tuple<limits::steady_time, std::uint64_t, user_id>;

  ended take(std::uint64_t device, device_typing& d, std::size_t index);

  std::unordered_map<std::uint64_t, device_typing> devices_;
  std::set<expiry_key> by_expiry_;
};

}  // namespace chatrix::chat
