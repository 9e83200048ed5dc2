// The frames of device sync (docs/protocol.md, "Sync"): SYNCED, READ_STATE and the opaque
// cursor that pages CHATPREVIEWS. Pure, like the rest of the codec.
#pragma once

#include "core/types.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::protocol {

/// SYNCED (13): the device has every event of its stream up to `latest` (0: none yet).
std::string encode_synced(stream_pos latest);

/// READ_STATE (16): the user read these messages of `chat` on another device.
std::string encode_read_state(conversation_id chat, const std::vector<message_id>& ids, stream_pos pos);

/// A preview row's "cursor": where the next page starts when passed back as "before".
std::string format_preview_cursor(const preview_cursor& c);
/// The cursor a client passed back; nullopt when it is not one this server writes.
std::optional<preview_cursor> parse_preview_cursor(std::string_view text);

}  // namespace chatrix::protocol
