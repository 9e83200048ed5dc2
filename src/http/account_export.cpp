// GET /v1/me/export: everything kept about a person, as one JSON document (the data
// portability of GDPR art. 20). Written chunk by chunk while the store is read, a page at a
// time, each write awaited: a person with years of messages costs a page of memory, and a
// slow reader holds back the reads instead of filling the server.
#include "chat/await.hpp"
#include "http/bearer.hpp"
#include "http/body_stream.hpp"
#include "http/people_json.hpp"
#include "http/people_routes.hpp"
#include "protocol/codec.hpp"
#include "protocol/json_out.hpp"
#include "protocol/limits.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

namespace chatrix::http {

namespace asio = boost::asio;
using chat::await_callback;

namespace {

/// Written to the client once this much is buffered (and at the end of each conversation).
constexpr std::size_t flush_bytes = 64 * 1024;

/// The rows of an encoded history frame ({"type":N,"body":[...]}), without the brackets; ""
/// for none.
std::string_view history_rows(std::string_view frame) {
  constexpr std::string_view key = "\"body\":[";
  const auto at = frame.find(key);
  if (at == std::string_view::npos) return {};
  return frame.substr(at + key.size(), frame.size() - at - key.size() - 2);
}

/// A conversation to export: read from the previews before any message is, so that one
/// moving to the top of the list while the export runs is neither missed nor repeated.
struct exported_chat {
  conversation_id id = 0;
  user peer;
};

}  // namespace

asio::awaitable<response> people_routes::export_account(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  if (const auto wait = exports_.take(std::to_string(who->id), std::chrono::steady_clock::now()); wait.count() > 0)
    co_return error_response(
        make_limited(errc::rate_limited, "too many exports (EXPORT_LIMIT); retry after retry_after_ms", wait.count()));
  if (req.body_out == nullptr) co_return error_response(make_error(errc::internal, "the answer cannot be streamed"));
  co_return co_await write_export(req, *who);
}

asio::awaitable<response> people_routes::write_export(const request& req, const user& who) {
  // What fits before the first byte is read first, so that a failure can still be answered
  // with its status.
  auto account = co_await await_callback<std::optional<user>>([&](auto done) { store_.find_user_by_id(who.id, done); });
  if (!account) co_return error_response(account.error());
  if (!*account || (*account)->deleted)
    co_return bearer_refused(make_error(errc::unauthorized, "the token's user does not exist"));
  auto blocked = co_await control_.blocks(who);
  if (!blocked) co_return error_response(blocked.error());
  auto devices =
      co_await await_callback<std::vector<push_device>>([&](auto done) { store_.push_devices(who.id, done); });
  if (!devices) co_return error_response(devices.error());
  std::vector<exported_chat> chats;
  std::unordered_set<conversation_id> listed;
  std::optional<preview_cursor> after;
  for (;;) {
    auto page = co_await await_callback<std::vector<chat_preview>>([&](auto done) {
      if (after) {
        store_.chat_previews_page(who.id, *after, protocol::max_previews, done);
      } else {
        store_.chat_previews(who.id, protocol::max_previews, done);
      }
    });
    if (!page) co_return error_response(page.error());
    for (auto& p : *page) {
      if (listed.insert(p.conversation).second) chats.push_back({p.conversation, std::move(p.peer)});
    }
    if (page->size() < static_cast<std::size_t>(protocol::max_previews)) break;
    after = preview_cursor{page->back().updated_at, page->back().conversation};
  }

  response head{200, {}};
  head.headers.emplace_back("Content-Disposition",
                            "attachment; filename=\"chatrix-export-" + (*account)->username + ".json\"");
  head.headers.emplace_back("X-Content-Type-Options", "nosniff");
  head.headers.emplace_back("Cache-Control", "private, no-store");
  response answered{200, {}};
  answered.streamed = true;
  auto& sink = *req.body_out;
  if (!co_await sink.start(std::move(head), std::nullopt)) co_return answered;

  const auto& me = **account;
  std::string out = "{\"format\":\"chatrix-export/1\",\"exported_at\":";
  protocol::append_json_string(out, protocol::format_rfc3339(clock_.now_ms()));
  out += ",\"account\":";
  protocol::detail::append_user_fields(out, me);
  out += ",\"show_presence\":";
  out += me.show_presence ? "true" : "false";
  out += ",\"last_seen\":";
  out += me.last_seen ? std::to_string(*me.last_seen / 1000) : "null";
  out += "},\"blocks\":[";
  for (std::size_t i = 0; i < blocked->size(); ++i) {
    if (i) out += ',';
    append_block(out, (*blocked)[i]);
  }
  out += "],\"devices\":[";
  for (std::size_t i = 0; i < devices->size(); ++i) {
    if (i) out += ',';
    append_device(out, (*devices)[i]);
  }
  out += "],\"conversations\":[";
  // Once the status is out a failure can only cut the body short, which the client sees as a
  // JSON document (and a chunked body) that never ends.
  const auto failed = [&](const error& err) {
    spdlog::warn("user {}: export cut short: {}", who.id, err.message);
    answered.status = 500;
    return answered;
  };
  for (std::size_t c = 0; c < chats.size(); ++c) {
    const auto& chat = chats[c];
    if (c) out += ',';
    out += "{\"chat_id\":" + std::to_string(chat.id) + ",\"peer\":";
    protocol::detail::append_user_fields(out, chat.peer);
    out += "},\"messages\":[";
    bool first = true;
    for (message_id last = 0;;) {
      auto rows = co_await await_callback<std::vector<message>>([&](auto done) {
        store_.conversation_messages(who.id, chat.id, std::nullopt, last, protocol::max_history_page, done);
      });
      if (!rows) co_return failed(rows.error());
      if (rows->empty()) break;
      last = rows->back().id;
      const bool full = rows->size() == static_cast<std::size_t>(protocol::max_history_page);
      // Oldest first from the store; the history encoder takes newest first.
      std::reverse(rows->begin(), rows->end());
      const auto frame = protocol::encode_history(*rows);
      if (!first) out += ',';
      first = false;
      out += history_rows(frame);
      if (out.size() >= flush_bytes) {
        if (!co_await sink.write(out)) co_return answered;
        out.clear();
      }
      if (!full) break;
    }
    out += "]}";
  }
  out += "]}";
  if (!co_await sink.write(out)) co_return answered;
  co_await sink.finish();
  co_return answered;
}

}  // namespace chatrix::http
