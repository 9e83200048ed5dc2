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

/// The first frame of a session.
struct auth_request {
  std::string token;
  bool explicit_acks = false;  // extension "acks": the device will send ACK frames
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

/// A fresh token for the live session (before the one it authenticated with expires).
struct refresh_token_request {
  std::string token;
};

using client_frame = std::variant<text_request, mark_read_request, search_request, history_request, ack_request,
                                  refresh_token_request>;

/// Why a client frame was refused, with what an ERR reply needs to point back at it.
struct frame_error {
  error err;
  int ref_type = -1;                // the frame's type, when it could be read
  std::optional<std::string> mark;  // a TEXT's mark, when it could be read
};

}  // namespace chatrix::protocol
