// The webhook's JSON body (docs/protocol.md, "Push for offline devices"). Pure.
#pragma once

#include "core/types.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chatrix::push {

/// One push as it is sent on every attempt (only sent_at changes between attempts).
struct push_notice {
  std::string push_id;  // 32 hex digits, the same on every retry: receivers dedupe by it
  user_id user = 0;     // the recipient
  std::string username;
  // The newest message the push is about.
  message_id message = 0;
  conversation_id chat = 0;
  user_id from_id = 0;
  std::string from;
  std::int64_t timestamp = 0;  // its created_at, Unix seconds
  int count = 0;               // messages coalesced into this push
  std::vector<push_device> tokens;
  std::optional<std::string> content;  // PUSH_INCLUDE_CONTENT only
};

/// The body of the attempt made at `sent_at` (Unix seconds, also its X-Chatrix-Timestamp).
std::string encode_body(const push_notice& notice, std::int64_t sent_at);

}  // namespace chatrix::push
