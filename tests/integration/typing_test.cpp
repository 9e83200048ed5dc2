// TYPING (17): reaches every device of the recipient (not the sender's others) with the
// conversation's chat_id, runs out after 6 s, stops when the typing device goes away, is
// limited per connection and refused like a TEXT's recipient (docs/protocol.md, "Typing").
#include "people_fixture.hpp"
#include "support/metrics_probe.hpp"

namespace chatrix::test {
namespace {

using namespace std::chrono_literals;

json::object typing_to(const std::string& username, bool typing) { return {{"to", username}, {"typing", typing}}; }

class typing : public people_test {};

TEST_F(typing, reaches_every_device_of_the_recipient_with_the_chat_id) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto ann1 = connect_watching(ann);
  auto ann2 = connect_watching(ann);
  auto bob1 = connect_watching(bob);
  auto bob2 = connect_watching(bob);
  const auto chat = converse(ann1, bob);

  ann1->send_json(ev_typing, typing_to("bob", true));
  for (const auto* s : {&bob1, &bob2}) {
    const auto b = body_of(next_of(*s, ev_typing));
    EXPECT_EQ(int_field(b, "from_id"), ann.id);
    EXPECT_EQ(str_field(b, "from"), "ann");
    EXPECT_EQ(int_field(b, "chat_id"), chat);
    EXPECT_TRUE(bool_field(b, "typing"));
  }
  // By id too, and the false goes the same way.
  ann1->send_json(ev_typing, json::object{{"to_id", bob.id}, {"typing", false}});
  EXPECT_FALSE(bool_field(body_of(next_of(bob1, ev_typing)), "typing"));
  EXPECT_FALSE(bool_field(body_of(next_of(bob2, ev_typing)), "typing"));
  // Never to the sender's own devices.
  expect_none_of(ann2, ev_typing, 300ms);
  expect_none_of(ann1, ev_typing, 0ms);
}

TEST_F(typing, chat_id_is_null_before_the_pair_has_a_conversation) {
  auto cy = make_user("cy1");
  auto dan = make_user("dan");
  auto c = connect_watching(cy);
  auto d = connect_watching(dan);
  c->send_json(ev_typing, typing_to("dan", true));
  const auto b = body_of(next_of(d, ev_typing));
  EXPECT_TRUE(field_of(b, "chat_id").is_null()) << json::serialize(b);
  EXPECT_TRUE(bool_field(b, "typing"));
}

TEST_F(typing, a_true_not_refreshed_runs_out_after_six_seconds) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  const auto chat = converse(a, bob);
  a->send_json(ev_typing, typing_to("bob", true));
  EXPECT_TRUE(bool_field(body_of(next_of(b, ev_typing)), "typing"));
  const auto started = std::chrono::steady_clock::now();
  const auto ended = body_of(next_of(b, ev_typing, 10s));
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(bool_field(ended, "typing"));
  EXPECT_EQ(int_field(ended, "from_id"), ann.id);
  EXPECT_EQ(int_field(ended, "chat_id"), chat);
  // Not early: the server ends it, it is not a client's guess (lenient below: timers may run late).
  EXPECT_GE(waited, 5500ms);
}

TEST_F(typing, a_typing_device_that_goes_away_stops) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  a->send_json(ev_typing, typing_to("bob", true));
  EXPECT_TRUE(bool_field(body_of(next_of(b, ev_typing)), "typing"));
  a->close();
  const auto ended = body_of(next_of(b, ev_typing, 3s));
  EXPECT_FALSE(bool_field(ended, "typing"));
  EXPECT_EQ(int_field(ended, "from_id"), ann.id);
}

TEST_F(typing, refusals_name_type_17) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  const auto refused = [&](const json::object& body) {
    a->send_json(ev_typing, body);
    const auto err = next_of(a, ev_err);
    EXPECT_EQ(int_field(body_of(err), "ref_type"), ev_typing) << json::serialize(err);
    return err_code(err);
  };
  EXPECT_EQ(refused(typing_to("nobody-here", true)), "unknown_recipient");
  EXPECT_EQ(refused(json::object{{"to_id", 999999}, {"typing", true}}), "unknown_recipient");
  EXPECT_EQ(refused(typing_to("ann", true)), "self_message");
  EXPECT_EQ(refused(json::object{{"to", "bob"}, {"to_id", ann.id}, {"typing", true}}), "recipient_mismatch");
  EXPECT_EQ(refused(json::object{{"to", "bob"}, {"typing", "yes"}}), "invalid_field");
  EXPECT_EQ(refused(json::object{{"to", "bob"}}), "invalid_field");
  EXPECT_EQ(refused(json::object{{"typing", true}}), "invalid_field");
  // None of them reached bob, and the connection carries on.
  expect_none_of(b, ev_typing, 200ms);
  a->send_json(ev_typing, typing_to("bob", true));
  EXPECT_TRUE(bool_field(body_of(next_of(b, ev_typing)), "typing"));
}

TEST_F(typing, the_recipient_blocked_by_the_sender_is_refused_and_a_blocker_hears_nothing) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  if (!block(ann, "bob")) GTEST_SKIP() << "POST /v1/blocks is not on this server yet";
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  // Ann blocked Bob: her typing to him is refused.
  a->send_json(ev_typing, typing_to("bob", true));
  const auto err = next_of(a, ev_err);
  EXPECT_EQ(err_code(err), "blocked");
  EXPECT_EQ(int_field(body_of(err), "ref_type"), ev_typing);
  // Bob's typing to Ann is dropped, and he is not told.
  b->send_json(ev_typing, typing_to("ann", true));
  expect_none_of(a, ev_typing, 500ms);
  expect_none_of(b, ev_err, 0ms);
}

class typing_limit : public people_test {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"TYPING_LIMIT", "2/m"}}; }
};

TEST_F(typing_limit, frames_past_the_limit_are_refused_and_dropped) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  a->send_json(ev_typing, typing_to("bob", true));
  a->send_json(ev_typing, typing_to("bob", true));
  a->send_json(ev_typing, typing_to("bob", false));
  const auto err = next_of(a, ev_err);
  EXPECT_EQ(err_code(err), "rate_limited");
  EXPECT_EQ(int_field(body_of(err), "ref_type"), ev_typing);
  EXPECT_GT(int_field(body_of(err), "retry_after_ms"), 0);
  // Two reached bob; the third did not.
  EXPECT_TRUE(bool_field(body_of(next_of(b, ev_typing)), "typing"));
  EXPECT_TRUE(bool_field(body_of(next_of(b, ev_typing)), "typing"));
  expect_none_of(b, ev_typing, 300ms);
}

class typing_backlog : public people_test {
 protected:
  // Large enough that the backlog below never cuts Bob off as a slow consumer.
  std::map<std::string, std::string> server_env() const override { return {{"SEND_QUEUE_BYTES", "64M"}}; }
};

TEST_F(typing_backlog, a_device_with_a_backlog_does_not_get_it) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto a = connect_watching(ann);
  ws_options slow;
  slow.receive_buffer_bytes = 4096;
  auto b = connect_watching(bob, slow);
  b->pause_reading();
  // 8 MiB of messages: more than the socket buffers hold, so most of it waits in the server's
  // queue for Bob. Each TEXT is queued for him before Ann's DELIVERED is sent.
  constexpr int n = 1000;
  constexpr int window = 32;
  const std::string pad(8000, 'x');
  int next = 0;
  for (int i = 0; i < n; ++i) {
    while (next < n && next < i + window) a->send_json(ev_text, text_to("bob", pad, next++));
    next_of(a, ev_delivered, 30s);
  }
  const auto dropped_before = metric_value(port(), "chatrix_typing_dropped_total");
  a->send_json(ev_typing, typing_to("bob", true));
  EXPECT_EQ(wait_for_metric(port(), "chatrix_typing_dropped_total", dropped_before + 1), dropped_before + 1);
  // Bob reads his backlog: every message, and no typing behind it.
  b->resume_reading();
  int texts = 0;
  while (texts < n) {
    const auto frame = b->recv_json(30s);
    ASSERT_NE(int_field(frame, "type"), ev_typing);
    if (int_field(frame, "type") == ev_text) ++texts;
  }
  expect_none_of(b, ev_typing, 200ms);
}

}  // namespace
}  // namespace chatrix::test
