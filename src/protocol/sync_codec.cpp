// Encoders of the sync frames, and the preview cursor's text form.
#include "protocol/sync_codec.hpp"

#include "protocol/json_out.hpp"

#include <charconv>

namespace chatrix::protocol {

using detail::append_ids;
using detail::append_int;
using detail::open_frame;

std::string encode_synced(stream_pos latest) {
  std::string out;
  open_frame(out, event::synced);
  out += "{\"pos\":";
  append_int(out, latest);
  out += "}}";
  return out;
}

std::string encode_read_state(conversation_id chat, const std::vector<message_id>& ids, stream_pos pos) {
  std::string out;
  open_frame(out, event::read_state, pos);
  out += "{\"chat_id\":";
  append_int(out, chat);
  out += ",\"message_ids\":";
  append_ids(out, ids);
  out += "}}";
  return out;
}

// "<updated_at>.<conversation>": both decimal. Clients treat it as opaque, so the form may
// change as long as the old one is still read.
std::string format_preview_cursor(const preview_cursor& c) {
  std::string out;
  append_int(out, c.updated_at);
  out += '.';
  append_int(out, c.conversation);
  return out;
}

std::optional<preview_cursor> parse_preview_cursor(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto read = [](std::string_view part, std::int64_t& v) {
    if (part.empty()) return false;
    const auto* end = part.data() + part.size();
    auto [ptr, ec] = std::from_chars(part.data(), end, v);
    return ec == std::errc() && ptr == end;
  };
  preview_cursor c;
  if (!read(text.substr(0, dot), c.updated_at) || !read(text.substr(dot + 1), c.conversation) || c.conversation <= 0)
    return std::nullopt;
  return c;
}

}  // namespace chatrix::protocol
