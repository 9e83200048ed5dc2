// listen: messages as they come, confirmed with ACK. With --since (or --events) it is a sync
// client: every event of the user's stream after that position, then SYNCED, then live ones,
// each printed with its position, so the next run can go on from the last one printed; and
// who is typing to the user and who came online or went offline (no position: never stored).
#include "cli_error.hpp"
#include "command_support.hpp"
#include "records.hpp"

#include <boost/json/serialize.hpp>

namespace chatrix::cli {

namespace json = boost::json;

namespace {

class listener {
 public:
  listener(const context& ctx, chat_session& session, bool events) : ctx_(ctx), session_(session), events_(events) {}

  /// Prints the frame if it is one this run shows; true when it was a message to this user.
  bool show(const frame& f) {
    switch (static_cast<event>(f.type)) {
      case event::text:
        show_message(f, false);
        // Printed, so this device has it: the sender now sees RECEIVED.
        session_.send(event::ack, json::object{{"message_ids", json::array{message_id_of(f)}}});
        return true;
      case event::sent:
        if (events_) show_message(f, true);
        return false;
      case event::synced:
        if (events_) show_synced(f);
        return false;
      case event::edit:
        if (events_) show_edit(f);
        return false;
      case event::remove:
        if (events_) show_ids(f, "deleted", "deleted for everyone: ", as_object(f.body, "DELETE"));
        return false;
      case event::read_state:
        if (events_) show_ids(f, "read_state", "read on another device: ", as_object(f.body, "READ_STATE"));
        return false;
      case event::received:
        if (events_) show_ids(f, "received", "received by the recipient: ", as_object(f.body, "RECEIVED"));
        return false;
      case event::mark_read:
        if (events_) show_read(f);
        return false;
      case event::typing:
        if (events_) show_typing(f);
        return false;
      case event::presence:
        if (events_) show_presence(f);
        return false;
      case event::err:
        show_error(f);
        return false;
      default:
        return false;  // a newer server's event
    }
  }

 private:
  static std::int64_t message_id_of(const frame& f) { return int_field(as_object(f.body, "message"), "msg_id"); }

  void print(const frame& f, json::object record, std::string line) const {
    if (f.pos) {
      record["pos"] = *f.pos;
      line += "  (pos " + std::to_string(*f.pos) + ")";
    }
    ctx_.out.record(record, line);
  }

  /// TEXT (to this user) or SENT (this user's, from another device).
  void show_message(const frame& f, bool own) {
    const auto& body = as_object(f.body, own ? "SENT" : "TEXT");
    const std::string from = string_field(body, "from");
    const std::string from_name = body.contains("from_name") ? string_field(body, "from_name") : std::string();
    const std::int64_t timestamp = int_field(body, "timestamp");
    const std::string content = string_field(body, "content");
    json::object record{{"message_id", int_field(body, "msg_id")},
                        {"from", from},
                        {"from_id", int_field(body, "from_id")},
                        {"from_name", from_name},
                        {"to", own ? string_field(body, "to") : session_.me().username},
                        {"content", content},
                        {"timestamp", timestamp}};
    std::string line = utc_time(timestamp) + " " + display(from, from_name);
    if (own) line += " to " + string_field(body, "to");
    line += ": " + content;
    if (events_) record["event"] = own ? "sent" : "message";
    add_message_state(body, record, line);
    print(f, std::move(record), std::move(line));
  }

  void show_edit(const frame& f) {
    const auto& body = as_object(f.body, "EDIT");
    const std::int64_t id = int_field(body, "message_id");
    const std::string content = string_field(body, "content");
    print(f,
          {{"event", "edited"},
           {"message_id", id},
           {"chat_id", int_field(body, "chat_id")},
           {"content", content},
           {"edited_at", string_field(body, "edited_at")}},
          "message " + std::to_string(id) + " edited: " + content);
  }

  /// An event that names messages: DELETE, READ_STATE, RECEIVED.
  void show_ids(const frame& f, const char* name, const std::string& text, const json::object& body) {
    json::object record{{"event", name}};
    for (const auto* key : {"message_ids", "chat_id", "deleted_at", "to_id"})
      if (const auto* value = body.if_contains(key)) record[key] = *value;
    print(f, std::move(record), text + ids_text(body.if_contains("message_ids")));
  }

  /// MARK_READ's notice is the bare array of ids.
  void show_read(const frame& f) {
    print(f, {{"event", "read"}, {"message_ids", f.body}}, "read by the recipient: " + ids_text(&f.body));
  }

  void show_typing(const frame& f) {
    const auto& body = as_object(f.body, "TYPING");
    const std::string from = string_field(body, "from");
    const bool typing = bool_field_or(body, "typing", false);
    const json::value chat = body.contains("chat_id") ? body.at("chat_id") : json::value(nullptr);
    ctx_.out.record(
        {{"event", "typing"}, {"from_id", int_field(body, "from_id")}, {"from", from}, {"chat_id", chat}, {"typing", typing}},
        from + (typing ? " is typing" : " stopped typing"));
  }

  void show_presence(const frame& f) {
    const auto& body = as_object(f.body, "PRESENCE");
    const std::string username = string_field(body, "username");
    const bool online = bool_field_or(body, "online", false);
    const auto* seen = body.if_contains("last_seen");
    const bool seen_known = seen && (seen->is_int64() || seen->is_uint64());
    json::object record{{"event", "presence"},
                        {"user_id", int_field(body, "user_id")},
                        {"username", username},
                        {"online", online},
                        {"last_seen", seen_known ? *seen : json::value(nullptr)}};
    std::string line = username + (online ? " is online" : " is offline");
    if (!online && seen_known) line += ", last seen " + utc_time(seen->to_number<std::int64_t>());
    ctx_.out.record(record, line);
  }

  void show_synced(const frame& f) {
    const std::int64_t pos = int_field(as_object(f.body, "SYNCED"), "pos");
    ctx_.out.record({{"event", "synced"}, {"pos", pos}}, "in step at pos " + std::to_string(pos));
  }

  /// sync_expired: the server carries on as without --since (pending messages, then SYNCED);
  /// said, and listening goes on. Any other ERR about the connection ends the command.
  void show_error(const frame& f) {
    const auto refusal = error_of(f.body);
    if (refusal.code == "sync_expired") {
      ctx_.out.record({{"event", "sync_expired"}, {"error", refusal.reason}},
                      "sync expired (" + refusal.reason + "): pending messages follow, then the latest pos");
      return;
    }
    if (about_connection(f)) throw server_error(refusal.code, refusal.reason);
  }

  static std::string ids_text(const json::value* ids) {
    std::string text;
    if (!ids || !ids->is_array()) return text;
    for (const auto& id : ids->get_array()) {
      if (!text.empty()) text += ' ';
      // Appended piecewise: GCC 12 warns (-Wrestrict, wrongly) on "#" + a temporary string.
      text += '#';
      text += json::serialize(id);
    }
    return text;
  }

  const context& ctx_;
  chat_session& session_;
  bool events_;
};

}  // namespace

void run_listen(const context& ctx, const listen_options& options) {
  chat_session session = open_session(ctx, options.since);
  listener shown(ctx, session, options.events || options.since.has_value());
  // Without --timeout, a year stands for "until interrupted" (the clock cannot overflow it).
  const auto deadline = deadline_after(options.timeout_seconds.value_or(365.0 * 24 * 3600));
  std::int64_t messages = 0;
  while (!options.count || messages < *options.count) {
    auto f = session.next(deadline);
    if (!f) {
      if (options.count)
        throw cli_error("timeout",
                        std::to_string(messages) + " of " + std::to_string(*options.count) +
                            " messages before --timeout",
                        exit_status::timeout);
      return;
    }
    if (shown.show(*f)) ++messages;
    if (options.until_synced && is(*f, event::synced)) return;
  }
}

}  // namespace chatrix::cli
