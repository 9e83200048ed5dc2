// GET, PATCH and DELETE /v1/me.
#include "http/bearer.hpp"
#include "http/json_body.hpp"
#include "http/people_json.hpp"
#include "http/people_routes.hpp"

namespace chatrix::http {

namespace asio = boost::asio;

people_routes::people_routes(chat::account_service& accounts, chat::account_control& control, storage::store& store,
                             const clock& clock, limits::rate export_limit)
    : accounts_(accounts), control_(control), store_(store), clock_(clock), exports_(export_limit) {}

asio::awaitable<response> people_routes::me(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  std::string body;
  append_account(body, *who);
  co_return response{200, std::move(body)};
}

namespace {

/// PATCH /v1/me's body: at least one of "name" (a string) and "show_presence" (a bool), and
/// nothing else, so that a misspelt field is an error rather than a silent no-op.
result<profile_update> read_profile_update(const request& req) {
  auto body = json_object_body(req);
  if (!body) return body.error();
  profile_update change;
  for (const auto& [key, value] : *body) {
    if (key == "name") {
      if (!value.is_string()) return make_error(errc::invalid_field, "name must be a string");
      change.name = std::string(value.get_string());
    } else if (key == "show_presence") {
      if (!value.is_bool()) return make_error(errc::invalid_field, "show_presence must be true or false");
      change.show_presence = value.get_bool();
    } else {
      // The key is valid UTF-8 (the parser checked), and the body at most 16 KiB: echoed whole.
      return make_error(errc::invalid_field,
                        "unknown field '" + std::string(key) + "': only name and show_presence can be changed");
    }
  }
  if (!change.name && !change.show_presence)
    return make_error(errc::invalid_field, "give name, show_presence or both");
  return change;
}

}  // namespace

asio::awaitable<response> people_routes::update_me(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  auto change = read_profile_update(req);
  if (!change) co_return error_response(change.error());
  auto updated = co_await control_.update_profile(*who, std::move(*change));
  if (!updated) co_return bearer_refused(updated.error());
  std::string body;
  append_account(body, *updated);
  co_return response{200, std::move(body)};
}

asio::awaitable<response> people_routes::delete_me(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  auto fields = read_fields(req, {"password"});
  if (!fields) co_return error_response(fields.error());
  auto& password = (*fields)[0];
  if (password.empty()) co_return error_response(make_error(errc::invalid_field, "password is missing or empty"));
  auto deleted = co_await control_.delete_account(*who, std::move(password), req.client_address);
  if (!deleted) co_return bearer_refused(deleted.error());
  co_return response{204, {}};
}

}  // namespace chatrix::http
