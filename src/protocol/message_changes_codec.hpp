// Encoders for what happens to a message after it was sent: EDIT (14) and DELETE (15) frames,
// and the fields a message carries beyond the original protocol's (a reply, a file, an edit,
// a delete) wherever a message is rendered (TEXT, SENT, history rows, previews).
#pragma once

#include "core/types.hpp"

#include <string>
#include <vector>

namespace chatrix::protocol {

/// `{"type":14,"pos":P,"body":{"message_id","chat_id","content","edited_at"}}` ("pos" left
/// out when 0).
std::string encode_edited(const message& edited, stream_pos pos);

/// `{"type":15,"pos":P,"body":{"message_ids","chat_id","deleted_at"}}` ("pos" left out when 0).
std::string encode_deleted(const std::vector<message_id>& ids, conversation_id chat, unix_ms deleted_at,
                           stream_pos pos);

/// Appends `,"reply_to":<id>`, `,"attachment":{"id","name","type","size"}`,
/// `,"edited_at":"<RFC 3339>"` and `,"deleted":true`, each only when it applies, inside a
/// message's JSON object. A deleted message shows no file (the store has let go of it anyway).
void append_message_state(std::string& out, const message& m);

}  // namespace chatrix::protocol
