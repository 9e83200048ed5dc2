// conversations, messages: reading over the HTTP API, without a socket (as an app's server or a
// bot would).
#include "cli_error.hpp"
#include "commands.hpp"
#include "http_api.hpp"
#include "records.hpp"
#include "session_access.hpp"
#include "wire.hpp"

namespace chatrix::cli {

namespace json = boost::json;

namespace {

/// "?a=1&b=2" of the parameters given, or "".
std::string query(const std::vector<std::pair<std::string, std::string>>& parameters) {
  std::string out;
  for (const auto& [key, value] : parameters) out += (out.empty() ? "?" : "&") + key + "=" + url_encoded(value);
  return out;
}

}  // namespace

void run_conversations(const context& ctx, const conversations_options& options) {
  const saved_login login = require_login();
  std::vector<std::pair<std::string, std::string>> parameters{{"limit", std::to_string(options.limit)}};
  if (options.before) parameters.emplace_back("before", *options.before);
  const json::value answer = get_json(server_for(ctx, login), login.token, "/v1/conversations" + query(parameters));
  const auto& page = as_object(answer, "conversations page");
  if (const auto* rows = page.if_contains("conversations"); rows && rows->is_array())
    for (const auto& row : rows->get_array()) print_preview(ctx.out, row);
  // The last record says where the next page begins, when there is one.
  if (const auto* next = page.if_contains("next"); next && next->is_string())
    ctx.out.record({{"next", *next}}, "more: --before " + std::string(next->get_string()));
}

void run_messages(const context& ctx, const messages_options& options) {
  const saved_login login = require_login();
  std::vector<std::pair<std::string, std::string>> parameters{{"limit", std::to_string(options.limit)}};
  if (options.before_id) parameters.emplace_back("before_id", std::to_string(*options.before_id));
  if (options.after_id) parameters.emplace_back("after_id", std::to_string(*options.after_id));
  const json::value answer =
      get_json(server_for(ctx, login), login.token,
               "/v1/conversations/" + std::to_string(options.chat_id) + "/messages" + query(parameters));
  const auto& page = as_object(answer, "messages page");
  const auto* rows = page.if_contains("messages");
  if (!rows || !rows->is_array()) return;
  for (const auto& row : rows->get_array()) {
    const auto& message = as_object(row, "message");
    const std::int64_t id = int_field(message, "id");
    const std::int64_t sender = int_field(message, "user_id");
    const std::string created_at = string_field(message, "created_at");
    const std::string content = string_field(message, "content");
    const bool read = bool_field_or(message, "read", false);
    json::object record{{"message_id", id},
                        {"chat_id", int_field(message, "chat_id")},
                        {"from_id", sender},
                        {"content", content},
                        {"created_at", created_at},
                        {"delivered", read || bool_field_or(message, "delivered", false)},
                        {"read", read}};
    if (const auto* to = message.if_contains("to_id"); to && to->is_int64()) record["to_id"] = *to;
    // The rows name the sender by id; the saved login says which id is this user.
    const std::string from = sender == login.user_id ? login.username : "user " + std::to_string(sender);
    std::string line = created_at + " " + from + ": " + content + "  [#" + std::to_string(id) + " " +
                       status_of(message) + "]";
    add_message_state(message, record, line);
    ctx.out.record(record, line);
  }
}

}  // namespace chatrix::cli
