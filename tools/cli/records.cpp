#include "records.hpp"

#include "wire.hpp"

namespace chatrix::cli {

namespace json = boost::json;

void add_message_state(const json::object& message, json::object& record, std::string& line) {
  if (const auto* reply = message.if_contains("reply_to"); reply && reply->is_int64()) {
    record["reply_to"] = *reply;
    line += "  (reply to #" + std::to_string(reply->get_int64()) + ")";
  }
  if (const auto* file = message.if_contains("attachment"); file && file->is_object()) {
    const auto& f = file->get_object();
    record["attachment"] = f;
    line += "  [file " + string_field(f, "id") + ": " + string_field(f, "name") + ", " +
            std::to_string(int_field(f, "size")) + " bytes]";
  }
  if (const auto* edited = message.if_contains("edited_at"); edited && edited->is_string()) {
    record["edited_at"] = *edited;
    line += "  (edited)";
  }
  if (bool_field_or(message, "deleted", false)) {
    record["deleted"] = true;
    line += "  (deleted)";
  }
}

void print_preview(const printer& out, const json::value& row) {
  const auto& preview = as_object(row, "preview");
  const user peer = user_of(row);
  const std::int64_t unread = int_field_or(preview, "unread", 0);
  json::value last = nullptr;
  std::string last_text;
  if (const auto* message = preview.if_contains("last_message"); message && message->is_object()) {
    const auto& m = message->get_object();
    json::object last_record{{"message_id", int_field(m, "id")},
                             {"from_id", int_field(m, "from_id")},
                             {"content", string_field(m, "content")},
                             {"timestamp", int_field(m, "timestamp")}};
    last_text = "  \"" + string_field(m, "content") + "\"";
    add_message_state(m, last_record, last_text);
    last = std::move(last_record);
  }
  json::object record{{"id", peer.id},
                      {"username", peer.username},
                      {"name", peer.name},
                      {"unread", unread},
                      {"last_message", last}};
  if (const auto* chat = preview.if_contains("chat_id"); chat && chat->is_int64()) record["chat_id"] = *chat;
  if (const auto* cursor = preview.if_contains("cursor"); cursor && cursor->is_string()) record["cursor"] = *cursor;
  std::string who = display(peer.username, peer.name);
  if (bool_field_or(preview, "deleted", false)) {
    record["deleted"] = true;
    who = peer.name;  // "Deleted account": the username is gone
  }
  std::string presence_text;
  if (const auto* online = preview.if_contains("online"); online && online->is_bool()) {
    record["online"] = *online;
    const std::int64_t last_seen = int_field_or(preview, "last_seen", 0);
    record["last_seen"] = last_seen ? json::value(last_seen) : json::value(nullptr);
    if (online->get_bool()) presence_text = "  (online)";
    else if (last_seen) presence_text = "  (last seen " + utc_time(last_seen) + ")";
  }
  out.record(record, who + "  " + std::to_string(unread) + " unread" + last_text + presence_text);
}

std::string status_of(const json::object& row) {
  const bool read = bool_field_or(row, "read", false);
  // Read implies delivered, also on a server that does not report delivery.
  const bool delivered = read || bool_field_or(row, "delivered", false);
  return read ? "read" : delivered ? "delivered" : "stored";
}

}  // namespace chatrix::cli
