// EDIT (14), DELETE (15) and the message fields of replies, files, edits and deletes: what a
// client may send, each refusal with its code, and the JSON the encoders write.
#include "protocol/codec.hpp"
#include "protocol/limits.hpp"
#include "protocol/message_changes_codec.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace json = boost::json;
using namespace chatrix;
using namespace chatrix::protocol;

namespace {

decode_limits limits() { return decode_limits{100}; }

client_frame decode_ok(std::string_view s) {
  auto r = decode(s, limits());
  EXPECT_TRUE(r.has_value()) << s << ": " << (r ? "" : r.error().err.message);
  return r ? *r : client_frame{};
}

frame_error decode_fail(std::string_view s) {
  auto r = decode(s, limits());
  EXPECT_FALSE(r.has_value()) << s;
  return r ? frame_error{} : r.error();
}

/// {"type":15,"body":{"message_ids":[1,2,...,n]}}
std::string delete_frame(std::size_t n) {
  std::string out = R"({"type":15,"body":{"message_ids":[)";
  for (std::size_t i = 1; i <= n; ++i) {
    if (i > 1) out += ',';
    out += std::to_string(i);
  }
  out += "]}}";
  return out;
}

/// A TEXT to bob with `fields` appended to its body.
std::string text_frame(std::string_view fields) {
  std::string out = R"({"type":0,"body":{"to":"bob")";
  out += fields;
  out += "}}";
  return out;
}

message sample() {
  message m{41, 3, 2, 1, 2, "hello", 1732500000123};
  return m;
}

}  // namespace

TEST(decode_edit, message_id_and_content) {
  auto f = decode_ok(R"({"type":14,"body":{"message_id":5,"content":"new"}})");
  auto* e = std::get_if<edit_message_request>(&f);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->id, 5);
  EXPECT_EQ(e->content, "new");
  // A JavaScript number that is an integer is an id.
  auto g = decode_ok(R"({"type":14,"body":{"message_id":5.0,"content":"x"}})");
  EXPECT_EQ(std::get<edit_message_request>(g).id, 5);
}

TEST(decode_edit, refusals_have_codes_and_ref_type_14) {
  struct refusal {
    const char* frame;
    errc code;
  } cases[] = {
      {R"({"type":14,"body":{"content":"x"}})", errc::invalid_field},
      {R"({"type":14,"body":{"message_id":0,"content":"x"}})", errc::invalid_field},
      {R"({"type":14,"body":{"message_id":-3,"content":"x"}})", errc::invalid_field},
      {R"({"type":14,"body":{"message_id":"5","content":"x"}})", errc::invalid_field},
      {R"({"type":14,"body":{"message_id":5}})", errc::content_empty},
      {R"({"type":14,"body":{"message_id":5,"content":""}})", errc::content_empty},
      {R"({"type":14,"body":{"message_id":5,"content":7}})", errc::invalid_field},
      {R"({"type":14,"body":{"message_id":5,"content":"a\u0000b"}})", errc::invalid_field},
      {R"({"type":14,"body":[]})", errc::invalid_field},
  };
  for (const auto& c : cases) {
    auto e = decode_fail(c.frame);
    EXPECT_EQ(e.err.code, c.code) << c.frame;
    EXPECT_EQ(e.ref_type, 14) << c.frame;
  }
  std::string long_content = R"({"type":14,"body":{"message_id":5,"content":")";
  long_content.append(101, 'a');
  long_content += "\"}}";
  EXPECT_EQ(decode_fail(long_content).err.code, errc::content_too_long);
}

TEST(decode_delete, one_to_a_hundred_ids) {
  auto f = decode_ok(R"({"type":15,"body":{"message_ids":[5,6]}})");
  auto* d = std::get_if<delete_messages_request>(&f);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->ids, (std::vector<message_id>{5, 6}));
  auto full = decode_ok(delete_frame(max_ids_per_delete));
  EXPECT_EQ(std::get<delete_messages_request>(full).ids.size(), max_ids_per_delete);

  for (const std::string& frame : {delete_frame(0), std::string(R"({"type":15,"body":{}})"),
                                   std::string(R"({"type":15,"body":{"message_ids":5}})"),
                                   std::string(R"({"type":15,"body":{"message_ids":[1,0]}})"),
                                   std::string(R"({"type":15,"body":{"message_ids":["1"]}})"),
                                   delete_frame(max_ids_per_delete + 1)}) {
    auto e = decode_fail(frame);
    EXPECT_EQ(e.err.code, errc::invalid_field) << frame;
    EXPECT_EQ(e.ref_type, 15) << frame;
  }
}

TEST(decode_text, reply_to_and_attachment) {
  auto f = decode_ok(R"({"type":0,"body":{"to":"bob","content":"yes","reply_to":7,"attachment":"f1"}})");
  const auto& t = std::get<text_request>(f);
  EXPECT_EQ(t.reply_to, 7);
  EXPECT_EQ(t.attachment, "f1");
  // null is "not given", as for every optional field.
  auto g = decode_ok(R"({"type":0,"body":{"to":"bob","content":"x","reply_to":null,"attachment":null}})");
  EXPECT_FALSE(std::get<text_request>(g).reply_to.has_value());
  EXPECT_FALSE(std::get<text_request>(g).attachment.has_value());
}

TEST(decode_text, content_may_be_empty_only_with_an_attachment) {
  for (const char* frame : {R"({"type":0,"body":{"to":"bob","attachment":"f1"}})",
                            R"({"type":0,"body":{"to":"bob","content":"","attachment":"f1"}})",
                            R"({"type":0,"body":{"to":"bob","content":null,"attachment":"f1"}})"}) {
    auto f = decode_ok(frame);
    EXPECT_EQ(std::get<text_request>(f).content, "") << frame;
  }
  EXPECT_EQ(decode_fail(R"({"type":0,"body":{"to":"bob","content":""}})").err.code, errc::content_empty);
  EXPECT_EQ(decode_fail(R"({"type":0,"body":{"to":"bob","reply_to":3}})").err.code, errc::content_empty);
}

TEST(decode_text, bad_reply_to_or_attachment_is_invalid_field_with_the_mark) {
  std::string too_long_id = R"(,"content":"x","mark":9,"attachment":")";
  too_long_id.append(max_file_id_bytes + 1, 'f');
  too_long_id += '"';
  for (const std::string& frame :
       {text_frame(R"(,"content":"x","reply_to":0,"mark":9)"), text_frame(R"(,"content":"x","reply_to":-1,"mark":9)"),
        text_frame(R"(,"content":"x","reply_to":"7","mark":9)"),
        text_frame(R"(,"content":"x","reply_to":1.5,"mark":9)"),
        text_frame(R"(,"content":"x","attachment":"","mark":9)"),
        text_frame(R"(,"content":"x","attachment":7,"mark":9)"), text_frame(too_long_id)}) {
    auto e = decode_fail(frame);
    EXPECT_EQ(e.err.code, errc::invalid_field) << frame;
    EXPECT_EQ(e.ref_type, 0) << frame;
    EXPECT_EQ(e.mark, "9") << frame;
  }
  std::string longest_id = R"(,"attachment":")";
  longest_id.append(max_file_id_bytes, 'f');
  longest_id += '"';
  auto longest = decode_ok(text_frame(longest_id));
  EXPECT_EQ(std::get<text_request>(longest).attachment->size(), max_file_id_bytes);
}

TEST(encode_changes, edited_frame_has_pos_and_body) {
  auto m = sample();
  m.content = "new \"text\"";
  m.edited_at = 1732500060456;
  auto v = json::parse(encode_edited(m, 1041)).as_object();
  EXPECT_EQ(v.at("type").as_int64(), 14);
  EXPECT_EQ(v.at("pos").as_int64(), 1041);
  const auto& b = v.at("body").as_object();
  EXPECT_EQ(b.at("message_id").as_int64(), 41);
  EXPECT_EQ(b.at("chat_id").as_int64(), 3);
  EXPECT_EQ(b.at("content").as_string(), "new \"text\"");
  EXPECT_EQ(b.at("edited_at").as_string(), "2024-11-25T02:01:00.456Z");
  EXPECT_EQ(b.size(), 4u);
  // No stream position: no "pos".
  EXPECT_FALSE(json::parse(encode_edited(m, 0)).as_object().contains("pos"));
}

TEST(encode_changes, deleted_frame_has_pos_and_body) {
  auto v = json::parse(encode_deleted({5, 6}, 2, 1732500000000, 7)).as_object();
  EXPECT_EQ(v.at("type").as_int64(), 15);
  EXPECT_EQ(v.at("pos").as_int64(), 7);
  const auto& b = v.at("body").as_object();
  EXPECT_EQ(b.at("message_ids"), (json::array{5, 6}));
  EXPECT_EQ(b.at("chat_id").as_int64(), 2);
  EXPECT_EQ(b.at("deleted_at").as_string(), "2024-11-25T02:00:00.000Z");
  EXPECT_EQ(b.size(), 3u);
  EXPECT_FALSE(json::parse(encode_deleted({5}, 2, 0, 0)).as_object().contains("pos"));
}

TEST(encode_changes, plain_messages_carry_none_of_the_new_fields) {
  const auto m = sample();
  const user from{1, "alice", "Alice"};
  const user to{2, "bob", "Bob"};
  auto text = json::parse(encode_text({m, from, to})).at("body").as_object();
  auto row = json::parse(encode_history({m})).at("body").as_array().at(0).as_object();
  for (const auto* o : {&text, &row})
    for (const char* key : {"reply_to", "attachment", "edited_at", "deleted"})
      EXPECT_FALSE(o->contains(key)) << key;
}

TEST(encode_changes, text_history_and_previews_carry_reply_attachment_and_edit) {
  auto m = sample();
  m.reply_to = 40;
  m.attachment = file_info{"abc", "cat \"1\".png", "image/png", 1234};
  m.edited_at = 1732500060456;
  const user from{1, "alice", "Alice"};
  const user to{2, "bob", "Bob"};
  chat_preview p{to, 3, m, 0, m.created_at};
  const json::object text = json::parse(encode_text({m, from, to})).at("body").as_object();
  const json::object sent = json::parse(encode_text({m, from, to}, event::sent)).at("body").as_object();
  const json::object row = json::parse(encode_history({m})).at("body").as_array().at(0).as_object();
  const json::object last =
      json::parse(encode_previews({p})).at("body").as_array().at(0).at("last_message").as_object();
  for (const auto* o : {&text, &sent, &row, &last}) {
    EXPECT_EQ(o->at("reply_to").as_int64(), 40) << json::serialize(*o);
    EXPECT_EQ(o->at("attachment"),
              (json::object{{"id", "abc"}, {"name", "cat \"1\".png"}, {"type", "image/png"}, {"size", 1234}}));
    EXPECT_EQ(o->at("edited_at").as_string(), "2024-11-25T02:01:00.456Z");
    EXPECT_FALSE(o->contains("deleted"));
  }
}

TEST(encode_changes, deleted_messages_show_deleted_and_no_file) {
  auto m = sample();
  m.content = "";
  m.attachment = file_info{"abc", "a.txt", "text/plain", 3};
  m.deleted_at = 1732500070000;
  const json::object row = json::parse(encode_history({m})).at("body").as_array().at(0).as_object();
  EXPECT_EQ(row.at("deleted"), true);
  EXPECT_EQ(row.at("content").as_string(), "");
  EXPECT_FALSE(row.contains("attachment"));
}
