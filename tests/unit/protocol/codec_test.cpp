// The frame codec: every client frame shape of the original protocol and its extensions,
// every refusal with its stable code, and encoders that produce the documented JSON.
#include "protocol/codec.hpp"
#include "protocol/limits.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <limits>

namespace json = boost::json;
using namespace chatrix;
using namespace chatrix::protocol;

namespace {

decode_limits limits() { return decode_limits{100}; }

text_request decode_text_ok(std::string_view s) {
  auto r = decode(s, limits());
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().err.message);
  if (!r) return {};
  auto* t = std::get_if<text_request>(&*r);
  EXPECT_NE(t, nullptr);
  return t ? *t : text_request{};
}

frame_error decode_fail(std::string_view s) {
  auto r = decode(s, limits());
  EXPECT_FALSE(r.has_value());
  return r ? frame_error{} : r.error();
}

json::object body_of(const std::string& frame, int type) {
  auto v = json::parse(frame).as_object();
  EXPECT_EQ(v.at("type").as_int64(), type);
  return v.at("body").is_object() ? v.at("body").as_object() : json::object{};
}

}  // namespace

TEST(decode_text, original_client_shape) {
  auto t = decode_text_ok(R"({"type":0,"body":{"to":"bob","to_id":7,"content":"hi","mark":12}})");
  EXPECT_EQ(t.to_username, "bob");
  EXPECT_EQ(t.to_id, 7);
  EXPECT_EQ(t.content, "hi");
  EXPECT_EQ(t.mark, "12");
}

TEST(decode_text, readme_shape_with_zero_id) {
  auto t = decode_text_ok(R"({"type":0,"body":{"to":{"username":"bob","id":0},"content":"hi","mark":"m-1"}})");
  EXPECT_EQ(t.to_username, "bob");
  EXPECT_FALSE(t.to_id.has_value());
  EXPECT_EQ(t.mark, "\"m-1\"");
}

TEST(decode_text, id_only_and_large_integer_mark_kept_exactly) {
  auto t = decode_text_ok(R"({"type":0,"body":{"to_id":3,"content":"x","mark":1732500000123}})");
  EXPECT_FALSE(t.to_username.has_value());
  EXPECT_EQ(t.to_id, 3);
  EXPECT_EQ(t.mark, "1732500000123");
}

// The mark is echoed exactly as sent: numbers keep their spelling, whatever value the
// JSON parser reads from it; strings are the same JSON string.
TEST(decode_text, numeric_marks_keep_the_text_the_client_sent) {
  const auto mark_of = [](const std::string& mark) {
    return decode_text_ok(R"({"type":0,"body":{"to":"bob","content":"x","mark":)" + mark + "}}").mark;
  };
  for (const char* m : {"1.5", "1.50", "1e2", "1E+2", "-0", "0", "-0.0", "0.1", "-12", "123456789012345678901234567890",
                        "18446744073709551615", "-9223372036854775808", "1e400", "2.5e-3"}) {
    EXPECT_EQ(mark_of(m), m);
  }
  // Whatever comes around it.
  EXPECT_EQ(decode_text_ok(R"({ "body" : { "mark" : 1.50 , "to":"bob","content":"x"} , "type" : 0 })").mark, "1.50");
  EXPECT_EQ(decode_text_ok(R"({"type":0,"body":{"to":{"username":"bob","mark":7.0},"mark":-0,"content":"x"}})").mark,
            "-0");
  EXPECT_EQ(decode_text_ok(R"({"type":0,"mark":2.0,"body":{"to":"bob","content":"x","x":[1.0,{"mark":3.0}],"mark":4.0}})")
                .mark,
            "4.0");
  // Duplicate keys: the last one counts, as for every other field.
  EXPECT_EQ(decode_text_ok(R"({"type":0,"body":{"to":"bob","content":"x","mark":1.0,"mark":2.50}})").mark, "2.50");
  EXPECT_EQ(decode_text_ok(R"({"type":0,"body":{"to":"bob","content":"x","mark":1.0,"mark":"s"}})").mark, "\"s\"");
  EXPECT_EQ(decode_text_ok(R"({"type":0,"body":{"mark":9.5},"body":{"to":"bob","content":"x","mark":0.50}})").mark,
            "0.50");
  EXPECT_EQ(decode_text_ok(R"({"type":0,"body":{"to":"bob","content":"x","m\u0061rk":1.250}})").mark, "1.250");
  // Strings: the same string, in canonical form.
  EXPECT_EQ(decode_text_ok(R"({"type":0,"body":{"to":"bob","content":"x","mark":"a\u002db"}})").mark, "\"a-b\"");
  EXPECT_EQ(decode_text_ok(R"({"type":0,"body":{"to":"bob","content":"x","mark":"1.50"}})").mark, "\"1.50\"");
}

TEST(decode_text, refusals_echo_the_mark_text) {
  auto e = decode_fail(R"({"type":0,"body":{"to":"bob","content":"","mark":1.50}})");
  EXPECT_EQ(e.err.code, errc::content_empty);
  EXPECT_EQ(e.mark, "1.50");
  EXPECT_NE(encode_error(e.err, e.ref_type, e.mark).find(R"("mark":1.50})"), std::string::npos);
}

TEST(decode_text, javascript_integral_double_is_an_id) {
  auto t = decode_text_ok(R"({"type":0,"body":{"to_id":3.0,"content":"x"}})");
  EXPECT_EQ(t.to_id, 3);
  EXPECT_FALSE(t.mark.has_value());
}

TEST(decode_text, refusals_carry_code_type_and_mark) {
  auto e = decode_fail(R"({"type":0,"body":{"to":"bob","content":"","mark":5}})");
  EXPECT_EQ(e.err.code, errc::content_empty);
  EXPECT_EQ(e.ref_type, 0);
  EXPECT_EQ(e.mark, "5");

  EXPECT_EQ(decode_fail(R"({"type":0,"body":{"to":"bob","content":")" + std::string(101, 'a') + R"("}})").err.code,
            errc::content_too_long);
  EXPECT_EQ(decode_fail(R"({"type":0,"body":{"content":"hi"}})").err.code, errc::invalid_field);
  EXPECT_EQ(decode_fail(R"({"type":0,"body":{"to":5,"content":"hi"}})").err.code, errc::invalid_field);
  EXPECT_EQ(decode_fail(R"({"type":0,"body":{"to":"bob","content":7}})").err.code, errc::invalid_field);
  EXPECT_EQ(decode_fail(R"({"type":0,"body":{"to":"bob","content":"a\u0000b"}})").err.code, errc::invalid_field);
  EXPECT_EQ(decode_fail(R"({"type":0,"body":{"to":"bob","content":"x","mark":{"a":1}}})").err.code, errc::invalid_field);
  EXPECT_EQ(decode_fail(R"({"type":0,"body":{"to":{"id":2},"to_id":3,"content":"x"}})").err.code,
            errc::recipient_mismatch);
  EXPECT_EQ(decode_fail(R"({"type":0,"body":{"to":"bob","content":"x","mark":")" + std::string(300, 'm') + R"("}})")
                .err.code,
            errc::invalid_field);
}

TEST(decode, malformed_frames) {
  EXPECT_EQ(decode_fail("not json").err.code, errc::malformed_frame);
  EXPECT_EQ(decode_fail("[1,2]").err.code, errc::malformed_frame);
  EXPECT_EQ(decode_fail(R"({"body":{}})").err.code, errc::malformed_frame);
  EXPECT_EQ(decode_fail(R"({"type":"0","body":{}})").err.code, errc::malformed_frame);
  EXPECT_EQ(decode_fail(R"({"type":0})").err.code, errc::invalid_field);
  EXPECT_EQ(decode_fail(R"({"type":0,"body":[]})").err.code, errc::invalid_field);
  auto e = decode_fail(R"({"type":99,"body":{}})");
  EXPECT_EQ(e.err.code, errc::unknown_type);
  EXPECT_EQ(e.ref_type, 99);
  // Server-to-client codes are not requests.
  EXPECT_EQ(decode_fail(R"({"type":1,"body":{}})").err.code, errc::unknown_type);
  EXPECT_EQ(decode_fail(R"({"type":9,"body":{}})").err.code, errc::unknown_type);
}

TEST(decode, truncated_input_at_every_length_is_refused_not_crashed) {
  const std::string full = R"({"type":0,"body":{"to":"bob","to_id":7,"content":"h\u00e9llo","mark":"m"}})";
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto r = decode(std::string_view(full).substr(0, n), limits());
    EXPECT_FALSE(r.has_value()) << n;
  }
  EXPECT_TRUE(decode(full, limits()).has_value());
}

TEST(decode, mark_read_ack_search_history) {
  auto m = decode(R"({"type":2,"body":{"to":"alice","message_ids":[1,2,3]}})", limits());
  ASSERT_TRUE(m);
  EXPECT_EQ(std::get<mark_read_request>(*m).ids, (std::vector<message_id>{1, 2, 3}));
  EXPECT_EQ(decode_fail(R"({"type":2,"body":{"message_ids":[0]}})").err.code, errc::invalid_field);
  EXPECT_EQ(decode_fail(R"({"type":2,"body":{"message_ids":"1"}})").err.code, errc::invalid_field);

  auto a = decode(R"({"type":11,"body":{"message_ids":[9]}})", limits());
  ASSERT_TRUE(a);
  EXPECT_EQ(std::get<ack_request>(*a).ids, (std::vector<message_id>{9}));

  auto s = decode(R"({"type":6,"body":{"username":"Al"}})", limits());
  ASSERT_TRUE(s);
  EXPECT_EQ(std::get<search_request>(*s).fragment, "Al");
  EXPECT_EQ(std::get<search_request>(*s).limit, default_search_results);
  auto s2 = decode(R"({"type":6,"body":{"username":"Al","limit":1000}})", limits());
  EXPECT_EQ(std::get<search_request>(*s2).limit, max_search_results);

  auto h = decode(R"({"type":8,"body":{"user1_id":1,"user2_id":2}})", limits());
  ASSERT_TRUE(h);
  EXPECT_EQ(std::get<history_request>(*h).limit, default_history_page);
  EXPECT_FALSE(std::get<history_request>(*h).before.has_value());
  auto h2 = decode(R"({"type":8,"body":{"user1_id":1,"user2_id":2,"before_id":40,"limit":10}})", limits());
  EXPECT_EQ(std::get<history_request>(*h2).before, 40);
  EXPECT_EQ(std::get<history_request>(*h2).limit, 10);
  EXPECT_EQ(decode_fail(R"({"type":8,"body":{"user1_id":1}})").err.code, errc::invalid_field);
}

TEST(decode_auth, token_and_acks) {
  auto a = decode_auth(R"({"token":"abc"})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->token, "abc");
  EXPECT_FALSE(a->explicit_acks);
  EXPECT_TRUE(decode_auth(R"({"token":"abc","acks":true})")->explicit_acks);
  EXPECT_EQ(decode_auth("nope").error().code, errc::unauthorized);
  EXPECT_EQ(decode_auth(R"({"token":""})").error().code, errc::unauthorized);
  EXPECT_EQ(decode_auth(R"({"token":5})").error().code, errc::unauthorized);
}

TEST(encode, text_has_every_original_field) {
  message m{41, 3, 2, 1, 2, "he said \"hi\"\n", 1732500000123};
  user from{1, "alice", "Alice A."};
  user to{2, "bob", "Bob"};
  auto b = body_of(encode_text({m, from, to}), 0);
  EXPECT_EQ(b.at("msg_id").as_int64(), 41);
  EXPECT_EQ(b.at("from_id").as_int64(), 1);
  EXPECT_EQ(b.at("from").as_string(), "alice");
  EXPECT_EQ(b.at("from_name").as_string(), "Alice A.");
  EXPECT_EQ(b.at("content").as_string(), "he said \"hi\"\n");
  EXPECT_EQ(b.at("timestamp").as_int64(), 1732500000);
  EXPECT_EQ(b.at("to").as_string(), "bob");
  EXPECT_EQ(b.at("chat_id").as_int64(), 3);
  EXPECT_EQ(b.at("seq").as_int64(), 2);
  body_of(encode_text({m, from, to}, event::sent), 12);
}

TEST(encode, delivered_echoes_mark_verbatim) {
  message m{5, 1, 1, 1, 2, "x", 2000};
  auto b = body_of(encode_delivered(m, std::string("\"m-1\""), false), 1);
  EXPECT_EQ(b.at("message_id").as_int64(), 5);
  EXPECT_EQ(b.at("mark").as_string(), "m-1");
  EXPECT_EQ(b.at("timestamp").as_int64(), 2);
  EXPECT_FALSE(b.at("duplicate").as_bool());
  auto n = body_of(encode_delivered(m, std::string("1732500000123"), true), 1);
  EXPECT_EQ(n.at("mark").as_int64(), 1732500000123);
  EXPECT_TRUE(n.at("duplicate").as_bool());
  EXPECT_TRUE(body_of(encode_delivered(m, std::nullopt, false), 1).at("mark").is_null());
}

TEST(encode, delivered_and_error_carry_the_mark_text_unchanged) {
  message m{5, 1, 1, 1, 2, "x", 2000};
  for (const char* mark : {"1.50", "1e2", "-0", "123456789012345678901234567890", "\"m\""}) {
    const std::string want = std::string(R"("mark":)") + mark + ",";
    EXPECT_NE(encode_delivered(m, std::string(mark), false).find(want), std::string::npos) << mark;
    EXPECT_NE(encode_error(make_error(errc::internal, "x"), 0, std::string(mark)).find(std::string(R"("mark":)") + mark + "}"),
              std::string::npos)
        << mark;
  }
}

TEST(encode, error_has_readable_text_and_code) {
  auto b = body_of(encode_error(make_error(errc::unknown_recipient, "no user named 'x'"), 0, std::string("7")), 3);
  EXPECT_EQ(b.at("error").as_string(), "no user named 'x'");
  EXPECT_EQ(b.at("code").as_string(), "unknown_recipient");
  EXPECT_EQ(b.at("ref_type").as_int64(), 0);
  EXPECT_EQ(b.at("mark").as_int64(), 7);
  // An error is never an empty object (the original's defect).
  auto e = body_of(encode_error(make_error(errc::internal, "")), 3);
  EXPECT_FALSE(e.at("error").as_string().empty());
}

TEST(encode, read_is_a_bare_array) {
  auto v = json::parse(encode_read({4, 5})).as_object();
  EXPECT_EQ(v.at("type").as_int64(), 2);
  ASSERT_TRUE(v.at("body").is_array());
  EXPECT_EQ(v.at("body").as_array().size(), 2u);
}

TEST(encode, empty_previews_and_history_are_null_search_is_empty_array) {
  EXPECT_TRUE(json::parse(encode_previews({})).as_object().at("body").is_null());
  EXPECT_TRUE(json::parse(encode_history({})).as_object().at("body").is_null());
  EXPECT_TRUE(json::parse(encode_search({})).as_object().at("body").as_array().empty());
}

TEST(encode, history_is_oldest_first_with_rfc3339_times) {
  message newer{9, 1, 2, 2, 1, "b", 1732500001000};
  message older{8, 1, 1, 1, 2, "a", 1732500000500};
  older.read_at = 1;
  auto rows = json::parse(encode_history({newer, older})).as_object().at("body").as_array();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("id").as_int64(), 8);
  EXPECT_EQ(rows[0].at("created_at").as_string(), "2024-11-25T02:00:00.500Z");
  EXPECT_TRUE(rows[0].at("read").as_bool());
  EXPECT_EQ(rows[0].at("user_id").as_int64(), 1);
  EXPECT_EQ(rows[0].at("chat_id").as_int64(), 1);
  EXPECT_FALSE(rows[1].at("read").as_bool());
}

TEST(encode, previews_carry_extensions) {
  chat_preview p;
  p.peer = user{2, "bob", "Bob"};
  p.conversation = 7;
  p.unread = 3;
  p.updated_at = 5000;
  p.last = message{11, 7, 3, 2, 1, "latest", 5000};
  auto rows = json::parse(encode_previews({p})).as_object().at("body").as_array();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("username").as_string(), "bob");
  EXPECT_EQ(rows[0].at("unread").as_int64(), 3);
  EXPECT_EQ(rows[0].at("last_message").at("content").as_string(), "latest");
}

TEST(encode, json_strings_escape_control_characters) {
  std::string out;
  append_json_string(out, std::string("a\x01\"\\\t", 5));
  EXPECT_EQ(out, "\"a\\u0001\\\"\\\\\\t\"");
  EXPECT_EQ(json::parse(out).as_string(), std::string("a\x01\"\\\t", 5));
}

TEST(decode, refresh_token_and_every_refusal_is_unauthorized_with_ref_type) {
  auto r = decode(R"({"type":19,"body":{"token":"a.b.c"}})", limits());
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<refresh_token_request>(*r).token, "a.b.c");
  for (const char* bad : {R"({"type":19,"body":{}})", R"({"type":19,"body":{"token":""}})",
                          R"({"type":19,"body":{"token":42}})", R"({"type":19,"body":{"token":null}})"}) {
    SCOPED_TRACE(bad);
    const auto e = decode_fail(bad);
    EXPECT_EQ(e.err.code, errc::unauthorized);
    EXPECT_EQ(e.ref_type, 19);
  }
  const auto big = R"({"type":19,"body":{"token":")" + std::string(max_token_bytes + 1, 'x') + "\"}}";
  EXPECT_EQ(decode_fail(big).err.code, errc::unauthorized);
}

TEST(encode, token_refreshed_carries_the_new_expiry) {
  auto b = body_of(encode_token_refreshed(1714521600), 19);
  EXPECT_EQ(b.at("expires_at").as_string(), "2024-05-01T00:00:00.000Z");
  // An exp past year 9999 (any foreign token may carry one) still renders as RFC 3339.
  auto far = body_of(encode_token_refreshed(std::numeric_limits<std::int64_t>::max()), 19);
  EXPECT_EQ(far.at("expires_at").as_string(), "9999-12-31T23:59:59.000Z");
}
