// Domain vocabulary: ids, users, messages and previews as every layer sees them.
// Plain data; no I/O, no JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chatrix {

using user_id = std::int64_t;
using message_id = std::int64_t;
using conversation_id = std::int64_t;

/// Milliseconds since the Unix epoch (UTC).
using unix_ms = std::int64_t;

/// A user's public profile.
struct user {
  user_id id = 0;
  std::string username;  // as registered (case kept); unique without regard to case
  std::string name;      // display name
};

/// A user with the stored password hash; never leaves the auth layer.
struct user_credentials {
  user account;
  std::string password_hash;
};

struct new_user {
  std::string username;
  std::string name;
  std::string password_hash;
  unix_ms created_at = 0;
};

/// One stored message of a 1:1 conversation.
struct message {
  message_id id = 0;
  conversation_id conversation = 0;
  std::int64_t seq = 0;  // gap-free, starting at 1, within the conversation
  user_id sender = 0;
  user_id recipient = 0;
  std::string content;
  unix_ms created_at = 0;
  std::optional<unix_ms> delivered_at;  // first receipt by any recipient device
  std::optional<unix_ms> read_at;
};

/// A request to store one message. `mark` is the client's mark as JSON text, a number
/// spelled as the client sent it and a string in canonical form (e.g. `17`, `1.50` or
/// `"abc"`), kept so that retries can be recognised: the same text is the same mark.
struct send_request {
  user_id sender = 0;
  user_id recipient = 0;
  std::string content;
  std::optional<std::string> mark;
  unix_ms now = 0;
  unix_ms retry_window = 0;  // a matching message newer than now - retry_window is a retry
};

struct send_result {
  message stored;
  bool duplicate = false;  // true: a retry; `stored` is the original message
};

/// A message whose state changed, with who has to hear about it.
struct message_ref {
  message_id id = 0;
  user_id sender = 0;
  user_id recipient = 0;
};

/// What marking messages read changed. Reading a message also counts as receiving it, so
/// a message read before any device reported it received becomes delivered too.
struct read_result {
  std::vector<message_ref> read;       // not read before, in the order first given
  std::vector<message_ref> delivered;  // those of `read` that were not delivered before either
};

/// One row of CHATPREVIEWS: the other party and the conversation's latest state.
struct chat_preview {
  user peer;
  conversation_id conversation = 0;
  std::optional<message> last;
  std::int64_t unread = 0;  // messages to the viewer not yet read
  unix_ms updated_at = 0;
};

}  // namespace chatrix
