#include "protocol/people_codec.hpp"

#include "protocol/codec.hpp"
#include "protocol/json_out.hpp"

#include <charconv>

namespace chatrix::protocol {

using detail::append_int;
using detail::append_user_fields;
using detail::open_frame;
using detail::seconds;

std::string encode_typing(const user& from, std::optional<conversation_id> chat, bool typing) {
  std::string out;
  out.reserve(96 + from.username.size());
  open_frame(out, event::typing);
  out += "{\"from_id\":";
  append_int(out, from.id);
  out += ",\"from\":";
  append_json_string(out, from.username);
  out += ",\"chat_id\":";
  if (chat) {
    append_int(out, *chat);
  } else {
    out += "null";
  }
  out += ",\"typing\":";
  out += typing ? "true" : "false";
  out += "}}";
  return out;
}

std::string encode_presence(const user& subject, const presence_view& seen) {
  std::string out;
  out.reserve(96 + subject.username.size());
  open_frame(out, event::presence);
  out += "{\"user_id\":";
  append_int(out, subject.id);
  out += ",\"username\":";
  append_json_string(out, subject.deleted ? std::string_view() : std::string_view(subject.username));
  out += ",\"online\":";
  out += seen.online ? "true" : "false";
  out += ",\"last_seen\":";
  if (seen.last_seen) {
    append_int(out, seconds(*seen.last_seen));
  } else {
    out += "null";
  }
  out += "}}";
  return out;
}

std::string encode_user(const user& u) {
  std::string out;
  append_user_fields(out, u);
  out += '}';
  return out;
}

std::optional<user_id> text_sender(std::string_view frame) {
  // encode_text writes {"type":0[,"pos":P],"body":{"msg_id":M,"from_id":F,...: the key is
  // within the first few dozen bytes, so this stays cheap on the per-message path.
  if (!frame.starts_with("{\"type\":0,")) return std::nullopt;
  constexpr std::string_view key = "\"from_id\":";
  const auto at = frame.substr(0, 128).find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* first = frame.data() + at + key.size();
  user_id id = 0;
  auto [end, ec] = std::from_chars(first, frame.data() + frame.size(), id);
  if (ec != std::errc() || end == first) return std::nullopt;
  return id;
}

}  // namespace chatrix::protocol
