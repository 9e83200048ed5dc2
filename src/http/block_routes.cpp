// GET, POST /v1/blocks and DELETE /v1/blocks/{username}.
#include "http/bearer.hpp"
#include "http/json_body.hpp"
#include "http/people_json.hpp"
#include "http/people_routes.hpp"
#include "http/target.hpp"

namespace chatrix::http {

namespace asio = boost::asio;

asio::awaitable<response> people_routes::blocks(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  auto rows = co_await control_.blocks(*who);
  if (!rows) co_return error_response(rows.error());
  std::string body = "{\"blocks\":[";
  for (std::size_t i = 0; i < rows->size(); ++i) {
    if (i) body += ',';
    append_block(body, (*rows)[i]);
  }
  body += "]}";
  co_return response{200, std::move(body)};
}

asio::awaitable<response> people_routes::block(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  auto fields = read_fields(req, {"username"});
  if (!fields) co_return error_response(fields.error());
  auto& username = (*fields)[0];
  if (username.empty()) co_return error_response(make_error(errc::invalid_field, "username is missing or empty"));
  auto blocked = co_await control_.block(*who, std::move(username));
  if (!blocked) co_return error_response(blocked.error());
  std::string body;
  append_block(body, blocked->entry);
  co_return response{blocked->created ? 201u : 200u, std::move(body)};
}

asio::awaitable<response> people_routes::unblock(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  const auto target = parse_target(req.target);
  if (!target || target->segments.size() != 3)
    co_return error_response(make_error(errc::malformed_request, "the request target is not valid"));
  auto username = target->segments[2];
  auto removed = co_await control_.unblock(*who, std::move(username));
  if (!removed) co_return error_response(removed.error());
  co_return response{204, {}};
}

}  // namespace chatrix::http
