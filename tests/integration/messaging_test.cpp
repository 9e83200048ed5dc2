// Sending TEXT in every accepted shape and what each side receives (docs/protocol.md):
// addressing forms, the TEXT/DELIVERED bodies, marks echoed exactly, retries, sender
// spoofing, one-conversation-per-pair under a race, and one sender's ordering.
#include "support/chat_fixture.hpp"

#include <cstdlib>
#include <set>

namespace chatrix::test {
namespace {

class messaging : public chat_test {};

// Checks a server->recipient TEXT body against the sender and the content.
void expect_text_body(const json::value& body, const test_user& from, const test_user& to, const std::string& content) {
  EXPECT_GT(int_field(body, "msg_id"), 0);
  EXPECT_EQ(int_field(body, "from_id"), from.id);
  EXPECT_EQ(str_field(body, "from"), from.username);
  EXPECT_EQ(str_field(body, "from_name"), from.name);
  EXPECT_EQ(str_field(body, "content"), content);
  EXPECT_TRUE(has_field(body, "to")) << json::serialize(body);
  EXPECT_EQ(int_field(body, "to_id"), to.id);
  // timestamp is Unix seconds: sanity-check it is "now" in seconds, not milliseconds.
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::int64_t ts = int_field(body, "timestamp");
  EXPECT_LE(std::llabs(ts - now), 300) << "timestamp " << ts << " is not the current Unix time in seconds";
}

TEST_F(messaging, text_to_username_string) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  a->send_json(ev_text, text_to("bob", "hello bob", 7));
  json::value delivered = a->recv_type_skipping(ev_delivered, {ev_received});
  const auto& d = body_of(delivered);
  EXPECT_EQ(field_of(d, "mark"), json::value(7));
  EXPECT_GT(int_field(d, "message_id"), 0);
  EXPECT_GT(int_field(d, "timestamp"), 0);
  json::value text = b->recv_type(ev_text);
  expect_text_body(body_of(text), alice, bob, "hello bob");
  EXPECT_EQ(int_field(body_of(text), "msg_id"), int_field(d, "message_id"));
  EXPECT_EQ(int_field(d, "chat_id"), int_field(body_of(text), "chat_id"));
}

TEST_F(messaging, text_to_username_in_other_case) {
  auto alice = make_user("alice");
  auto bob = make_user("Bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  send_and_confirm(a, text_to("bOB", "case-insensitive", 1));
  expect_text_body(body_of(b->recv_type(ev_text)), alice, bob, "case-insensitive");
}

TEST_F(messaging, text_to_id_only) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  auto d = send_and_confirm(a, text_to_id(bob.id, "by id", "m-1"));
  EXPECT_EQ(field_of(d, "mark"), json::value("m-1"));
  expect_text_body(body_of(b->recv_type(ev_text)), alice, bob, "by id");
}

TEST_F(messaging, text_with_readme_object_recipient) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  // The README's shape: {"to": {"username": ..., "id": 0}}; id 0 means "not given".
  json::object body{{"to", {{"username", "bob"}, {"id", 0}}}, {"content", "readme form"}, {"mark", "r"}};
  send_and_confirm(a, body);
  expect_text_body(body_of(b->recv_type(ev_text)), alice, bob, "readme form");
  // The object form with the right id, and with the id alone.
  json::object both{{"to", {{"username", "bob"}, {"id", bob.id}}}, {"content", "readme both"}, {"mark", "r2"}};
  send_and_confirm(a, both);
  expect_text_body(body_of(b->recv_type(ev_text)), alice, bob, "readme both");
  json::object id_only{{"to", {{"id", bob.id}}}, {"content", "readme id"}, {"mark", "r3"}};
  send_and_confirm(a, id_only);
  expect_text_body(body_of(b->recv_type(ev_text)), alice, bob, "readme id");
}

TEST_F(messaging, text_with_matching_username_and_to_id) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  json::object body{{"to", "bob"}, {"to_id", bob.id}, {"content", "both"}, {"mark", 3}};
  send_and_confirm(a, body);
  expect_text_body(body_of(b->recv_type(ev_text)), alice, bob, "both");
}

TEST_F(messaging, marks_are_echoed_exactly) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  // Each mark must come back as the same JSON value; large integers keep every digit.
  const std::vector<std::string> marks = {"1",    "0",     "-17", "1732500000123", "9007199254740993",
                                          "\"abc\"", "\"\"", "\"\\u00e9t\\u00e9 \\\"q\\\"\"", "1.5"};
  int i = 0;
  for (const auto& mark_text : marks) {
    SCOPED_TRACE(mark_text);
    std::string frame = R"({"type":0,"body":{"to":"bob","content":"mark )" + std::to_string(i++) +
                        R"(","mark":)" + mark_text + "}}";
    a->send_text(frame);
    json::value d = a->recv_type_skipping(ev_delivered, {ev_received});
    EXPECT_EQ(field_of(body_of(d), "mark"), json::parse(mark_text)) << json::serialize(d);
    b->recv_type(ev_text);
  }
  // The exact digits of a large integer, checked on the raw text (a double would round).
  a->send_text(R"({"type":0,"body":{"to":"bob","content":"big","mark":1732500000123456789}})");
  for (;;) {
    auto raw = a->recv(5s);
    ASSERT_TRUE(raw.has_value());
    if (raw->find("\"type\":10") != std::string::npos) continue;
    EXPECT_NE(raw->find("1732500000123456789"), std::string::npos) << *raw;
    break;
  }
}

// Numbers come back spelled as sent, checked on the raw text of DELIVERED (and of ERR),
// and a retry with the same spelling is recognised.
TEST_F(messaging, numeric_marks_are_echoed_with_their_original_text) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  const auto next_raw = [&](int type) {
    for (;;) {
      auto raw = a->recv(5s);
      if (!raw) throw std::runtime_error("no frame");
      if (raw->find("\"type\":10") != std::string::npos) continue;  // RECEIVED may interleave
      EXPECT_NE(raw->find("\"type\":" + std::to_string(type) + ","), std::string::npos) << *raw;
      return *raw;
    }
  };
  int i = 0;
  for (const std::string mark : {"1.50", "1e2", "-0", "-0.0", "123456789012345678901234567890", "1E400"}) {
    SCOPED_TRACE(mark);
    a->send_text(R"({"type":0,"body":{"to":"bob","content":"m)" + std::to_string(i++) + R"(","mark":)" + mark + "}}");
    EXPECT_NE(next_raw(ev_delivered).find("\"mark\":" + mark + ","), std::string::npos);
    b->recv_type(ev_text);
  }
  // A refusal echoes it the same way.
  a->send_text(R"({"type":0,"body":{"to":"bob","content":"","mark":2.50}})");
  EXPECT_NE(next_raw(ev_err).find(R"("mark":2.50})"), std::string::npos);
  // The same text is the same mark: a retry.
  a->send_text(R"({"type":0,"body":{"to":"bob","content":"m0","mark":1.50}})");
  const auto retry = next_raw(ev_delivered);
  EXPECT_NE(retry.find(R"("mark":1.50,)"), std::string::npos) << retry;
  EXPECT_NE(retry.find(R"("duplicate":true)"), std::string::npos) << retry;
  b->expect_no_frame(500ms);
}

TEST_F(messaging, message_without_mark_is_delivered) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  auto d = send_and_confirm(a, text_to("bob", "no mark"));
  EXPECT_GT(int_field(d, "message_id"), 0);
  b->recv_type(ev_text);
}

TEST_F(messaging, sender_cannot_be_spoofed) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto carol = make_user("carol");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  json::object body = text_to("bob", "it's me, carol", 1);
  body["from"] = "carol";
  body["from_id"] = carol.id;
  body["from_name"] = "Carol";
  body["msg_id"] = 1;
  send_and_confirm(a, body);
  const auto text = b->recv_type(ev_text);
  EXPECT_EQ(int_field(body_of(text), "from_id"), alice.id);
  EXPECT_EQ(str_field(body_of(text), "from"), "alice");
  EXPECT_EQ(str_field(body_of(text), "from_name"), alice.name);
}

TEST_F(messaging, retry_with_same_mark_and_content_is_a_duplicate) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  auto first = send_and_confirm(a, text_to("bob", "retry me", "mark-r"));
  EXPECT_FALSE(bool_field(first, "duplicate"));
  b->recv_type(ev_text);
  auto again = send_and_confirm(a, text_to("bob", "retry me", "mark-r"));
  EXPECT_EQ(int_field(again, "message_id"), int_field(first, "message_id"));
  EXPECT_TRUE(bool_field(again, "duplicate")) << json::serialize(again);
  EXPECT_EQ(field_of(again, "mark"), json::value("mark-r"));
  b->expect_no_frame(500ms);  // the recipient gets the message once
  // The same mark with different content is a new message.
  auto other = send_and_confirm(a, text_to("bob", "different content", "mark-r"));
  EXPECT_NE(int_field(other, "message_id"), int_field(first, "message_id"));
  EXPECT_FALSE(bool_field(other, "duplicate"));
  EXPECT_EQ(str_field(body_of(b->recv_type(ev_text)), "content"), "different content");
  // Without a mark, identical content is a new message every time.
  auto n1 = send_and_confirm(a, text_to("bob", "same"));
  auto n2 = send_and_confirm(a, text_to("bob", "same"));
  EXPECT_NE(int_field(n1, "message_id"), int_field(n2, "message_id"));
  b->recv_type(ev_text);
  b->recv_type(ev_text);
}

TEST_F(messaging, retry_of_a_message_to_an_offline_user_is_pushed_once) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  auto first = send_and_confirm(a, text_to("bob", "while away", 99));
  auto again = send_and_confirm(a, text_to("bob", "while away", 99));
  EXPECT_EQ(int_field(again, "message_id"), int_field(first, "message_id"));
  session b = connect_authed(bob);
  EXPECT_EQ(int_field(body_of(b->recv_type(ev_text)), "msg_id"), int_field(first, "message_id"));
  b->expect_no_frame(500ms);
}

TEST_F(messaging, racing_first_messages_share_one_conversation) {
  // Several pairs, each racing its first messages, to give a race a fair chance to show.
  for (int pair = 0; pair < 8; ++pair) {
    SCOPED_TRACE("pair " + std::to_string(pair));
    auto x = make_user("racex" + std::to_string(pair));
    auto y = make_user("racey" + std::to_string(pair));
    session sx = connect_authed(x);
    session sy = connect_authed(y);
    // Both send before either reads anything.
    sx->send_json(ev_text, text_to(y.username, "from x", "mx"));
    sy->send_json(ev_text, text_to(x.username, "from y", "my"));
    auto dx = body_of(sx->recv_type_skipping(ev_delivered, {ev_received, ev_text}, 10s));
    auto dy = body_of(sy->recv_type_skipping(ev_delivered, {ev_received, ev_text}, 10s));
    EXPECT_EQ(field_of(dx, "mark"), json::value("mx"));
    EXPECT_EQ(field_of(dy, "mark"), json::value("my"));
    ASSERT_TRUE(has_field(dx, "chat_id") && has_field(dy, "chat_id")) << json::serialize(dx);
    EXPECT_EQ(int_field(dx, "chat_id"), int_field(dy, "chat_id"));
    std::set<std::int64_t> seqs{int_field(dx, "seq"), int_field(dy, "seq")};
    EXPECT_EQ(seqs, (std::set<std::int64_t>{1, 2}));
    // History shows both in one conversation (the other's TEXT and RECEIVED may come first).
    sx->send_json(ev_history_request, json::object{{"user1_id", x.id}, {"user2_id", y.id}});
    auto hist = body_of(sx->recv_type_skipping(ev_history_response, {ev_received, ev_text}));
    ASSERT_TRUE(hist.is_array()) << json::serialize(hist);
    ASSERT_EQ(hist.as_array().size(), 2u) << json::serialize(hist);
    EXPECT_EQ(int_field(hist.as_array()[0], "chat_id"), int_field(hist.as_array()[1], "chat_id"));
    EXPECT_EQ(int_field(hist.as_array()[0], "chat_id"), int_field(dx, "chat_id"));
  }
}

TEST_F(messaging, one_senders_300_messages_arrive_in_order) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  constexpr int n = 300;
  for (int i = 0; i < n; ++i) a->send_json(ev_text, text_to("bob", "msg " + std::to_string(i), i));
  std::int64_t last_id = 0;
  for (int i = 0; i < n; ++i) {
    auto d = body_of(a->recv_type_skipping(ev_delivered, {ev_received}, 30s));
    ASSERT_EQ(field_of(d, "mark"), json::value(i)) << "DELIVERED out of order";
    const auto id = int_field(d, "message_id");
    EXPECT_GT(id, last_id);
    last_id = id;
  }
  std::int64_t last_seq = 0;
  for (int i = 0; i < n; ++i) {
    auto t = body_of(b->recv_type(ev_text, 30s));
    ASSERT_EQ(str_field(t, "content"), "msg " + std::to_string(i)) << "TEXT out of order";
    EXPECT_EQ(int_field(t, "seq"), last_seq + 1);
    last_seq = int_field(t, "seq");
  }
  b->expect_no_frame(300ms);
}

TEST_F(messaging, two_devices_of_the_recipient_both_get_text) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b1 = connect_authed(bob);
  session b2 = connect_authed(bob);  // must not replace b1 (the original's defect)
  auto d = send_and_confirm(a, text_to("bob", "to both", 1));
  EXPECT_EQ(int_field(body_of(b1->recv_type(ev_text)), "msg_id"), int_field(d, "message_id"));
  EXPECT_EQ(int_field(body_of(b2->recv_type(ev_text)), "msg_id"), int_field(d, "message_id"));
  EXPECT_FALSE(b1->closed());
  b1->expect_no_frame(300ms);
  b2->expect_no_frame(300ms);
}

}  // namespace
}  // namespace chatrix::test
