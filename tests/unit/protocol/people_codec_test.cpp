// TYPING (17) in and out, PRESENCE (18), previews' presence fields and deleted accounts as
// every encoder renders them.
#include "protocol/codec.hpp"
#include "protocol/people_codec.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace json = boost::json;
using namespace chatrix;
using namespace chatrix::protocol;

namespace {

json::object frame_of(const std::string& text) { return json::parse(text).as_object(); }

typing_request typing_ok(std::string_view s) {
  auto r = decode(s, decode_limits{});
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().err.message);
  if (!r) return {};
  auto* t = std::get_if<typing_request>(&*r);
  EXPECT_NE(t, nullptr);
  return t ? *t : typing_request{};
}

frame_error typing_refused(std::string_view s) {
  auto r = decode(s, decode_limits{});
  EXPECT_FALSE(r.has_value());
  return r ? frame_error{} : r.error();
}

user deleted_user(user_id id) {
  user u;
  u.id = id;
  u.deleted = true;
  return u;
}

TEST(decode_typing, names_the_recipient_like_a_text) {
  auto t = typing_ok(R"({"type":17,"body":{"to":"bob","typing":true}})");
  EXPECT_EQ(t.to_username, "bob");
  EXPECT_FALSE(t.to_id);
  EXPECT_TRUE(t.typing);

  t = typing_ok(R"({"type":17,"body":{"to_id":2,"typing":false}})");
  EXPECT_EQ(t.to_id, 2);
  EXPECT_FALSE(t.to_username);
  EXPECT_FALSE(t.typing);

  t = typing_ok(R"({"type":17,"body":{"to":{"username":"bob","id":2},"typing":true}})");
  EXPECT_EQ(t.to_username, "bob");
  EXPECT_EQ(t.to_id, 2);
}

TEST(decode_typing, refusals_point_back_at_type_17) {
  for (auto text : {R"({"type":17,"body":{"typing":true}})", R"({"type":17,"body":{"to":"bob"}})",
                    R"({"type":17,"body":{"to":"bob","typing":1}})", R"({"type":17,"body":{"to":"bob","typing":"yes"}})",
                    R"({"type":17,"body":{"to":"bob","typing":null}})", R"({"type":17,"body":{"to_id":"x","typing":true}})",
                    R"({"type":17,"body":{"to":7,"typing":true}})", R"({"type":17,"body":[]})"}) {
    const auto e = typing_refused(text);
    EXPECT_EQ(e.err.code, errc::invalid_field) << text;
    EXPECT_EQ(e.ref_type, 17) << text;
    EXPECT_FALSE(e.mark) << text;
  }
  const auto mismatch = typing_refused(R"({"type":17,"body":{"to":{"id":3},"to_id":2,"typing":true}})");
  EXPECT_EQ(mismatch.err.code, errc::recipient_mismatch);
  EXPECT_EQ(mismatch.ref_type, 17);
}

TEST(encode_typing, carries_sender_chat_and_state) {
  user ann{1, "ann", "Ann"};
  auto f = frame_of(encode_typing(ann, 5, true));
  EXPECT_EQ(f.at("type").as_int64(), 17);
  EXPECT_FALSE(f.contains("pos"));
  const auto& b = f.at("body").as_object();
  EXPECT_EQ(b.at("from_id").as_int64(), 1);
  EXPECT_EQ(b.at("from").as_string(), "ann");
  EXPECT_EQ(b.at("chat_id").as_int64(), 5);
  EXPECT_EQ(b.at("typing").as_bool(), true);

  f = frame_of(encode_typing(ann, std::nullopt, false));
  EXPECT_TRUE(f.at("body").as_object().at("chat_id").is_null());
  EXPECT_EQ(f.at("body").as_object().at("typing").as_bool(), false);
}

TEST(encode_presence, last_seen_is_unix_seconds_or_null) {
  user bob{2, "bob", "Bob"};
  auto f = frame_of(encode_presence(bob, presence_view{true, 1765100000123}));
  EXPECT_EQ(f.at("type").as_int64(), 18);
  const auto& b = f.at("body").as_object();
  EXPECT_EQ(b.at("user_id").as_int64(), 2);
  EXPECT_EQ(b.at("username").as_string(), "bob");
  EXPECT_EQ(b.at("online").as_bool(), true);
  EXPECT_EQ(b.at("last_seen").as_int64(), 1765100000);

  f = frame_of(encode_presence(bob, presence_view{false, std::nullopt}));
  EXPECT_EQ(f.at("body").as_object().at("online").as_bool(), false);
  EXPECT_TRUE(f.at("body").as_object().at("last_seen").is_null());

  f = frame_of(encode_presence(deleted_user(2), presence_view{}));
  EXPECT_EQ(f.at("body").as_object().at("username").as_string(), "");
}

TEST(encode_previews, rows_carry_online_and_last_seen) {
  chat_preview online;
  online.peer = user{2, "bob", "Bob"};
  online.conversation = 7;
  online.presence = presence_view{true, 1765100000999};
  chat_preview hidden;
  hidden.peer = user{3, "cy", "Cy"};
  hidden.conversation = 8;
  const auto rows = frame_of(encode_previews({online, hidden})).at("body").as_array();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("online").as_bool(), true);
  EXPECT_EQ(rows[0].at("last_seen").as_int64(), 1765100000);
  EXPECT_EQ(rows[1].at("online").as_bool(), false);
  EXPECT_TRUE(rows[1].at("last_seen").is_null());
}

TEST(deleted_accounts, render_as_deleted_account_wherever_a_user_is_encoded) {
  user gone = deleted_user(42);
  gone.username = "was-alice";  // a store returns "", but nothing of a name may leak anyway
  gone.name = "Alice";
  const auto expect_deleted = [](const json::object& u) {
    EXPECT_EQ(u.at("id").as_int64(), 42);
    EXPECT_EQ(u.at("username").as_string(), "");
    EXPECT_EQ(u.at("name").as_string(), "Deleted account");
    EXPECT_EQ(u.at("deleted").as_bool(), true);
  };
  chat_preview p;
  p.peer = gone;
  p.conversation = 3;
  expect_deleted(frame_of(encode_previews({p})).at("body").as_array().at(0).as_object());
  expect_deleted(json::parse(encode_user(gone)).as_object());

  const auto live = json::parse(encode_user(user{1, "ann", "Ann"})).as_object();
  EXPECT_EQ(live.at("username").as_string(), "ann");
  EXPECT_EQ(live.at("name").as_string(), "Ann");
  EXPECT_FALSE(live.contains("deleted"));
}

TEST(text_sender, reads_from_id_of_an_encoded_text_only) {
  message m;
  m.id = 77;
  m.conversation = 4;
  user ann{1234567, "ann", "Ann"};
  user bob{2, "bob", "Bob"};
  EXPECT_EQ(text_sender(encode_text({m, ann, bob})), 1234567);
  EXPECT_EQ(text_sender(encode_text({m, ann, bob}, event::text, 9223372036854775807)), 1234567);
  EXPECT_FALSE(text_sender(encode_text({m, ann, bob}, event::sent)));
  EXPECT_FALSE(text_sender(encode_typing(ann, 4, true)));
  EXPECT_FALSE(text_sender(""));
}

}  // namespace
