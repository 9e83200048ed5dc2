// push_service with scripted store reads and a scripted webhook sender on a real io_context,
// with millisecond delays: coalescing, dropping what was received or is delivered, the
// notice's fields and signature, retries with the same push_id, giving up, refusals, the
// queue bound and the in-flight limit.
#include "push/push_service.hpp"

#include "push/signature.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <set>

namespace chatrix::push {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* secret = "push-secret-0123456789";

class scripted_reads final : public push_reads {
 public:
  std::set<message_id> delivered;  // what the store says some device received
  std::optional<user> recipient;
  std::vector<push_device> tokens;
  int undelivered_calls = 0;

  void undelivered(std::vector<message_id> ids, storage::callback<std::vector<message_id>> done) override {
    ++undelivered_calls;
    std::erase_if(ids, [&](message_id id) { return delivered.contains(id); });
    done(std::move(ids));
  }
  void find_user(user_id id, storage::callback<std::optional<user>> done) override {
    auto u = recipient;
    if (u) u->id = id;
    done(u);
  }
  void push_devices(user_id, storage::callback<std::vector<push_device>> done) override { done(tokens); }
};

/// Answers each POST with the next scripted status (200 when the script is empty), on the
/// io_context, or holds the answers while `hold` is set.
class scripted_sender final : public webhook_sender {
 public:
  explicit scripted_sender(asio::io_context& ioc) : ioc_(ioc) {}
  std::vector<webhook_request> requests;
  std::deque<int> statuses;
  bool hold = false;
  std::vector<std::function<void()>> held;

  void post(webhook_request request, std::function<void(webhook_answer)> done) override {
    requests.push_back(std::move(request));
    int status = 200;
    if (!statuses.empty()) {
      status = statuses.front();
      statuses.pop_front();
    }
    auto answer = [done = std::move(done), status] { done(webhook_answer{status, status == 0 ? "refused" : ""}); };
    if (hold) {
      held.push_back(std::move(answer));
    } else {
      asio::post(ioc_, std::move(answer));
    }
  }
  void release_held() {
    for (auto& a : std::exchange(held, {})) asio::post(ioc_, std::move(a));
  }

 private:
  asio::io_context& ioc_;
};

class fixed_clock final : public clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1765100000));
  }
};

class push_service_test : public ::testing::Test {
 protected:
  push_service_test() { reads.recipient = user{0, "bob", "Bob"}; }

  push_service& service(push_options options = {}) {
    options.secret = secret;
    if (options.delay == std::chrono::milliseconds(std::chrono::seconds(3))) options.delay = 20ms;
    options.retries.first_delay = 1ms;
    options.retries.max_delay = 4ms;
    service_.emplace(ioc.get_executor(), reads, sender, clk, metrics, options);
    return *service_;
  }

  /// Runs the io_context until `done` or 5 s (a hang, not a speed check).
  void run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      ioc.restart();
      ioc.run_one_for(10ms);
    }
    ASSERT_TRUE(done()) << "timed out";
  }
  void run_until_idle() {
    run_until([&] { return service_->queued() == 0; });
  }

  void store(message_id id, user_id recipient = 2, const std::string& content = "hi") {
    message m;
    m.id = id;
    m.conversation = 5;
    m.sender = 1;
    m.recipient = recipient;
    m.content = content;
    m.created_at = 1765099990'000 + id * 1000;
    service_->stored(m, user{1, "ann", "Ann"}, user{recipient, "bob", "Bob"});
  }

  static json::object body_of(const webhook_request& r) { return json::parse(r.body).as_object(); }

  asio::io_context ioc;
  scripted_reads reads;
  scripted_sender sender{ioc};
  fixed_clock clk;
  metrics::server_metrics metrics;
  std::optional<push_service> service_;
};

TEST_F(push_service_test, messages_within_the_delay_are_one_signed_push_with_a_count) {
  reads.tokens = {{"fcm", "token-1", 0}};
  service();
  store(10);
  store(11);
  store(12, 2, "newest");
  EXPECT_EQ(service_->queued(), 1u);
  EXPECT_EQ(metrics.push_queue.load(), 1);
  run_until_idle();
  ASSERT_EQ(sender.requests.size(), 1u);
  const auto& r = sender.requests[0];
  EXPECT_EQ(r.signature, "sha256=" + hmac_sha256_hex(secret, r.body));
  EXPECT_EQ(r.timestamp, "1765100000");
  const auto body = body_of(r);
  EXPECT_EQ(body.at("event"), "message");
  EXPECT_EQ(body.at("count"), 3);
  EXPECT_EQ(body.at("message_id"), 12);
  EXPECT_EQ(body.at("chat_id"), 5);
  EXPECT_EQ(body.at("user_id"), 2);
  EXPECT_EQ(body.at("username"), "bob");
  EXPECT_EQ(body.at("from_id"), 1);
  EXPECT_EQ(body.at("from"), "ann");
  EXPECT_EQ(body.at("timestamp"), 1765099990 + 12);
  EXPECT_EQ(body.at("sent_at"), 1765100000);
  EXPECT_EQ(body.at("push_id").as_string().size(), 32u);
  EXPECT_EQ(body.at("tokens"), (json::array{json::object{{"platform", "fcm"}, {"token", "token-1"}}}));
  EXPECT_FALSE(body.contains("content"));
  EXPECT_EQ(metrics.push_sent.load(), 1u);
  EXPECT_EQ(metrics.push_failed.load(), 0u);
  EXPECT_EQ(metrics.push_queue.load(), 0);
}

TEST_F(push_service_test, one_push_per_recipient) {
  service();
  store(10, 2);
  store(11, 3);
  store(12, 2);
  run_until_idle();
  ASSERT_EQ(sender.requests.size(), 2u);
  std::map<std::int64_t, std::int64_t> counts;
  for (const auto& r : sender.requests) counts[body_of(r).at("user_id").as_int64()] = body_of(r).at("count").as_int64();
  EXPECT_EQ(counts, (std::map<std::int64_t, std::int64_t>{{2, 2}, {3, 1}}));
}

TEST_F(push_service_test, a_message_stored_after_the_push_left_starts_the_next) {
  service();
  store(10);
  run_until([&] { return sender.requests.size() == 1; });
  store(11);
  run_until_idle();
  ASSERT_EQ(sender.requests.size(), 2u);
  EXPECT_EQ(body_of(sender.requests[1]).at("message_id"), 11);
  EXPECT_EQ(body_of(sender.requests[1]).at("count"), 1);
  EXPECT_NE(body_of(sender.requests[0]).at("push_id"), body_of(sender.requests[1]).at("push_id"));
}

TEST_F(push_service_test, received_on_this_node_is_not_pushed) {
  service();
  store(10);
  store(11);
  service_->received(2, 11);
  service_->received(3, 10);  // another user's receipt names no message of this push
  run_until_idle();
  ASSERT_EQ(sender.requests.size(), 1u);
  EXPECT_EQ(body_of(sender.requests[0]).at("message_id"), 10);
  EXPECT_EQ(body_of(sender.requests[0]).at("count"), 1);
}

TEST_F(push_service_test, everything_received_on_this_node_reads_nothing_and_sends_nothing) {
  service();
  store(10);
  service_->received(2, 10);
  run_until_idle();
  EXPECT_TRUE(sender.requests.empty());
  EXPECT_EQ(reads.undelivered_calls, 0);
  EXPECT_EQ(metrics.push_sent.load() + metrics.push_dropped.load(), 0u);
}

TEST_F(push_service_test, delivered_elsewhere_is_not_pushed) {
  service();
  store(10);
  store(11);
  reads.delivered = {10, 11};
  run_until_idle();
  EXPECT_TRUE(sender.requests.empty());
  EXPECT_EQ(reads.undelivered_calls, 1);
}

TEST_F(push_service_test, the_newest_still_undelivered_is_named) {
  service();
  store(10);
  store(11);
  reads.delivered = {11};
  run_until_idle();
  ASSERT_EQ(sender.requests.size(), 1u);
  EXPECT_EQ(body_of(sender.requests[0]).at("message_id"), 10);
  EXPECT_EQ(body_of(sender.requests[0]).at("count"), 1);
}

TEST_F(push_service_test, a_deleted_recipient_gets_no_push) {
  service();
  reads.recipient->deleted = true;
  store(10);
  run_until_idle();
  EXPECT_TRUE(sender.requests.empty());
}

TEST_F(push_service_test, content_only_with_include_content) {
  push_options options;
  options.include_content = true;
  service(options);
  store(10, 2, "older");
  store(11, 2, "the newest text");
  run_until_idle();
  ASSERT_EQ(sender.requests.size(), 1u);
  EXPECT_EQ(body_of(sender.requests[0]).at("content"), "the newest text");
}

TEST_F(push_service_test, retries_keep_the_push_id_and_sign_each_attempt) {
  service();
  sender.statuses = {500, 0, 200};
  store(10);
  run_until_idle();
  ASSERT_EQ(sender.requests.size(), 3u);
  const auto id = body_of(sender.requests[0]).at("push_id");
  for (const auto& r : sender.requests) {
    EXPECT_EQ(body_of(r).at("push_id"), id);
    EXPECT_EQ(r.signature, signature_header(secret, r.body));
  }
  EXPECT_EQ(metrics.push_failed.load(), 2u);
  EXPECT_EQ(metrics.push_sent.load(), 1u);
  EXPECT_EQ(metrics.push_dropped.load(), 0u);
}

TEST_F(push_service_test, given_up_after_eight_attempts) {
  service();
  sender.statuses = std::deque<int>(20, 503);
  store(10);
  run_until_idle();
  EXPECT_EQ(sender.requests.size(), 8u);
  EXPECT_EQ(metrics.push_failed.load(), 8u);
  EXPECT_EQ(metrics.push_dropped.load(), 1u);
  EXPECT_EQ(metrics.push_sent.load(), 0u);
}

TEST_F(push_service_test, a_refusal_is_not_retried) {
  service();
  sender.statuses = {401};
  store(10);
  run_until_idle();
  EXPECT_EQ(sender.requests.size(), 1u);
  EXPECT_EQ(metrics.push_failed.load(), 1u);
  EXPECT_EQ(metrics.push_dropped.load(), 1u);
}

TEST_F(push_service_test, the_queue_bound_drops_new_pushes) {
  push_options options;
  options.queue = 2;
  service(options);
  store(10, 2);
  store(11, 3);
  store(12, 4);  // a third recipient: no room
  store(13, 2);  // joins the push waiting for user 2
  EXPECT_EQ(service_->queued(), 2u);
  EXPECT_EQ(metrics.push_dropped.load(), 1u);
  run_until_idle();
  ASSERT_EQ(sender.requests.size(), 2u);
  for (const auto& r : sender.requests) EXPECT_NE(body_of(r).at("user_id"), 4);
}

TEST_F(push_service_test, at_most_four_requests_in_flight) {
  service();
  sender.hold = true;
  for (user_id u = 2; u < 8; ++u) store(10 + u, u);
  run_until([&] { return sender.requests.size() == 4; });
  // The other two wait for a slot however long the receiver takes.
  for (int i = 0; i < 20; ++i) {
    ioc.restart();
    ioc.run_one_for(5ms);
  }
  EXPECT_EQ(sender.requests.size(), 4u);
  EXPECT_EQ(service_->queued(), 6u);
  sender.hold = false;
  sender.release_held();
  run_until_idle();
  EXPECT_EQ(sender.requests.size(), 6u);
  EXPECT_EQ(metrics.push_sent.load(), 6u);
}

}  // namespace
}  // namespace chatrix::push
