// Push for offline devices (docs/protocol.md, "Push for offline devices"): the node that
// stored a message waits PUSH_DELAY, and if no device of the recipient received it by then,
// POSTs one signed webhook per recipient for what is left, with retries.
#pragma once

#include "chat/chat_service.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "push/push_reads.hpp"
#include "push/retry_policy.hpp"
#include "push/webhook_body.hpp"
#include "push/webhook_client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace chatrix::push {

struct push_options {
  std::string secret;                                          // PUSH_WEBHOOK_SECRET
  std::chrono::milliseconds delay{std::chrono::seconds(3)};    // PUSH_DELAY
  bool include_content = false;                                // PUSH_INCLUDE_CONTENT
  std::size_t queue = 10'000;                                  // PUSH_QUEUE
  retry_policy retries;
  int max_in_flight = 4;  // webhook requests at once: a slow receiver holds at most these
  /// Messages one push keeps track of; older ones still count but are not checked again.
  std::size_t max_tracked_messages = 32;
};

/// One push per recipient at a time: messages stored while the recipient's push waits for its
/// delay join it (count), those stored after it left start the next. A push is one entry of
/// the queue (bounded by push_options::queue) from its first message until it is sent, given
/// up or found moot.
///
/// Thread-safety: I/O thread only (the observer hooks are called there).
class push_service final : public chat::message_observer {
 public:
  push_service(boost::asio::any_io_executor io, push_reads& reads, webhook_sender& sender, const clock& clock,
               metrics::server_metrics& metrics, push_options options);
  ~push_service() override;
  push_service(const push_service&) = delete;
  push_service& operator=(const push_service&) = delete;

  void stored(const message& m, const user& sender, const user& recipient) override;
  void received(user_id recipient, message_id id) override;

  /// Pushes in the queue: waiting for their delay, being prepared or sent, or awaiting a retry.
  std::size_t queued() const noexcept { return queued_; }

 private:
  /// What a push needs of one message to name it as the newest.
  struct tracked_message {
    message_id id = 0;
    conversation_id chat = 0;
    user_id from_id = 0;
    std::string from;
    std::int64_t timestamp = 0;  // Unix seconds
    std::optional<std::string> content;
  };
  struct pending_push {
    user_id recipient = 0;
    std::deque<tracked_message> messages;  // oldest first, at most max_tracked_messages
    int untracked = 0;                     // older messages that no longer fit in `messages`
  };

  boost::asio::awaitable<void> run(std::shared_ptr<pending_push> push);
  /// The notice to send, nullopt when nothing is left to push; an error when the store failed.
  boost::asio::awaitable<result<std::optional<push_notice>>> prepare(const pending_push& push);
  /// One POST, once a slot among max_in_flight is free.
  boost::asio::awaitable<webhook_answer> attempt(const push_notice& notice);
  boost::asio::awaitable<void> acquire_slot();
  void release_slot();
  void finish();
  void note_receiver(bool answering, const std::string& why);

  boost::asio::any_io_executor io_;
  push_reads& reads_;
  webhook_sender& sender_;
  const clock& clock_;
  metrics::server_metrics& metrics_;
  push_options options_;

  std::unordered_map<user_id, std::shared_ptr<pending_push>> waiting_;  // in their delay, by recipient
  std::size_t queued_ = 0;
  int in_flight_ = 0;
  std::deque<std::function<void()>> slot_waiters_;  // attempts waiting for a free slot, in order
  bool receiver_failing_ = false;                   // logged once per outage, not per attempt
};

}  // namespace chatrix::push
