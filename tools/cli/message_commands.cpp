// edit, delete, read: changing messages and their read state over the socket.
#include "cli_error.hpp"
#include "command_support.hpp"

namespace chatrix::cli {

namespace json = boost::json;

void run_edit(const context& ctx, const edit_options& options) {
  chat_session session = open_session(ctx);
  session.send(event::edit, json::object{{"message_id", options.message_id}, {"content", join(options.words)}});
  // The edit comes back to every device of both people, this one included.
  const frame edited = session.await(
      [&](const frame& f) {
        const auto* body = f.body.if_object();
        const auto* id = body ? body->if_contains("message_id") : nullptr;
        return is(f, event::edit) && id && id->is_int64() && id->get_int64() == options.message_id;
      },
      [](const frame& f) { return refuses(f, event::edit); }, deadline_after(options.timeout_seconds),
      "the edit of message " + std::to_string(options.message_id) + " (EDIT)");
  const auto& body = as_object(edited.body, "EDIT");
  json::object record{{"message_id", options.message_id},
                      {"chat_id", int_field(body, "chat_id")},
                      {"content", string_field(body, "content")},
                      {"edited_at", string_field(body, "edited_at")}};
  if (edited.pos) record["pos"] = *edited.pos;
  ctx.out.record(record, "message " + std::to_string(options.message_id) + " edited at " +
                             string_field(body, "edited_at"));
}

void run_delete(const context& ctx, const delete_options& options) {
  chat_session session = open_session(ctx);
  // A delete has no answer of its own when it succeeds (deleting a deleted message again is no
  // event at all), so it is confirmed by the answer to the next request.
  session.send_and_confirm(event::remove, json::object{{"message_ids", id_array(options.message_ids)}});
  std::string line = "deleted";
  for (const auto id : options.message_ids) line += " #" + std::to_string(id);
  ctx.out.record({{"message_ids", id_array(options.message_ids)}, {"deleted", true}}, line);
}

void run_read(const context& ctx, const read_options& options) {
  chat_session session = open_session(ctx);
  // MARK_READ has no answer for the reader either: the senders and the reader's other devices
  // hear of it.
  session.send_and_confirm(event::mark_read, json::object{{"message_ids", id_array(options.message_ids)}});
  std::string line = "marked read";
  for (const auto id : options.message_ids) line += " #" + std::to_string(id);
  ctx.out.record({{"message_ids", id_array(options.message_ids)}, {"read", true}}, line);
}

}  // namespace chatrix::cli
