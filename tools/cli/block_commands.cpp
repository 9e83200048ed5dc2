// block, unblock, blocks: whom the user blocked, over HTTP (/v1/blocks). A blocked user's
// messages never reach the user, and neither sees the other's typing or presence.
#include "command_support.hpp"
#include "http_api.hpp"
#include "session_access.hpp"

namespace chatrix::cli {

namespace json = boost::json;

namespace {

/// A row of GET /v1/blocks (and POST's answer): the user and blocked_at. A deleted account has
/// no username any more, so it is named by its id.
void print_block(const context& ctx, const json::value& row, const std::string& verb) {
  const auto& block = as_object(row, "block");
  const user blocked = user_of(row);
  const std::string blocked_at = string_field(block, "blocked_at");
  json::object record{{"id", blocked.id}, {"username", blocked.username}, {"name", blocked.name}, {"blocked_at", blocked_at}};
  std::string who = display(blocked.username, blocked.name);
  if (bool_field_or(block, "deleted", false)) {
    record["deleted"] = true;
    who = blocked.name + " (id " + std::to_string(blocked.id) + ")";
  }
  ctx.out.record(record, verb + who + " since " + blocked_at);
}

}  // namespace

void run_block(const context& ctx, const block_options& options) {
  const saved_login login = require_login();
  print_block(ctx,
              call_json(server_for(ctx, login), login.token, http_request::method::post, "/v1/blocks",
                        json::object{{"username", options.username}}),
              "blocked ");
}

void run_unblock(const context& ctx, const block_options& options) {
  const saved_login login = require_login();
  call_json(server_for(ctx, login), login.token, http_request::method::del, "/v1/blocks/" + url_encoded(options.username),
            nullptr);
  ctx.out.record({{"username", options.username}, {"blocked", false}}, "unblocked " + options.username);
}

void run_blocks(const context& ctx) {
  const saved_login login = require_login();
  const json::value answer = get_json(server_for(ctx, login), login.token, "/v1/blocks");
  const auto* rows = as_object(answer, "blocks").if_contains("blocks");
  if (!rows || !rows->is_array()) return;
  for (const auto& row : rows->get_array()) print_block(ctx, row, "");
}

}  // namespace chatrix::cli
