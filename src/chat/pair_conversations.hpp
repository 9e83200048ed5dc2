// The conversation of two users, as typing names it (chat_id), learnt from previews rows and
// stored messages and otherwise asked of the store once (store::conversation_between). Only
// known conversations are kept: a pair without one may start one at any moment. Bounded:
// cleared when full. Pure.
#pragma once

#include "core/types.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>

namespace chatrix::chat {

/// Thread-safety: none; owned by the chat service, used on the I/O thread.
class pair_conversations {
 public:
  explicit pair_conversations(std::size_t capacity = 100'000) : capacity_(capacity) {}

  std::optional<conversation_id> find(user_id a, user_id b) const;
  void remember(user_id a, user_id b, conversation_id chat);

 private:
  struct pair_hash {
    std::size_t operator()(const std::pair<user_id, user_id>& p) const noexcept {
      return std::hash<std::uint64_t>{}(static_cast<std::uint64_t>(p.first) * 0x9E3779B97F4A7C15ull ^
                                        static_cast<std::uint64_t>(p.second));
    }
  };
  static std::pair<user_id, user_id> key(user_id a, user_id b) { return a < b ? std::pair{a, b} : std::pair{b, a}; }

  std::size_t capacity_;
  std::unordered_map<std::pair<user_id, user_id>, conversation_id, pair_hash> chats_;
};

inline std::optional<conversation_id> pair_conversations::find(user_id a, user_id b) const {
  const auto it = chats_.find(key(a, b));
  if (it == chats_.end()) return std::nullopt;
  return it->second;
}

inline void pair_conversations::remember(user_id a, user_id b, conversation_id chat) {
  if (chats_.size() >= capacity_ && !chats_.contains(key(a, b))) chats_.clear();
  chats_.insert_or_assign(key(a, b), chat);
}

}  // namespace chatrix::chat
