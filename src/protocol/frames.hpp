// The WebSocket frames of the Chatrix protocol (docs/protocol.md) as plain structs.
#pragma once

#include "core/error.hpp"
#include "core/types.hpp"
#include "protocol/event.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace chatrix::protocol {

/// A `since` that names no position the server could have issued (not a number or a string
/// of digits): the session answers it like an expired one (sync_expired).
inline constexpr stream_pos unusable_since = -1;

/// The first frame of a session.
struct auth_request {
  std::string token;
  bool explicit_acks = false;  // extension "acks": the device will send ACK frames
  std::optional<stream_pos> since;  // extension "since": catch up after this position
};

struct text_request {
  std::optional<std::string> to_username;
  std::optional<user_id> to_id;
  std::string content;
  std::optional<std::string> mark;  // canonical JSON text of the client's mark
  std::optional<message_id> reply_to;
  std::optional<std::string> attachment;  // a file id; then content may be ""
};

struct mark_read_request {
  std::vector<message_id> ids;
};

struct search_request {
  std::string fragment;
  int limit = 0;
};

struct history_request {
  user_id user1 = 0;
  user_id user2 = 0;
  std::optional<message_id> before;
  int limit = 0;
};

struct ack_request {
  std::vector<message_id> ids;
};

/// CHATPREVIEWS (5) on request: the most recent conversations, or those after `before`.
struct previews_request {
  std::optional<preview_cursor> before;
  int limit = 0;
};

/// EDIT (14): the sender replaces a message's content.
struct edit_message_request {
  message_id id = 0;
  std::string content;
};

/// DELETE (15): the sender deletes messages for everyone.
struct delete_messages_request {
  std::vector<message_id> ids;  // 1 to max_ids_per_delete
};

/// TYPING (17): the user is (or stopped) typing to one person; never stored.
struct typing_request {
  std::optional<std::string> to_username;
  std::optional<user_id> to_id;
  bool typing = false;
};

/// A fresh token for the live session (before the one it authenticated with expires).
struct refresh_token_request {
  std::string token;
};

using client_frame = std::variant<text_request, mark_read_request, search_request, history_request, ack_request,
                                  refresh_token_request, edit_message_request, delete_messages_request,
                                  previews_request, typing_request>;

/// Why a client frame was refused, with what an ERR reply needs to point back at it.
struct frame_error {
  error err;
  int ref_type = -1;                // the frame's type, when it could be read
  std::optional<std::string> mark;  // a TEXT's mark, when it could be read
};

}  // namespace chatrix::protocol
