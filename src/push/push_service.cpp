#include "push/push_service.hpp"

#include "auth/random_id.hpp"
#include "chat/await.hpp"
#include "core/spawn.hpp"
#include "push/signature.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace chatrix::push {

namespace asio = boost::asio;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

push_service::push_service(asio::any_io_executor io, push_reads& reads, webhook_sender& sender, const clock& clock,
                           metrics::server_metrics& metrics, push_options options)
    : io_(std::move(io)), reads_(reads), sender_(sender), clock_(clock), metrics_(metrics), options_(std::move(options)) {}

push_service::~push_service() = default;

void push_service::stored(const message& m, const user& sender, const user& recipient) {
  auto it = waiting_.find(recipient.id);
  if (it == waiting_.end()) {
    if (queued_ >= options_.queue) {
      metrics::server_metrics::add(metrics_.push_dropped);
      return;
    }
    auto push = std::make_shared<pending_push>();
    push->recipient = recipient.id;
    it = waiting_.emplace(recipient.id, push).first;
    ++queued_;
    metrics_.push_queue.store(static_cast<std::int64_t>(queued_), std::memory_order_relaxed);
    spawn_logged(io_, run(push), "push", [this, recipient = recipient.id, push] {
      if (auto w = waiting_.find(recipient); w != waiting_.end() && w->second == push) waiting_.erase(w);
      finish();
    });
  }
  auto& push = *it->second;
  if (push.messages.size() >= options_.max_tracked_messages) {
    push.messages.pop_front();
    ++push.untracked;
  }
  push.messages.push_back(tracked_message{m.id, m.conversation, sender.id, sender.username, m.created_at / 1000,
                                          options_.include_content ? std::optional(m.content) : std::nullopt});
}

void push_service::received(user_id recipient, message_id id) {
  auto it = waiting_.find(recipient);
  if (it == waiting_.end()) return;
  auto& messages = it->second->messages;
  std::erase_if(messages, [id](const tracked_message& t) { return t.id == id; });
}

asio::awaitable<void> push_service::run(std::shared_ptr<pending_push> push) {
  asio::steady_timer timer(io_, options_.delay);
  co_await timer.async_wait(use_tuple);
  // From here on, messages to the recipient start the next push.
  if (auto it = waiting_.find(push->recipient); it != waiting_.end() && it->second == push) waiting_.erase(it);

  const auto& retries = options_.retries;
  int failed = 0;
  // A failed attempt (the store's reads or the POST) waits its backoff, or ends the push.
  const auto retry_after_failure = [&]() -> asio::awaitable<bool> {
    ++failed;
    metrics::server_metrics::add(metrics_.push_failed);
    if (!retries.may_retry(failed)) {
      metrics::server_metrics::add(metrics_.push_dropped);
      co_return false;
    }
    timer.expires_after(retries.delay_after(failed));
    co_await timer.async_wait(use_tuple);
    co_return true;
  };

  std::optional<push_notice> notice;
  for (;;) {
    auto prepared = co_await prepare(*push);
    if (prepared) {
      notice = std::move(*prepared);
      break;
    }
    spdlog::warn("push to user {}: cannot read the store: {}", push->recipient, prepared.error().message);
    if (!co_await retry_after_failure()) co_return finish();
  }
  if (!notice) co_return finish();

  for (;;) {
    auto answer = co_await attempt(*notice);
    switch (classify(answer.status)) {
      case attempt_outcome::sent:
        metrics::server_metrics::add(metrics_.push_sent);
        note_receiver(true, {});
        co_return finish();
      case attempt_outcome::refused:
        metrics::server_metrics::add(metrics_.push_failed);
        metrics::server_metrics::add(metrics_.push_dropped);
        note_receiver(false, "answered " + std::to_string(answer.status) + " (dropped, not retried)");
        co_return finish();
      case attempt_outcome::retry:
        note_receiver(false, answer.status != 0 ? "answered " + std::to_string(answer.status) : answer.error);
        if (!co_await retry_after_failure()) {
          spdlog::debug("push {} to user {}: given up after {} attempts", notice->push_id, notice->user, failed);
          co_return finish();
        }
        break;
    }
  }
}

asio::awaitable<result<std::optional<push_notice>>> push_service::prepare(const pending_push& push) {
  if (push.messages.empty()) co_return std::optional<push_notice>{};
  std::vector<message_id> ids;
  ids.reserve(push.messages.size());
  for (const auto& m : push.messages) ids.push_back(m.id);
  auto left = co_await chat::await_callback<std::vector<message_id>>(
      [&](auto done) { reads_.undelivered(std::move(ids), done); });
  if (!left) co_return left.error();
  // Newest first: the notice names the newest message still undelivered.
  const auto newest = std::find_if(push.messages.rbegin(), push.messages.rend(), [&](const tracked_message& m) {
    return std::find(left->begin(), left->end(), m.id) != left->end();
  });
  if (newest == push.messages.rend()) co_return std::optional<push_notice>{};

  auto recipient = co_await chat::await_callback<std::optional<user>>(
      [&](auto done) { reads_.find_user(push.recipient, done); });
  if (!recipient) co_return recipient.error();
  if (!*recipient || (*recipient)->deleted) co_return std::optional<push_notice>{};
  auto tokens = co_await chat::await_callback<std::vector<push_device>>(
      [&](auto done) { reads_.push_devices(push.recipient, done); });
  if (!tokens) co_return tokens.error();

  push_notice n;
  n.push_id = auth::random_id();
  n.user = push.recipient;
  n.username = (*recipient)->username;
  n.message = newest->id;
  n.chat = newest->chat;
  n.from_id = newest->from_id;
  n.from = newest->from;
  n.timestamp = newest->timestamp;
  n.count = static_cast<int>(left->size()) + push.untracked;
  n.tokens = std::move(*tokens);
  n.content = newest->content;
  co_return std::optional(std::move(n));
}

asio::awaitable<webhook_answer> push_service::attempt(const push_notice& notice) {
  co_await acquire_slot();
  // The timestamp is this attempt's: a receiver checks that it is recent, and a retry hours
  // later must not look like a replay.
  const auto sent_at = clock_.now_ms() / 1000;
  webhook_request request;
  request.body = encode_body(notice, sent_at);
  request.timestamp = std::to_string(sent_at);
  request.signature = signature_header(options_.secret, request.body);
  auto answer = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(webhook_answer)>(
      [&](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        sender_.post(std::move(request), [shared](webhook_answer a) { (*shared)(std::move(a)); });
      },
      asio::use_awaitable);
  release_slot();
  co_return answer;
}

asio::awaitable<void> push_service::acquire_slot() {
  if (in_flight_ < options_.max_in_flight) {
    ++in_flight_;
    co_return;
  }
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [this](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        slot_waiters_.push_back([shared] { (*shared)(); });
      },
      asio::use_awaitable);
}

void push_service::release_slot() {
  if (slot_waiters_.empty()) {
    --in_flight_;
    return;
  }
  // The slot passes to the next attempt as it is (in_flight_ unchanged).
  asio::post(io_, std::move(slot_waiters_.front()));
  slot_waiters_.pop_front();
}

void push_service::finish() {
  --queued_;
  metrics_.push_queue.store(static_cast<std::int64_t>(queued_), std::memory_order_relaxed);
}

void push_service::note_receiver(bool answering, const std::string& why) {
  if (answering == !receiver_failing_) return;
  receiver_failing_ = !answering;
  if (answering) {
    spdlog::info("push webhook: the receiver takes pushes again");
  } else {
    spdlog::warn("push webhook: {}; retrying with backoff (chatrix_push_failed_total and chatrix_push_dropped_total "
                 "count what follows until it answers again)",
                 why);
  }
}

}  // namespace chatrix::push
