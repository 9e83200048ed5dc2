#include "http/api_routes.hpp"

#include "chat/await.hpp"
#include "http/bearer.hpp"
#include "http/target.hpp"
#include "protocol/codec.hpp"
#include "protocol/limits.hpp"
#include "protocol/sync_codec.hpp"

#include <algorithm>
#include <string_view>

namespace chatrix::http {

namespace asio = boost::asio;

namespace {

constexpr std::int64_t default_page = 50;

/// The rows of a {"type": N, "body": [...] | null} frame as the codec writes it (type first,
/// body last), so that the API's rows are exactly the socket's; [] for none.
std::string_view frame_rows(std::string_view frame) {
  constexpr std::string_view key = "\"body\":";
  const auto at = frame.find(key);
  const auto rows = frame.substr(at + key.size(), frame.size() - at - key.size() - 1);
  return rows == "null" ? std::string_view("[]") : rows;
}

response bad_target() { return error_response(make_error(errc::malformed_request, "the request target is not valid")); }

}  // namespace

api_routes::api_routes(chat::account_service& accounts, chat::chat_service& chat, storage::store& store)
    : accounts_(accounts), chat_(chat), store_(store) {}

asio::awaitable<response> api_routes::conversations(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  const auto target = parse_target(req.target);
  if (!target) co_return bad_target();
  const auto limit = target->int_param("limit", 1, protocol::max_previews, default_page);
  if (!limit) co_return error_response(limit.error());
  std::optional<preview_cursor> before;
  if (const auto* text = target->param("before")) {
    before = protocol::parse_preview_cursor(*text);
    if (!before) co_return error_response(make_error(errc::invalid_field, "before is not a cursor this server gave"));
  }
  auto rows = co_await chat::await_callback<std::vector<chat_preview>>([&](auto done) {
    if (before) {
      store_.chat_previews_page(who->id, *before, static_cast<int>(*limit), done);
    } else {
      store_.chat_previews(who->id, static_cast<int>(*limit), done);
    }
  });
  if (!rows) co_return error_response(rows.error());
  co_await chat_.fill_presence(*who, *rows);
  const auto frame = protocol::encode_previews(*rows);
  std::string body = "{\"conversations\":";
  body += frame_rows(frame);
  body += ",\"next\":";
  // A full page may have more after it; a short one is the last.
  if (rows->size() == static_cast<std::size_t>(*limit)) {
    const auto& last = rows->back();
    protocol::append_json_string(body, protocol::format_preview_cursor({last.updated_at, last.conversation}));
  } else {
    body += "null";
  }
  body += '}';
  co_return response{200, std::move(body)};
}

asio::awaitable<response> api_routes::conversation_messages(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  const auto target = parse_target(req.target);
  if (!target || target->segments.size() != 4) co_return bad_target();
  // Any chat id that is not a conversation of the caller's is not found, a malformed one too.
  conversation_id chat = 0;
  const auto& id_text = target->segments[2];
  if (id_text.empty() || !std::all_of(id_text.begin(), id_text.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      id_text.size() > 18 || (chat = std::stoll(id_text)) <= 0)
    co_return error_response(make_error(errc::not_found, "no such conversation"));
  const auto before = target->id_param("before_id");
  if (!before) co_return error_response(before.error());
  const auto after = target->id_param("after_id");
  if (!after) co_return error_response(after.error());
  if (*before && *after) co_return error_response(make_error(errc::invalid_field, "give before_id or after_id, not both"));
  const auto limit = target->int_param("limit", 1, protocol::max_history_page, default_page);
  if (!limit) co_return error_response(limit.error());
  auto rows = co_await chat::await_callback<std::vector<message>>([&](auto done) {
    store_.conversation_messages(who->id, chat, *before, *after, static_cast<int>(*limit), done);
  });
  if (!rows) co_return error_response(rows.error());
  // encode_history takes the store's newest-first order; a page after an id comes oldest first.
  if (*after) std::reverse(rows->begin(), rows->end());
  const auto frame = protocol::encode_history(*rows);
  std::string body = "{\"messages\":";
  body += frame_rows(frame);
  body += '}';
  co_return response{200, std::move(body)};
}

asio::awaitable<response> api_routes::send_message(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  auto sent = co_await chat_.send_over_http(*who, req.body);
  if (!sent) co_return error_response(sent.error());
  const auto& m = sent->stored;
  std::string body = "{\"message_id\":" + std::to_string(m.id) + ",\"chat_id\":" + std::to_string(m.conversation) +
                     ",\"seq\":" + std::to_string(m.seq) + ",\"duplicate\":" + (sent->duplicate ? "true" : "false") +
                     '}';
  co_return response{sent->duplicate ? 200u : 201u, std::move(body)};
}

}  // namespace chatrix::http
