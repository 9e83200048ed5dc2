// send, typing, search, history, previews: the commands of the WebSocket session (listen has a
// file of its own, listen_command.cpp).
#include "cli_error.hpp"
#include "command_support.hpp"
#include "http_api.hpp"
#include "records.hpp"
#include "session_access.hpp"

#include <sstream>
#include <thread>

#include <unistd.h>

namespace chatrix::cli {

namespace json = boost::json;

namespace {

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

/// How often a held typing indicator is sent again: the server ends one not refreshed within
/// 6 s, and 2 s of margin covers a slow link.
constexpr std::chrono::seconds typing_refresh{4};

bool names_message(const frame& f, std::int64_t message_id) {
  const auto* object = f.body.if_object();
  const auto* ids = object ? object->if_contains("message_ids") : nullptr;
  if (!ids || !ids->is_array()) return false;
  for (const auto& id : ids->get_array())
    if (id.is_int64() && id.get_int64() == message_id) return true;
  return false;
}

/// --attach: the file is uploaded before the session opens, so that a long upload does not keep
/// an idle socket waiting.
std::optional<file_info> upload_attachment(const context& ctx, const send_options& options) {
  if (!options.attach) return std::nullopt;
  const saved_login login = require_login();
  return upload_file(server_for(ctx, login), login.token, *options.attach, std::nullopt, options.attach_type);
}

}  // namespace

void run_send(const context& ctx, const send_options& options) {
  const std::string content = join(options.words);
  if (content.empty() && !options.attach)
    throw cli_error("usage", "send needs a text, or a file with --attach (see chatrix-cli send --help)",
                    exit_status::usage);
  const std::optional<file_info> attachment = upload_attachment(ctx, options);
  chat_session session = open_session(ctx);
  const std::string mark = unique_mark();
  const auto deadline = deadline_after(options.timeout_seconds);
  json::object text{{"to", options.to}, {"content", content}, {"mark", mark}};
  if (options.reply_to) text["reply_to"] = *options.reply_to;
  if (attachment) text["attachment"] = attachment->id;
  session.send(event::text, std::move(text));
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
  json::object record{{"message_id", message_id},
                      {"to", options.to},
                      {"timestamp", int_field(body, "timestamp")},
                      {"duplicate", bool_field_or(body, "duplicate", false)},
                      {"received", options.wait_received}};
  std::string line = "message " + std::to_string(message_id) + " to " + options.to +
                     (options.wait_received ? ": stored, received" : ": stored");
  if (options.reply_to) {
    record["reply_to"] = *options.reply_to;
    line += ", a reply to #" + std::to_string(*options.reply_to);
  }
  if (attachment) {
    record["attachment"] = file_record(*attachment);
    line += ", with " + attachment->name + " (file " + attachment->id + ")";
  }
  ctx.out.record(record, line);
}

void run_typing(const context& ctx, const typing_options& options) {
  chat_session session = open_session(ctx);
  const auto typing = [&](bool on) { return json::object{{"to", options.to}, {"typing", on}}; };
  // Confirmed (an empty search answered after it): a refusal (unknown_recipient, blocked...) is
  // reported, not lost.
  session.send_and_confirm(event::typing, typing(!options.stop));
  if (!options.stop) {
    // The refreshes themselves keep the connection from idling out, so nothing is read until the
    // end: the confirmation of the final false then reports a refusal of any of them.
    const auto end = deadline_after(options.hold_seconds);
    for (auto refresh = clock::now() + typing_refresh; refresh < end; refresh += typing_refresh) {
      std::this_thread::sleep_until(refresh);
      session.send(event::typing, typing(true));
    }
    std::this_thread::sleep_until(end);
    session.send_and_confirm(event::typing, typing(false));
  }
  const double held = options.stop ? 0.0 : options.hold_seconds;
  std::ostringstream seconds;
  seconds << held;
  ctx.out.record({{"to", options.to}, {"typing", !options.stop}, {"seconds", held}},
                 options.stop ? "stopped typing to " + options.to
                              : "typed to " + options.to + " for " + seconds.str() + " s");
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
    json::object record{{"message_id", message_id},
                        {"from", from},
                        {"from_id", sender},
                        {"to", to},
                        {"content", content},
                        {"created_at", created_at},
                        {"delivered", delivered},
                        {"read", read}};
    std::string line = created_at + " " + from + ": " + content + "  [#" + std::to_string(message_id) + " " +
                       status_of(message) + "]";
    add_message_state(message, record, line);
    ctx.out.record(record, line);
  }
}

void run_previews(const context& ctx, const previews_options& options) {
  chat_session session = open_session(ctx);
  json::value rows = session.previews();
  if (options.before || options.limit) {
    json::object request;
    if (options.before) request["before"] = *options.before;
    if (options.limit) request["limit"] = *options.limit;
    rows = session.request(event::chat_previews, std::move(request), event::chat_previews).body;
  }
  if (!rows.is_array()) return;  // null: no conversation (or none before the cursor)
  for (const auto& row : rows.get_array()) print_preview(ctx.out, row);
}

}  // namespace chatrix::cli
