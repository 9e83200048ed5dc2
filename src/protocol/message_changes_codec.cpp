#include "protocol/message_changes_codec.hpp"

#include "protocol/codec.hpp"
#include "protocol/json_out.hpp"

namespace chatrix::protocol {

using detail::append_ids;
using detail::append_int;
using detail::open_frame;

std::string encode_edited(const message& edited, stream_pos pos) {
  std::string out;
  out.reserve(120 + edited.content.size());
  open_frame(out, event::edit, pos);
  out += "{\"message_id\":";
  append_int(out, edited.id);
  out += ",\"chat_id\":";
  append_int(out, edited.conversation);
  out += ",\"content\":";
  append_json_string(out, edited.content);
  out += ",\"edited_at\":";
  append_json_string(out, format_rfc3339(edited.edited_at.value_or(edited.created_at)));
  out += "}}";
  return out;
}

std::string encode_deleted(const std::vector<message_id>& ids, conversation_id chat, unix_ms deleted_at,
                           stream_pos pos) {
  std::string out;
  out.reserve(100 + ids.size() * 8);
  open_frame(out, event::remove, pos);
  out += "{\"message_ids\":";
  append_ids(out, ids);
  out += ",\"chat_id\":";
  append_int(out, chat);
  out += ",\"deleted_at\":";
  append_json_string(out, format_rfc3339(deleted_at));
  out += "}}";
  return out;
}

void append_message_state(std::string& out, const message& m) {
  if (m.reply_to) {
    out += ",\"reply_to\":";
    append_int(out, *m.reply_to);
  }
  if (m.attachment && !m.deleted_at) {
    const auto& f = *m.attachment;
    out += ",\"attachment\":{\"id\":";
    append_json_string(out, f.id);
    out += ",\"name\":";
    append_json_string(out, f.name);
    out += ",\"type\":";
    append_json_string(out, f.type);
    out += ",\"size\":";
    append_int(out, f.size);
    out += '}';
  }
  if (m.edited_at) {
    out += ",\"edited_at\":";
    append_json_string(out, format_rfc3339(*m.edited_at));
  }
  if (m.deleted_at) out += ",\"deleted\":true";
}

}  // namespace chatrix::protocol
