// send, listen, search, history, previews: everything that goes through the WebSocket session.
#include "cli_error.hpp"
#include "client.hpp"
#include "commands.hpp"
#include "session_access.hpp"

#include <unistd.h>

namespace chatrix::cli {

namespace json = boost::json;

namespace {

bool is(const frame& f, event type) { return f.type == static_cast<int>(type); }

chat_session open_session(const context& ctx) {
  const saved_login login = require_login();
  return chat_session(server_for(ctx, login), login.token);
}

clock::time_point deadline_after(double seconds) {
  return clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) {
    if (!text.empty()) text += ' ';
    text += word;
  }
  return text;
}

/// A mark no other send of this device uses at the same time: DELIVERED and ERR echo it, which
/// is how the answer to this send is told apart from anything else on the session.
std::string unique_mark() {
  return "cli-" + std::to_string(::getpid()) + "-" + std::to_string(clock::now().time_since_epoch().count());
}

bool mark_is(const frame& f, const std::string& mark) {
  const auto* object = f.body.if_object();
  const auto* value = object ? object->if_contains("mark") : nullptr;
  return value && value->is_string() && value->get_string() == mark;
}

bool names_message(const frame& f, std::int64_t message_id) {
  const auto* object = f.body.if_object();
  const auto* ids = object ? object->if_contains("message_ids") : nullptr;
  if (!ids || !ids->is_array()) return false;
  for (const auto& id : ids->get_array())
    if (id.is_int64() && id.get_int64() == message_id) return true;
  return false;
}

/// An ERR about the connection itself (no ref_type: token expired or revoked, flood), which ends
/// whatever the command waits for.
bool about_connection(const frame& f) {
  const auto* object = f.body.if_object();
  return is(f, event::err) && (!object || !object->contains("ref_type"));
}

std::string status_of(bool read, bool delivered) { return read ? "read" : delivered ? "delivered" : "stored"; }

}  // namespace

void run_send(const context& ctx, const send_options& options) {
  chat_session session = open_session(ctx);
  const std::string mark = unique_mark();
  const std::string content = join(options.words);
  const auto deadline = deadline_after(options.timeout_seconds);
  session.send(event::text, json::object{{"to", options.to}, {"content", content}, {"mark", mark}});
  const frame stored = session.await([&](const frame& f) { return is(f, event::delivered) && mark_is(f, mark); },
                                     [&](const frame& f) { return mark_is(f, mark) || about_connection(f); },
                                     deadline, "the server to store the message (DELIVERED)");
  const auto& body = as_object(stored.body, "DELIVERED");
  const std::int64_t message_id = int_field(body, "message_id");
  if (options.wait_received) {
    session.await([&](const frame& f) { return is(f, event::received) && names_message(f, message_id); },
                  about_connection, deadline,
                  "a device of " + options.to + " to receive message " + std::to_string(message_id) +
                      " (RECEIVED); it is stored and will be delivered when " + options.to + " connects");
  }
  ctx.out.record({{"message_id", message_id},
                  {"to", options.to},
                  {"timestamp", int_field(body, "timestamp")},
                  {"duplicate", bool_field_or(body, "duplicate", false)},
                  {"received", options.wait_received}},
                 "message " + std::to_string(message_id) + " to " + options.to +
                     (options.wait_received ? ": stored, received" : ": stored"));
}

void run_listen(const context& ctx, const listen_options& options) {
  chat_session session = open_session(ctx);
  // Without --timeout, a year stands for "until interrupted" (the clock cannot overflow it).
  const auto deadline = deadline_after(options.timeout_seconds.value_or(365.0 * 24 * 3600));
  std::int64_t printed = 0;
  while (!options.count || printed < *options.count) {
    auto f = session.next(deadline);
    if (!f) {
      if (options.count)
        throw cli_error("timeout",
                        std::to_string(printed) + " of " + std::to_string(*options.count) +
                            " messages before --timeout",
                        exit_status::timeout);
      return;
    }
    if (about_connection(*f)) {
      const auto refusal = error_of(f->body);
      throw server_error(refusal.code, refusal.reason);
    }
    if (!is(*f, event::text)) continue;
    const auto& body = as_object(f->body, "TEXT");
    const std::int64_t message_id = int_field(body, "msg_id");
    const std::string from = string_field(body, "from");
    const std::string from_name = body.contains("from_name") ? string_field(body, "from_name") : std::string();
    const std::int64_t timestamp = int_field(body, "timestamp");
    const std::string content = string_field(body, "content");
    ctx.out.record({{"message_id", message_id},
                    {"from", from},
                    {"from_id", int_field(body, "from_id")},
                    {"from_name", from_name},
                    {"to", session.me().username},
                    {"content", content},
                    {"timestamp", timestamp}},
                   utc_time(timestamp) + " " + display(from, from_name) + ": " + content);
    // Printed, so this device has it: the sender now sees RECEIVED.
    session.send(event::ack, json::object{{"message_ids", json::array{message_id}}});
    ++printed;
  }
}

void run_search(const context& ctx, const search_options& options) {
  chat_session session = open_session(ctx);
  const frame answer = session.request(
      event::search_request, json::object{{"username", options.fragment}, {"limit", options.limit}},
      event::search_response);
  if (!answer.body.is_array()) return;
  for (const auto& row : answer.body.get_array()) {
    const user found = user_of(row);
    ctx.out.record({{"id", found.id}, {"username", found.username}, {"name", found.name}},
                   display(found.username, found.name));
  }
}

void run_history(const context& ctx, const history_options& options) {
  chat_session session = open_session(ctx);
  const user peer = session.find_user(options.with);
  json::object request{{"user1_id", session.me().id}, {"user2_id", peer.id}, {"limit", options.limit}};
  if (options.before) request["before_id"] = *options.before;
  const frame answer = session.request(event::history_request, std::move(request), event::history_response);
  if (!answer.body.is_array()) return;  // null: no messages
  for (const auto& row : answer.body.get_array()) {
    const auto& message = as_object(row, "history row");
    const std::int64_t sender = int_field(message, "user_id");
    const bool mine = sender == session.me().id;
    const std::string& from = mine ? session.me().username : peer.username;
    const std::string& to = mine ? peer.username : session.me().username;
    const bool read = bool_field_or(message, "read", false);
    // Read implies delivered, also on a server that does not report delivery.
    const bool delivered = read || bool_field_or(message, "delivered", false);
    const std::int64_t message_id = int_field(message, "id");
    const std::string created_at = string_field(message, "created_at");
    const std::string content = string_field(message, "content");
    ctx.out.record({{"message_id", message_id},
                    {"from", from},
                    {"from_id", sender},
                    {"to", to},
                    {"content", content},
                    {"created_at", created_at},
                    {"delivered", delivered},
                    {"read", read}},
                   created_at + " " + from + ": " + content + "  [#" + std::to_string(message_id) + " " +
                       status_of(read, delivered) + "]");
  }
}

void run_previews(const context& ctx) {
  chat_session session = open_session(ctx);
  if (!session.previews().is_array()) return;  // null: no conversation yet
  for (const auto& row : session.previews().get_array()) {
    const auto& preview = as_object(row, "preview");
    const user peer = user_of(row);
    const std::int64_t unread = int_field_or(preview, "unread", 0);
    json::value last = nullptr;
    std::string last_text;
    if (const auto* message = preview.if_contains("last_message"); message && message->is_object()) {
      const auto& m = message->get_object();
      last = json::object{{"message_id", int_field(m, "id")},
                          {"from_id", int_field(m, "from_id")},
                          {"content", string_field(m, "content")},
                          {"timestamp", int_field(m, "timestamp")}};
      last_text = "  \"" + string_field(m, "content") + "\"";
    }
    ctx.out.record({{"id", peer.id},
                    {"username", peer.username},
                    {"name", peer.name},
                    {"unread", unread},
                    {"last_message", last}},
                   display(peer.username, peer.name) + "  " + std::to_string(unread) + " unread" + last_text);
  }
}

}  // namespace chatrix::cli
