// Replies (TEXT's reply_to) and files (TEXT's attachment) through the real server: what the
// recipient, the sender's other devices, history and previews show, and each refusal.
#include "message_changes_fixture.hpp"

namespace chatrix::test {
namespace {

class reply_attachment : public message_changes_test {
 protected:
  void SetUp() override {
    message_changes_test::SetUp();
    alice = make_user("alice");
    bob = make_user("bob");
  }

  /// POST /v1/files as `who`: the uploaded file's description (the upload itself is tested
  /// in files_test.cpp).
  json::value upload(const test_user& who, const std::string& name, const std::string& type,
                     const std::string& bytes) {
    auto r = http_request(port(), "POST", "/v1/files?name=" + name, bytes,
                          {{"Authorization", "Bearer " + who.token}, {"Content-Type", type}});
    if (r.status != 201) throw std::runtime_error("upload answered " + std::to_string(r.status) + ": " + r.body);
    return r.json();
  }

  test_user alice, bob;
};

TEST_F(reply_attachment, a_reply_names_its_message_everywhere) {
  session a = connect_authed(alice);
  session b1 = connect_authed(bob);
  session b2 = connect_authed(bob);
  const auto question = send_id(a, text_to("bob", "lunch?", 1));
  next(b1, ev_text);
  next(b2, ev_text);

  auto reply = text_to("alice", "yes", 2);
  reply["reply_to"] = question;
  const auto answer = send_id(b1, reply);
  const auto text = body_of(next(a, ev_text));
  EXPECT_EQ(int_field(text, "msg_id"), answer);
  EXPECT_EQ(int_field(text, "reply_to"), question);
  EXPECT_EQ(int_field(body_of(next(b2, ev_sent)), "reply_to"), question);

  const auto rows = history(a, alice.id, bob.id);
  EXPECT_EQ(int_field(row(rows, answer), "reply_to"), question);
  EXPECT_FALSE(has_field(row(rows, question), "reply_to"));
  EXPECT_EQ(int_field(field_of(preview_with(alice, bob.id), "last_message"), "reply_to"), question);
}

TEST_F(reply_attachment, a_reply_to_another_conversation_or_to_nothing_is_refused) {
  auto carol = make_user("carol");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  const auto to_carol = send_id(a, text_to("carol", "for carol", 1));

  for (const auto target : {to_carol, to_carol + 1000}) {
    auto reply = text_to("bob", "out of place", 7);
    reply["reply_to"] = target;
    a->send_json(ev_text, reply);
    const auto err = next(a, ev_err);
    EXPECT_EQ(err_code(err), "invalid_field");
    EXPECT_EQ(int_field(body_of(err), "ref_type"), ev_text);
    EXPECT_EQ(int_field(body_of(err), "mark"), 7);
  }
  auto bad = text_to("bob", "x", 8);
  bad["reply_to"] = "first";
  a->send_json(ev_text, bad);
  EXPECT_EQ(err_code(next(a, ev_err)), "invalid_field");

  b->expect_no_frame(300ms, {ev_received, ev_synced});
  EXPECT_TRUE(history(a, alice.id, bob.id).empty());
}

TEST_F(reply_attachment, an_attachment_must_be_a_file_the_sender_uploaded) {
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  for (const auto& content : {std::string(), std::string("see file")}) {
    auto text = text_to("bob", content, 3);
    text["attachment"] = "no-such-file";
    a->send_json(ev_text, text);
    const auto err = next(a, ev_err);
    EXPECT_EQ(err_code(err), "invalid_field") << json::serialize(err);
    EXPECT_EQ(int_field(body_of(err), "mark"), 3);
  }
  auto not_an_id = text_to("bob", "x", 4);
  not_an_id["attachment"] = std::string(65, 'f');
  a->send_json(ev_text, not_an_id);
  EXPECT_EQ(err_code(next(a, ev_err)), "invalid_field");
  // Without a file, content is still required.
  a->send_json(ev_text, text_to("bob", "", 5));
  EXPECT_EQ(err_code(next(a, ev_err)), "content_empty");
  b->expect_no_frame(300ms, {ev_received, ev_synced});

  auto carol = make_user("carol");
  const auto carols = upload(carol, "c.txt", "text/plain", "carol's");
  auto borrowed = text_to("bob", "", 6);
  borrowed["attachment"] = str_field(carols, "id");
  a->send_json(ev_text, borrowed);
  EXPECT_EQ(err_code(next(a, ev_err)), "invalid_field");
  b->expect_no_frame(300ms, {ev_received, ev_synced});
}

TEST_F(reply_attachment, a_file_message_carries_the_file_everywhere_until_deleted) {
  const std::string bytes = "hello, file\n";
  const auto file = upload(alice, "note.txt", "text/plain", bytes);
  EXPECT_EQ(str_field(file, "name"), "note.txt");
  EXPECT_EQ(int_field(file, "size"), static_cast<std::int64_t>(bytes.size()));

  session a1 = connect_authed(alice);
  session a2 = connect_authed(alice);
  session b = connect_authed(bob);
  auto text = text_to("bob", "", 1);  // a file may go without words
  text["attachment"] = str_field(file, "id");
  const auto id = send_id(a1, text);
  const json::value& expected = file;
  const auto got = body_of(next(b, ev_text));
  EXPECT_EQ(str_field(got, "content"), "");
  EXPECT_EQ(field_of(got, "attachment"), expected);
  EXPECT_EQ(field_of(body_of(next(a2, ev_sent)), "attachment"), expected);
  EXPECT_EQ(field_of(row(history(b, bob.id, alice.id), id), "attachment"), expected);
  EXPECT_EQ(field_of(field_of(preview_with(bob, alice.id), "last_message"), "attachment"), expected);

  remove(a1, json::array{id});
  next(b, ev_delete);
  const auto deleted = row(history(b, bob.id, alice.id), id);
  EXPECT_TRUE(bool_field(deleted, "deleted"));
  EXPECT_FALSE(has_field(deleted, "attachment")) << json::serialize(deleted);
}

}  // namespace
}  // namespace chatrix::test
