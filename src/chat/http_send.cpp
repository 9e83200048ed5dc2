// The chat service's entries for the HTTP API: a send over POST /v1/messages, which shares
// the socket's rules and publishing, and the storage quota for file uploads.
#include "chat/await.hpp"
#include "chat/chat_service.hpp"

#include <boost/json.hpp>

namespace chatrix::chat {

namespace asio = boost::asio;

asio::awaitable<result<send_result>> chat_service::send_over_http(const user& sender, std::string_view body) {
  const auto taken = std::chrono::steady_clock::now();
  // Before anything that could reach the store, the recipient's lookup included.
  // Counted with every refused HTTP answer, in chatrix_errors_total{code="rate_limited"}.
  if (const auto wait = http_sends_.take(std::to_string(sender.id), taken); wait.count() > 0)
    co_return make_limited(errc::rate_limited, "too many messages (HTTP_SEND_LIMIT); retry after retry_after_ms",
                           wait.count());
  // The body alone must be one JSON object: wrapped as a TEXT frame it is then read by the
  // very decoder the socket uses (its limits, its canonical marks).
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(body, ec);
  if (ec || !parsed.is_object()) co_return make_error(errc::invalid_field, "the body must be a JSON object");
  std::string frame = "{\"type\":" + std::to_string(static_cast<int>(protocol::event::text)) + ",\"body\":";
  frame += body;
  frame += '}';
  auto decoded = protocol::decode(frame, decode_limits_);
  if (!decoded) co_return decoded.error().err;
  auto& req = std::get<protocol::text_request>(*decoded);
  auto to = co_await resolve_recipient(sender, req.to_username, req.to_id);
  if (!to) co_return to.error();

  const unix_ms now = clock_.now_ms();
  const std::size_t bytes = req.content.size();
  if (const auto wait = quota_.charge(sender.id, bytes, now); wait.count() > 0) {
    metrics::server_metrics::add(metrics_.quota_exceeded);
    co_return make_limited(errc::quota_exceeded, "today's storage quota is used up; it starts again at 00:00 UTC",
                           wait.count());
  }
  send_request sreq = make_send_request(sender.id, to->id, req, now);
  // Counted like a socket's TEXT: a shutdown waits for it to be stored and answered.
  ++texts_in_flight_;
  auto r = co_await await_callback<send_result>([&](auto done) { store_.append_message(std::move(sreq), done); });
  text_settled();
  // Only what was stored counts: a retry is the message already charged, a failure stored nothing.
  if (!r || r->duplicate) quota_.refund(sender.id, bytes, now);
  if (!r) {
    metrics::server_metrics::add(metrics_.store_errors);
    co_return r.error();
  }
  if (r->duplicate) {
    metrics::server_metrics::add(metrics_.messages_duplicate);
    // As on the socket: the original's publish may have been lost with its node.
    if (r->stored.delivered_at) co_return r;
  } else {
    metrics::server_metrics::add(metrics_.messages_stored);
  }
  metrics_.send_stored.observe_since(taken);
  publish_stored(*r, sender, *to, /*device_id=*/0, taken);
  co_return r;
}

std::chrono::milliseconds chat_service::charge_storage(user_id owner, std::uint64_t bytes, unix_ms now) {
  const auto wait = quota_.charge(owner, bytes, now);
  if (wait.count() > 0) metrics::server_metrics::add(metrics_.quota_exceeded);
  return wait;
}

void chat_service::refund_storage(user_id owner, std::uint64_t bytes, unix_ms charged_at) {
  quota_.refund(owner, bytes, charged_at);
}

}  // namespace chatrix::chat
