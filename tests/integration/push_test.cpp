// Push webhooks through the real binary (docs/protocol.md, "Push for offline devices") with
// PUSH_DELAY=1s and a local receiver: one signed push for an offline recipient, none for one
// whose device received the message, messages coalesced with a count, retries with the same
// push_id, a receiver that never answers does not slow messaging, content only when asked.
#include "support/chat_fixture.hpp"
#include "support/metrics_probe.hpp"
#include "support/taken_port.hpp"
#include "support/webhook_receiver.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

namespace chatrix::test {
namespace {

constexpr const char* push_secret = "push-integration-secret-0123456789";

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// HMAC-SHA256 in lowercase hex, computed here as a receiver would (not with the server's code).
std::string hmac_hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &size);
  std::string hex;
  for (unsigned i = 0; i < size; ++i) {
    static constexpr char digits[] = "0123456789abcdef";
    hex += digits[digest[i] >> 4];
    hex += digits[digest[i] & 0xF];
  }
  return hex;
}

/// The push's body, after checking what every receiver checks: JSON, the signature over the
/// raw body, sent_at equal to the timestamp header and recent.
json::object verified_body(const received_request& r) {
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/push");
  EXPECT_EQ(r.headers.at("Content-Type"), "application/json");
  EXPECT_EQ(r.headers.at("X-Chatrix-Signature"), "sha256=" + hmac_hex(push_secret, r.body));
  auto body = json::parse(r.body).as_object();
  const auto timestamp = std::stoll(r.headers.at("X-Chatrix-Timestamp"));
  EXPECT_EQ(to_i64(body.at("sent_at")), timestamp);
  EXPECT_LE(std::llabs(timestamp - now_s()), 300);
  const auto& push_id = body.at("push_id").as_string();
  EXPECT_EQ(push_id.size(), 32u);
  EXPECT_EQ(std::string(push_id).find_first_not_of("0123456789abcdef"), std::string::npos) << push_id;
  return body;
}

class push_webhook : public chat_test {
 protected:
  std::map<std::string, std::string> server_env() const override {
    return {{"PUSH_WEBHOOK_URL", receiver.url()}, {"PUSH_WEBHOOK_SECRET", push_secret}, {"PUSH_DELAY", "1s"}};
  }

  webhook_receiver receiver;
};

TEST_F(push_webhook, an_offline_recipient_gets_one_signed_push) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  session a = connect_authed(ann);
  const auto sent = std::chrono::steady_clock::now();
  const auto delivered = send_and_confirm(a, text_to("bob", "are you there?", 1));

  auto r = receiver.next();
  ASSERT_TRUE(r) << "no push";
  EXPECT_GE(r->at - sent, std::chrono::milliseconds(900)) << "pushed before PUSH_DELAY";
  const auto body = verified_body(*r);
  EXPECT_EQ(body.at("event"), "message");
  EXPECT_EQ(to_i64(body.at("user_id")), bob.id);
  EXPECT_EQ(body.at("username"), "bob");
  EXPECT_EQ(to_i64(body.at("message_id")), int_field(delivered, "message_id"));
  EXPECT_EQ(to_i64(body.at("chat_id")), int_field(delivered, "chat_id"));
  EXPECT_EQ(to_i64(body.at("from_id")), ann.id);
  EXPECT_EQ(body.at("from"), "ann");
  EXPECT_EQ(to_i64(body.at("timestamp")), int_field(delivered, "timestamp"));
  EXPECT_EQ(to_i64(body.at("count")), 1);
  EXPECT_TRUE(body.at("tokens").is_array());
  EXPECT_FALSE(body.contains("content")) << "content without PUSH_INCLUDE_CONTENT";
  EXPECT_FALSE(receiver.next(std::chrono::milliseconds(1500))) << "pushed twice";
  EXPECT_EQ(metric_value(port(), "chatrix_push_sent_total"), 1);
  EXPECT_EQ(metric_value(port(), "chatrix_push_failed_total"), 0);
}

TEST_F(push_webhook, the_push_carries_the_tokens_the_recipient_registered) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  const header_map bearer{{"Authorization", "Bearer " + bob.token}};
  const auto device = [](const std::string& platform, const std::string& token) {
    return json::serialize(json::object{{"platform", platform}, {"token", token}});
  };
  for (const auto& [platform, token] :
       std::vector<std::pair<std::string, std::string>>{
           {"fcm", "fcm-token-1"}, {"apns", "apns-token-2"}, {"webpush", "gone"}}) {
    const auto r = http_request(port(), "POST", "/v1/devices", device(platform, token), bearer);
    ASSERT_EQ(r.status, 201) << r.body;
  }
  ASSERT_EQ(http_request(port(), "DELETE", "/v1/devices", device("webpush", "gone"), bearer).status, 204);
  session a = connect_authed(ann);
  send_and_confirm(a, text_to("bob", "wake up", 1));
  auto r = receiver.next();
  ASSERT_TRUE(r) << "no push";
  // Registered within one millisecond, the two have no order between them.
  const auto body = verified_body(*r);
  std::set<std::string> tokens;
  for (const auto& t : body.at("tokens").as_array())
    tokens.insert(json::serialize(t));
  const std::set<std::string> expected{R"({"platform":"fcm","token":"fcm-token-1"})",
                                       R"({"platform":"apns","token":"apns-token-2"})"};
  EXPECT_EQ(tokens, expected);
}

TEST_F(push_webhook, a_recipient_whose_device_received_the_message_gets_none) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto cat = make_user("cat");
  session a = connect_authed(ann);
  session b = connect_authed(bob);
  send_and_confirm(a, text_to("bob", "you are online", 1));
  b->recv_type(ev_text);
  // cat is offline: her push comes a second after bob's would have; only hers arrives.
  send_and_confirm(a, text_to("cat", "you are not", 2));
  auto r = receiver.next();
  ASSERT_TRUE(r) << "no push for the offline recipient";
  EXPECT_EQ(to_i64(verified_body(*r).at("user_id")), cat.id);
  EXPECT_EQ(receiver.all().size(), 1u);
}

TEST_F(push_webhook, a_recipient_who_connects_within_the_delay_gets_none) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto cat = make_user("cat");
  session a = connect_authed(ann);
  send_and_confirm(a, text_to("bob", "waiting for you", 1));
  // bob's device connects before PUSH_DELAY is over and gets the message as pending.
  session b = connect_authed(bob);
  b->recv_type(ev_text);
  send_and_confirm(a, text_to("cat", "you stay offline", 2));
  auto r = receiver.next();
  ASSERT_TRUE(r) << "no push for the offline recipient";
  EXPECT_EQ(to_i64(verified_body(*r).at("user_id")), cat.id);
  EXPECT_EQ(receiver.all().size(), 1u);
}

TEST_F(push_webhook, messages_within_the_delay_are_one_push_with_a_count) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  session a = connect_authed(ann);
  send_and_confirm(a, text_to("bob", "one", 1));
  send_and_confirm(a, text_to("bob", "two", 2));
  const auto third = send_and_confirm(a, text_to("bob", "three", 3));
  auto r = receiver.next();
  ASSERT_TRUE(r) << "no push";
  const auto body = verified_body(*r);
  EXPECT_EQ(to_i64(body.at("count")), 3);
  EXPECT_EQ(to_i64(body.at("message_id")), int_field(third, "message_id"));
  EXPECT_EQ(to_i64(body.at("user_id")), bob.id);
  EXPECT_FALSE(receiver.next(std::chrono::milliseconds(1500))) << "more than one push";
}

TEST_F(push_webhook, a_failing_receiver_gets_the_same_push_again_until_it_takes_it) {
  receiver.fail_next(2, 500);
  auto ann = make_user("ann");
  make_user("bob");
  session a = connect_authed(ann);
  send_and_confirm(a, text_to("bob", "retry me", 1));
  std::vector<json::object> bodies;
  for (int i = 0; i < 3; ++i) {
    auto r = receiver.next();
    ASSERT_TRUE(r) << "attempt " << i + 1 << " never came";
    bodies.push_back(verified_body(*r));
  }
  for (const auto& b : bodies) EXPECT_EQ(b.at("push_id"), bodies[0].at("push_id"));
  EXPECT_EQ(wait_for_metric(port(), "chatrix_push_sent_total", 1), 1);
  EXPECT_EQ(metric_value(port(), "chatrix_push_failed_total"), 2);
  EXPECT_EQ(metric_value(port(), "chatrix_push_dropped_total"), 0);
}

/// A receiver that accepts connections and never answers (every attempt runs into its 5 s
/// timeout), and room for one push only.
class push_to_a_silent_receiver : public chat_test {
 protected:
  std::map<std::string, std::string> server_env() const override {
    return {{"PUSH_WEBHOOK_URL", "http://127.0.0.1:" + std::to_string(silent.port()) + "/push"},
            {"PUSH_WEBHOOK_SECRET", push_secret},
            {"PUSH_DELAY", "1s"},
            {"PUSH_QUEUE", "1"}};
  }
  taken_port silent;
};

TEST_F(push_to_a_silent_receiver, never_slows_messaging) {
  auto ann = make_user("ann");
  make_user("bob");
  make_user("cat");
  auto dan = make_user("dan");
  session a = connect_authed(ann);
  session d = connect_authed(dan);
  send_and_confirm(a, text_to("bob", "queued for a push", 1));
  send_and_confirm(a, text_to("cat", "no room for this push", 2));
  EXPECT_EQ(metric_value(port(), "chatrix_push_dropped_total"), 1);
  // The first attempt for bob hangs at the receiver; messages go on as before.
  EXPECT_GE(wait_for_metric(port(), "chatrix_queue_depth{queue=\"pushes\"}", 1), 1);
  // A send that waited for the push would wait out its 5 s attempt timeout.
  for (int i = 0; i < 20; ++i) {
    const auto before = std::chrono::steady_clock::now();
    send_and_confirm(a, text_to("dan", "live " + std::to_string(i), 10 + i));
    EXPECT_EQ(str_field(body_of(d->recv_type(ev_text)), "content"), "live " + std::to_string(i));
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(2)) << "messaging waited for the push";
  }
  EXPECT_GE(wait_for_metric(port(), "chatrix_push_failed_total", 1, std::chrono::seconds(15)), 1);
}

class push_with_content : public push_webhook {
 protected:
  std::map<std::string, std::string> server_env() const override {
    auto env = push_webhook::server_env();
    env["PUSH_INCLUDE_CONTENT"] = "on";
    return env;
  }
};

TEST_F(push_with_content, the_newest_message_text_is_in_the_body) {
  auto ann = make_user("ann");
  make_user("bob");
  session a = connect_authed(ann);
  send_and_confirm(a, text_to("bob", "first", 1));
  send_and_confirm(a, text_to("bob", "second \"quoted\" é", 2));
  auto r = receiver.next();
  ASSERT_TRUE(r) << "no push";
  const auto body = verified_body(*r);
  EXPECT_EQ(body.at("content"), "second \"quoted\" é");
  EXPECT_EQ(to_i64(body.at("count")), 2);
}

// A URL the client could not use is one line naming the setting (exit status 2), before the
// server writes anything to its data dir.
TEST(push_startup, an_unusable_webhook_url_is_refused_before_anything_is_written) {
  server_process s({{"PUSH_WEBHOOK_URL", "http://user:password@127.0.0.1:9/push"},
                    {"PUSH_WEBHOOK_SECRET", push_secret}});
  EXPECT_THROW(s.start(std::chrono::seconds(20)), std::runtime_error) << "the server started";
  const auto status = s.last_status();
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << s.log_tail();
  EXPECT_NE(s.log_text().find("PUSH_WEBHOOK_URL: user info in the URL is not supported"), std::string::npos)
      << s.log_tail();
  EXPECT_TRUE(!std::filesystem::exists(s.data_dir()) || std::filesystem::is_empty(s.data_dir()));
}

}  // namespace
}  // namespace chatrix::test
