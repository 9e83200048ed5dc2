// The frames about people rather than messages (docs/protocol.md, "Typing" and "Presence and
// last seen"): TYPING (17) and PRESENCE (18), and a user rendered on its own. Pure, like the
// rest of the codec.
#pragma once

#include "core/types.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace chatrix::protocol {

/// TYPING (17) to the recipient's devices: `from` is (or stopped) typing to them; `chat` is
/// their conversation, nullopt when they have none yet.
std::string encode_typing(const user& from, std::optional<conversation_id> chat, bool typing);

/// PRESENCE (18): `subject` as the receiving user may see them.
std::string encode_presence(const user& subject, const presence_view& seen);

/// A user object as every encoder writes it ({"id","username","name"}, or the deleted
/// account's {"id","username":"","name":"Deleted account","deleted":true}).
std::string encode_user(const user& u);

/// The sender's id of a TEXT frame written by encode_text (whose body starts with "msg_id"
/// and "from_id"), without parsing the frame; nullopt for any other frame.
std::optional<user_id> text_sender(std::string_view frame);

}  // namespace chatrix::protocol
