// Pure codec for WebSocket frames: text in, structs out, and structs in, text out.
// No sockets, no state; safe from any thread. Fuzzable and tested by fragments.
#pragma once

#include "protocol/frames.hpp"

#include <boost/system/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::protocol {

struct decode_limits {
  std::size_t max_content_bytes = 8 * 1024;
};

/// Decodes the first frame of a session: {"token": "...", "acks": bool?}.
result<auth_request> decode_auth(std::string_view text);

/// Decodes one {"type", "body"} frame sent by a client.
boost::system::result<client_frame, frame_error> decode(std::string_view text, const decode_limits& limits);

// ---- encoders: each returns one complete {"type","body"} frame ----

/// Peer details needed to render a message for a client.
struct message_view {
  const message& msg;
  const user& from;
  const user& to;
};

// `pos`: the frame carries a stream event at this position of the receiving user's stream
// (a top-level "pos"); 0 = none.
std::string encode_text(const message_view& m, event as = event::text, stream_pos pos = 0);
std::string encode_delivered(const message& stored, const std::optional<std::string>& mark, bool duplicate,
                             stream_pos pos = 0);
std::string encode_read(const std::vector<message_id>& ids, stream_pos pos = 0);
std::string encode_error(const error& err, int ref_type = -1, const std::optional<std::string>& mark = {});
std::string encode_profile(const user& u);
std::string encode_previews(const std::vector<chat_preview>& previews);
std::string encode_search(const std::vector<user>& users);
/// `newest_first` as the store returns them; the frame lists them oldest first.
std::string encode_history(const std::vector<message>& newest_first);
std::string encode_received(const std::vector<message_id>& ids, user_id recipient, unix_ms at, stream_pos pos = 0);
/// The answer to a refresh_token frame: the session now expires with the new token.
std::string encode_token_refreshed(std::int64_t expires_at_s);

/// RFC 3339 in UTC with milliseconds, e.g. "2026-11-25T04:10:59.123Z".
std::string format_rfc3339(unix_ms t);

/// Appends `s` as a JSON string literal (quoted and escaped).
void append_json_string(std::string& out, std::string_view s);

}  // namespace chatrix::protocol
