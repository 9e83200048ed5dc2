// Blocking on the real server (docs/protocol.md, "Blocking"): the /v1/blocks routes, what a
// blocked user's messages do (delivered to the sender, never shown to the blocker: not live,
// not on reconnect, not in history or previews, not after an unblock), what the blocker is
// told when writing to the person they blocked; and the /v1/devices routes.
#include "account_fixture.hpp"

#include <optional>

namespace chatrix::test {
namespace {

class blocks : public account_fixture {
 protected:
  http_response block(const test_user& who, const std::string& username) {
    return call("POST", "/v1/blocks", who, json::object{{"username", username}});
  }
  std::vector<std::string> blocked_names(const test_user& who) {
    const auto r = call("GET", "/v1/blocks", who);
    EXPECT_EQ(r.status, 200) << r.body;
    const auto body = r.json();
    std::vector<std::string> out;
    for (const auto& row : field_of(body, "blocks").as_array()) out.push_back(str_field(row, "username"));
    return out;
  }
  /// Connects with `since` and returns every frame up to SYNCED, and SYNCED's position.
  std::pair<std::vector<json::value>, std::int64_t> reconnect_since(const test_user& u, std::int64_t since) {
    auto ws = connect_raw();
    ws->ignore_type(ev_typing);
    ws->ignore_type(ev_presence);
    ws->send_text(json::serialize(json::object{{"token", u.token}, {"since", since}}));
    std::vector<json::value> frames;
    for (;;) {
      auto f = ws->recv_json(10s);
      if (int_field(f, "type") == ev_synced) return {frames, int_field(body_of(f), "pos")};
      frames.push_back(std::move(f));
    }
  }
  /// SYNCED's position for a fresh connection of `u` (nothing pending).
  std::int64_t synced_pos(const test_user& u) { return reconnect_since(u, 0).second; }
  static bool has_text(const std::vector<json::value>& frames, std::int64_t id) {
    for (const auto& f : frames)
      if (int_field(f, "type") == ev_text && int_field(body_of(f), "msg_id") == id) return true;
    return false;
  }
};

// ---- the routes ----

TEST_F(blocks, block_list_and_unblock) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob", "Bob B.");
  make_user("carol");

  const auto first = block(alice, "bob");
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(int_field(first.json(), "id"), bob.id);
  EXPECT_EQ(str_field(first.json(), "username"), "bob");
  EXPECT_EQ(str_field(first.json(), "name"), "Bob B.");
  const auto at = str_field(first.json(), "blocked_at");
  EXPECT_TRUE(is_rfc3339(at)) << at;
  // Again: nothing changes, the first block answers.
  const auto again = block(alice, "BOB");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(str_field(again.json(), "blocked_at"), at);

  ASSERT_EQ(block(alice, "carol").status, 201);
  EXPECT_EQ(blocked_names(alice), (std::vector<std::string>{"carol", "bob"}));  // most recent first
  EXPECT_TRUE(blocked_names(bob).empty());  // blocks are one-way

  EXPECT_EQ(call("DELETE", "/v1/blocks/bob", alice).status, 204);
  EXPECT_EQ(refused(call("DELETE", "/v1/blocks/bob", alice), 404), "not_found");
  EXPECT_EQ(blocked_names(alice), (std::vector<std::string>{"carol"}));
}

TEST_F(blocks, refusals) {
  const auto alice = make_user("alice");
  make_user("bob");
  EXPECT_EQ(refused(http_request(port(), "GET", "/v1/blocks"), 401), "unauthorized");
  EXPECT_EQ(refused(http_request(port(), "POST", "/v1/blocks", R"({"username":"bob"})"), 401), "unauthorized");
  EXPECT_EQ(refused(http_request(port(), "DELETE", "/v1/blocks/bob"), 401), "unauthorized");
  EXPECT_EQ(refused(call("POST", "/v1/blocks", alice, "not json"), 400), "invalid_field");
  EXPECT_EQ(refused(call("POST", "/v1/blocks", alice, json::object{}), 400), "invalid_field");
  EXPECT_EQ(refused(call("POST", "/v1/blocks", alice, json::object{{"username", 3}}), 400), "invalid_field");
  EXPECT_EQ(refused(block(alice, "alice"), 400), "invalid_field");
  EXPECT_EQ(refused(block(alice, "nobody-here"), 404), "not_found");
  EXPECT_EQ(refused(call("DELETE", "/v1/blocks/nobody-here", alice), 404), "not_found");
  EXPECT_EQ(refused(call("DELETE", "/v1/blocks/alice", alice), 404), "not_found");
  // A name no account can have: not found, and the answer is still JSON.
  EXPECT_EQ(refused(call("DELETE", "/v1/blocks/%FF%00x", alice), 404), "not_found");
  EXPECT_EQ(refused(block(alice, std::string(300, 'b')), 404), "not_found");
  EXPECT_TRUE(blocked_names(alice).empty());
}

// ---- what a block does to messages ----

TEST_F(blocks, the_blocked_users_messages_are_delivered_to_the_sender_and_never_reach_the_blocker) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto b = connect_quiet(bob);
  auto b2 = connect_quiet(bob);
  const auto before = sent(alice, text_to("bob", "before the block"));
  const auto chat = int_field(before, "chat_id");
  for (auto* s : {&b, &b2}) (*s)->recv_type(ev_text, 10s);
  const auto since = synced_pos(alice);
  ASSERT_EQ(block(alice, "bob").status, 201);

  auto a = connect_quiet(alice);
  // Bob hears DELIVERED as for any message, and his other device SENT.
  const auto delivered = send_and_confirm(b, text_to("alice", "withheld", "w-1"));
  const auto withheld = int_field(delivered, "message_id");
  EXPECT_GT(withheld, 0);
  const auto copy = body_of(b2->recv_type_skipping(ev_sent, {ev_received}, 10s));
  EXPECT_EQ(int_field(copy, "msg_id"), withheld);
  const auto over_http = int_field(sent(bob, text_to("alice", "withheld too")), "message_id");
  // Alice sees nothing of them: not live ...
  a->expect_no_frame(500ms, {ev_synced, ev_received});
  // ... not on reconnect (pending, or the stream after `since`) ...
  auto fresh = connect_quiet(alice);
  fresh->expect_no_frame(300ms, {ev_synced, ev_received});
  const auto [frames, pos] = reconnect_since(alice, since);
  EXPECT_FALSE(has_text(frames, withheld));
  EXPECT_FALSE(has_text(frames, over_http));
  // ... not in history or previews, nor their unread count.
  const auto rows = messages_of(alice, chat);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(str_field(rows[0], "content"), "before the block");
  const auto previews = conversations_of(alice);
  ASSERT_EQ(previews.size(), 1u);
  EXPECT_EQ(int_field(previews[0], "unread"), 0);
  EXPECT_EQ(str_field(field_of(previews[0], "last_message"), "content"), "before the block");
  // Bob's own view has them.
  EXPECT_EQ(messages_of(bob, chat).size(), 3u);

  // Not after an unblock either; what Bob sends from then on arrives.
  ASSERT_EQ(call("DELETE", "/v1/blocks/bob", alice).status, 204);
  EXPECT_EQ(messages_of(alice, chat).size(), 1u);
  auto after = connect_quiet(alice);
  after->expect_no_frame(300ms, {ev_synced, ev_received});
  b->send_json(ev_text, text_to("alice", "after the unblock"));
  // (b had the SENT copy of the send over HTTP.)
  const auto later = int_field(body_of(b->recv_type_skipping(ev_delivered, {ev_sent, ev_received}, 10s)), "message_id");
  const auto text = body_of(after->recv_type(ev_text, 10s));
  EXPECT_EQ(int_field(text, "msg_id"), later);
  const auto now_rows = messages_of(alice, chat);
  ASSERT_EQ(now_rows.size(), 2u);
  EXPECT_EQ(int_field(now_rows[1], "id"), later);
}

TEST_F(blocks, a_delete_tells_the_blocker_only_of_messages_they_saw) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  const auto seen = int_field(sent(bob, text_to("alice", "seen by alice")), "message_id");
  ASSERT_EQ(block(alice, "bob").status, 201);
  const auto withheld = int_field(sent(bob, text_to("alice", "withheld")), "message_id");
  auto a = connect_quiet(alice);
  a->recv_type(ev_text, 10s);  // the message from before the block, pending
  auto b = connect_quiet(bob);
  b->send_json(ev_delete, json::object{{"message_ids", json::array{seen, withheld}}});
  const auto mine = body_of(b->recv_type_skipping(ev_delete, {ev_received}, 10s));
  EXPECT_EQ(mine.at("message_ids"), (json::array{seen, withheld}));
  const auto theirs = body_of(a->recv_type_skipping(ev_delete, {ev_received}, 10s));
  EXPECT_EQ(theirs.at("message_ids"), json::array{seen}) << "the blocker learnt of a withheld message";
}

TEST_F(blocks, the_blocker_writing_to_the_blocked_user_is_refused_with_blocked) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  ASSERT_EQ(block(alice, "bob").status, 201);
  auto a = connect_quiet(alice);
  auto b = connect_quiet(bob);
  a->send_json(ev_text, text_to("bob", "you are blocked", "m-9"));
  const auto err = a->recv_type(ev_err, 10s);
  EXPECT_EQ(err_code(err), "blocked");
  EXPECT_EQ(int_field(body_of(err), "ref_type"), ev_text);
  EXPECT_EQ(str_field(body_of(err), "mark"), "m-9");
  EXPECT_EQ(refused(call("POST", "/v1/messages", alice, text_to_id(bob.id, "over http")), 403), "blocked");
  b->expect_no_frame(300ms, {ev_synced});
  // Once unblocked, the words go through.
  ASSERT_EQ(call("DELETE", "/v1/blocks/bob", alice).status, 204);
  sent(alice, text_to("bob", "sorry"));
  EXPECT_EQ(str_field(body_of(b->recv_type(ev_text, 10s)), "content"), "sorry");
}

// ---- /v1/devices ----

class devices : public account_fixture {};

TEST_F(devices, register_list_and_unregister) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  const json::object phone{{"platform", "fcm"}, {"token", "dQw4w9WgXcQ:APA91b-x_y"}};
  const auto added = call("POST", "/v1/devices", alice, phone);
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(str_field(added.json(), "platform"), "fcm");
  EXPECT_EQ(str_field(added.json(), "token"), "dQw4w9WgXcQ:APA91b-x_y");
  const auto at = str_field(added.json(), "created_at");
  EXPECT_TRUE(is_rfc3339(at)) << at;
  const auto known = call("POST", "/v1/devices", alice, phone);
  ASSERT_EQ(known.status, 200) << known.body;
  EXPECT_EQ(str_field(known.json(), "created_at"), at);
  ASSERT_EQ(call("POST", "/v1/devices", alice, json::object{{"platform", "web_push-2"}, {"token", "t w o"}}).status,
            201);

  const auto list = call("GET", "/v1/devices", alice);
  ASSERT_EQ(list.status, 200) << list.body;
  const auto listed = list.json();
  const auto& rows = field_of(listed, "devices").as_array();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(str_field(rows[0], "platform"), "fcm");  // oldest first
  EXPECT_EQ(str_field(rows[1], "platform"), "web_push-2");
  EXPECT_TRUE(field_of(call("GET", "/v1/devices", bob).json(), "devices").as_array().empty());

  EXPECT_EQ(call("DELETE", "/v1/devices", alice, phone).status, 204);
  EXPECT_EQ(refused(call("DELETE", "/v1/devices", alice, phone), 404), "not_found");
  // Only one's own.
  EXPECT_EQ(refused(call("DELETE", "/v1/devices", bob, json::object{{"platform", "web_push-2"}, {"token", "t w o"}}),
                    404),
            "not_found");
  EXPECT_EQ(field_of(call("GET", "/v1/devices", alice).json(), "devices").as_array().size(), 1u);
}

TEST_F(devices, refuses_bad_platforms_and_tokens) {
  const auto alice = make_user("alice");
  const auto with = [&](const std::string& method, json::value platform, json::value token) {
    return call(method, "/v1/devices", alice, json::object{{"platform", platform}, {"token", token}});
  };
  for (const std::string method : {"POST", "DELETE"}) {
    SCOPED_TRACE(method);
    EXPECT_EQ(refused(call(method, "/v1/devices", alice, "not json"), 400), "invalid_field");
    EXPECT_EQ(refused(with(method, "", "t"), 400), "invalid_field");
    EXPECT_EQ(refused(with(method, "FCM", "t"), 400), "invalid_field");
    EXPECT_EQ(refused(with(method, "f.cm", "t"), 400), "invalid_field");
    EXPECT_EQ(refused(with(method, json::string(std::string(33, 'a')), "t"), 400), "invalid_field");
    EXPECT_EQ(refused(with(method, 1, "t"), 400), "invalid_field");
    EXPECT_EQ(refused(with(method, "fcm", ""), 400), "invalid_field");
    EXPECT_EQ(refused(with(method, "fcm", "line\nbreak"), 400), "invalid_field");
    EXPECT_EQ(refused(with(method, "fcm", "caf\xc3\xa9"), 400), "invalid_field");
    EXPECT_EQ(refused(with(method, "fcm", json::string(std::string(4097, 't'))), 400), "invalid_field");
    EXPECT_EQ(refused(http_request(port(), method, "/v1/devices", R"({"platform":"fcm","token":"t"})"), 401),
              "unauthorized");
  }
  EXPECT_EQ(with("POST", json::string(std::string(32, 'a')), json::string(std::string(4096, 't'))).status, 201);
  EXPECT_EQ(refused(http_request(port(), "GET", "/v1/devices"), 401), "unauthorized");
}

}  // namespace
}  // namespace chatrix::test
