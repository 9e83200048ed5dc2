// The sync parts of the codec: `since` in the first frame, "pos" on stream-event frames (and
// nowhere else), SYNCED, READ_STATE, CHATPREVIEWS on request and the preview cursor.
#include "protocol/codec.hpp"
#include "protocol/limits.hpp"
#include "protocol/sync_codec.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <limits>

namespace json = boost::json;
using namespace chatrix;
using namespace chatrix::protocol;

namespace {

json::object frame_of(const std::string& text) { return json::parse(text).as_object(); }

previews_request decode_previews_ok(std::string_view s) {
  auto r = decode(s, decode_limits{});
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().err.message);
  if (!r) return {};
  auto* p = std::get_if<previews_request>(&*r);
  EXPECT_NE(p, nullptr);
  return p ? *p : previews_request{};
}

TEST(decode_auth, since_is_a_number_or_a_digit_string) {
  EXPECT_FALSE(decode_auth(R"({"token":"t"})")->since);
  EXPECT_FALSE(decode_auth(R"({"token":"t","since":null})")->since);
  EXPECT_EQ(decode_auth(R"({"token":"t","since":0})")->since, 0);
  EXPECT_EQ(decode_auth(R"({"token":"t","since":1041})")->since, 1041);
  EXPECT_EQ(decode_auth(R"({"token":"t","since":"1041"})")->since, 1041);
  EXPECT_EQ(decode_auth(R"({"token":"t","since":1041.0})")->since, 1041);
  EXPECT_EQ(decode_auth(R"({"token":"t","since":"9223372036854775807"})")->since,
            std::numeric_limits<stream_pos>::max());
}

TEST(decode_auth, a_since_that_is_no_position_is_kept_as_unusable) {
  for (const char* bad : {R"("abc")", R"("")", R"("-1")", R"("+5")", R"(" 5")", R"("5 ")", R"("1.5")", "-3", "1.5",
                          "true", "[1]", "{}", R"("99999999999999999999")", "18446744073709551615"}) {
    auto a = decode_auth(std::string(R"({"token":"t","since":)") + bad + "}");
    ASSERT_TRUE(a) << bad;  // the session goes on: the since is answered with sync_expired
    EXPECT_EQ(a->since, unusable_since) << bad;
  }
}

TEST(encode, pos_is_a_top_level_number_beside_type_and_body) {
  message m{41, 3, 2, 1, 2, "hi", 1732500000123};
  user from{1, "alice", "Alice"};
  user to{2, "bob", "Bob"};
  auto text = frame_of(encode_text({m, from, to}, event::text, 1041));
  EXPECT_EQ(text.at("pos").as_int64(), 1041);
  EXPECT_EQ(text.at("body").at("msg_id").as_int64(), 41);
  EXPECT_EQ(frame_of(encode_text({m, from, to}, event::sent, 7)).at("pos").as_int64(), 7);
  EXPECT_EQ(frame_of(encode_delivered(m, std::nullopt, false, 8)).at("pos").as_int64(), 8);
  EXPECT_EQ(frame_of(encode_received({41}, 2, 0, 9)).at("pos").as_int64(), 9);
  auto read = frame_of(encode_read({41, 42}, 10));
  EXPECT_EQ(read.at("pos").as_int64(), 10);
  EXPECT_EQ(read.at("body"), (json::array{41, 42}));  // the body stays the bare array
  // Without a position there is no "pos" at all.
  EXPECT_FALSE(frame_of(encode_text({m, from, to})).contains("pos"));
  EXPECT_FALSE(frame_of(encode_delivered(m, std::nullopt, true)).contains("pos"));
  EXPECT_FALSE(frame_of(encode_read({41})).contains("pos"));
  EXPECT_FALSE(frame_of(encode_received({41}, 2, 0)).contains("pos"));
}

TEST(encode, synced_carries_the_latest_position_even_zero) {
  auto f = frame_of(encode_synced(0));
  EXPECT_EQ(f.at("type").as_int64(), 13);
  EXPECT_FALSE(f.contains("pos"));
  EXPECT_EQ(f.at("body").at("pos").as_int64(), 0);
  EXPECT_EQ(frame_of(encode_synced(1041)).at("body").at("pos").as_int64(), 1041);
}

TEST(encode, read_state) {
  auto f = frame_of(encode_read_state(2, {5, 6}, 44));
  EXPECT_EQ(f.at("type").as_int64(), 16);
  EXPECT_EQ(f.at("pos").as_int64(), 44);
  EXPECT_EQ(f.at("body").at("chat_id").as_int64(), 2);
  EXPECT_EQ(f.at("body").at("message_ids"), (json::array{5, 6}));
}

TEST(encode, preview_rows_carry_a_cursor_that_reads_back) {
  chat_preview p;
  p.peer = user{2, "bob", "Bob"};
  p.conversation = 9;
  p.updated_at = 1732500000123;
  auto rows = frame_of(encode_previews({p})).at("body").as_array();
  ASSERT_EQ(rows.size(), 1u);
  const auto cursor = parse_preview_cursor(rows[0].at("cursor").as_string());
  ASSERT_TRUE(cursor);
  EXPECT_EQ(cursor->updated_at, p.updated_at);
  EXPECT_EQ(cursor->conversation, 9);
  EXPECT_TRUE(rows[0].as_object().contains("unread"));
}

TEST(decode, previews_request_with_and_without_a_page) {
  auto first = decode_previews_ok(R"({"type":5,"body":{}})");
  EXPECT_FALSE(first.before);
  EXPECT_EQ(first.limit, max_previews);
  const auto cursor = format_preview_cursor({1732500000123, 9});
  auto next = decode_previews_ok(R"({"type":5,"body":{"before":")" + cursor + R"(","limit":50}})");
  ASSERT_TRUE(next.before);
  EXPECT_EQ(next.before->updated_at, 1732500000123);
  EXPECT_EQ(next.before->conversation, 9);
  EXPECT_EQ(next.limit, 50);
  EXPECT_EQ(decode_previews_ok(R"({"type":5,"body":{"limit":1000}})").limit, max_previews);
  EXPECT_EQ(decode_previews_ok(R"({"type":5,"body":{"limit":0}})").limit, max_previews);
  EXPECT_FALSE(decode_previews_ok(R"({"type":5,"body":{"before":null}})").before);
}

TEST(decode, a_bad_cursor_is_invalid_field_with_ref_type_5) {
  for (const char* bad : {R"("x")", R"("")", R"("12")", R"("12.")", R"(".3")", R"("1.0")", R"("1.-2")",
                          R"("1.2.3")", R"("1 .2")", "12", "[]"}) {
    auto r = decode(std::string(R"({"type":5,"body":{"before":)") + bad + "}}", decode_limits{});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().err.code, errc::invalid_field) << bad;
    EXPECT_EQ(r.error().ref_type, 5) << bad;
  }
  auto r = decode(R"({"type":5,"body":{"limit":"ten"}})", decode_limits{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err.code, errc::invalid_field);
}

}  // namespace
