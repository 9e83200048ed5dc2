// TYPING (17, docs/protocol.md "Typing"): never stored, sent to every device of the recipient
// as an ephemeral event that is dropped rather than queued behind anything; a true that is not
// refreshed runs out after 6 s, and a typing device that goes away stops, both with a false.
#include "chat/await.hpp"
#include "chat/chat_service.hpp"
#include "protocol/people_codec.hpp"

#include <spdlog/spdlog.h>

namespace chatrix::chat {

namespace asio = boost::asio;
using cluster::user_event;

asio::awaitable<void> chat_service::on_typing(connection& conn, protocol::typing_request req) {
  constexpr auto type = protocol::event::typing;
  if (auto* limits = limits_of(conn)) {
    if (const auto wait = limits->take_typing(std::chrono::steady_clock::now()); wait.count() > 0) {
      co_return send_error(conn, make_limited(errc::rate_limited, "too many typing frames; retry after retry_after_ms",
                                              wait.count()),
                           static_cast<int>(type));
    }
  }
  const user me = conn.account();
  const auto device_id = conn.device_id();
  auto to = co_await resolve_recipient(me, req.to_username, req.to_id);
  if (!find_device(device_id)) co_return;
  if (!to) co_return send_error(conn, to.error(), static_cast<int>(type));
  if (people_.blocked(me.id, to->id))
    co_return send_error(conn, make_error(errc::blocked, "you blocked this user"), static_cast<int>(type));
  // The recipient blocked the sender: they never see it, and the sender is not told.
  if (people_.either_blocked(me.id, to->id)) co_return;
  const auto chat = co_await conversation_of(me.id, to->id);
  if (!find_device(device_id)) co_return;
  if (req.typing) {
    if (auto pushed_out = typing_.typing(device_id, me, to->id, chat, std::chrono::steady_clock::now()))
      publish_typing(pushed_out->from, pushed_out->to, pushed_out->chat, false);
    arm_typing_timer();
  } else {
    typing_.stopped(device_id, to->id);
  }
  publish_typing(me, to->id, chat, req.typing);
}

asio::awaitable<std::optional<conversation_id>> chat_service::conversation_of(user_id a, user_id b) {
  if (auto known = conversations_.find(a, b)) co_return known;
  auto r = co_await await_callback<std::optional<conversation_id>>(
      [&](auto done) { store_.conversation_between(a, b, done); });
  if (!r) {
    // Typing goes on without its chat_id (the recipient's client knows the sender).
    spdlog::debug("typing: the conversation of users {} and {} could not be read: {}", a, b, r.error().message);
    co_return std::nullopt;
  }
  if (*r) conversations_.remember(a, b, **r);
  co_return *r;
}

void chat_service::publish_typing(const user& from, user_id to, std::optional<conversation_id> chat, bool typing) {
  if (!reachable(to)) return;
  bus_.publish(user_event{to, user_event::kind::ephemeral, 0, 0,
                          std::make_shared<const std::string>(protocol::encode_typing(from, chat, typing))});
}

void chat_service::publish_typing_ended(const std::vector<typing_tracker::ended>& ended) {
  for (const auto& e : ended) publish_typing(e.from, e.to, e.chat, false);
}

void chat_service::arm_typing_timer() {
  // Every typing runs out `expiry` after its last refresh, so a later one never runs out
  // before the one the timer waits for: one timer, re-armed when it fires.
  if (typing_timer_armed_) return;
  const auto next = typing_.next_expiry();
  if (!next) return;
  typing_timer_armed_ = true;
  typing_timer_.expires_at(*next);
  std::weak_ptr<bool> alive = alive_;
  typing_timer_.async_wait([this, alive](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    typing_timer_armed_ = false;
    publish_typing_ended(typing_.expired(std::chrono::steady_clock::now()));
    arm_typing_timer();
  });
}

void chat_service::send_ephemeral(device& d, const user_event& ev) {
  // Worth nothing a few seconds later: behind a catch-up or a backlog it would only say
  // something stale, and it must not add to what a slow device has to read.
  if (d.syncing || d.conn->queued_bytes() > options_.typing_max_queued_bytes) {
    metrics::server_metrics::add(metrics_.typing_dropped);
    return;
  }
  d.conn->send(ev.frame);
}

}  // namespace chatrix::chat
