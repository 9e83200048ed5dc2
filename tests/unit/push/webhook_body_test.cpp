// The webhook body: every field of docs/protocol.md with its type, content only when given.
#include "push/webhook_body.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace chatrix::push {
namespace {

namespace json = boost::json;

push_notice sample() {
  push_notice n;
  n.push_id = "0123456789abcdef0123456789abcdef";
  n.user = 2;
  n.username = "bob";
  n.message = 41;
  n.chat = 5;
  n.from_id = 1;
  n.from = "ann";
  n.timestamp = 1765100000;
  n.count = 3;
  n.tokens = {{"fcm", "tok-1", 0}, {"apns", "tok \"2\"", 0}};
  return n;
}

TEST(push_body, every_field) {
  const auto body = json::parse(encode_body(sample(), 1765100007)).as_object();
  EXPECT_EQ(body.at("event"), "message");
  EXPECT_EQ(body.at("push_id"), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(body.at("user_id"), 2);
  EXPECT_EQ(body.at("username"), "bob");
  EXPECT_EQ(body.at("message_id"), 41);
  EXPECT_EQ(body.at("chat_id"), 5);
  EXPECT_EQ(body.at("from_id"), 1);
  EXPECT_EQ(body.at("from"), "ann");
  EXPECT_EQ(body.at("timestamp"), 1765100000);
  EXPECT_EQ(body.at("count"), 3);
  EXPECT_EQ(body.at("sent_at"), 1765100007);
  const json::array expected{json::object{{"platform", "fcm"}, {"token", "tok-1"}},
                             json::object{{"platform", "apns"}, {"token", "tok \"2\""}}};
  EXPECT_EQ(body.at("tokens"), expected);
  EXPECT_FALSE(body.contains("content"));
  EXPECT_EQ(body.size(), 12u);
}

TEST(push_body, content_only_when_given) {
  auto n = sample();
  n.content = "hello \"there\"\n";
  const auto body = json::parse(encode_body(n, 1)).as_object();
  EXPECT_EQ(body.at("content"), "hello \"there\"\n");
  n.content = "";
  EXPECT_EQ(json::parse(encode_body(n, 1)).as_object().at("content"), "");
}

TEST(push_body, no_tokens_is_an_empty_array) {
  auto n = sample();
  n.tokens.clear();
  EXPECT_EQ(json::parse(encode_body(n, 1)).as_object().at("tokens"), json::array{});
}

}  // namespace
}  // namespace chatrix::push
