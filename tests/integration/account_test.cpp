// Account control on the real server (docs/openapi.yaml, /v1/me): settings and renames,
// the streamed export, and deletion: what it refuses, what it closes and revokes, what the
// partners keep seeing, and when the username is free again.
#include "account_fixture.hpp"
#include "support/jwt_mint.hpp"

#include <chrono>
#include <thread>

namespace chatrix::test {
namespace {

class account : public account_fixture {};

// ---- GET and PATCH /v1/me ----

TEST_F(account, me_shows_show_presence_and_patch_toggles_it) {
  const auto alice = make_user("alice", "Alice");
  auto me = call("GET", "/v1/me", alice);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_TRUE(bool_field(me.json(), "show_presence"));

  const auto hidden = call("PATCH", "/v1/me", alice, json::object{{"show_presence", false}});
  ASSERT_EQ(hidden.status, 200) << hidden.body;
  EXPECT_FALSE(bool_field(hidden.json(), "show_presence"));
  EXPECT_EQ(str_field(hidden.json(), "name"), "Alice");
  EXPECT_EQ(int_field(hidden.json(), "id"), alice.id);
  EXPECT_FALSE(bool_field(call("GET", "/v1/me", alice).json(), "show_presence"));

  const auto shown = call("PATCH", "/v1/me", alice, json::object{{"show_presence", true}});
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_TRUE(bool_field(call("GET", "/v1/me", alice).json(), "show_presence"));
}

TEST_F(account, patch_refuses_what_it_cannot_change) {
  const auto alice = make_user("alice", "Alice");
  EXPECT_EQ(refused(call("PATCH", "/v1/me", alice, "not json"), 400), "invalid_field");
  EXPECT_EQ(refused(call("PATCH", "/v1/me", alice, json::object{}), 400), "invalid_field");
  EXPECT_EQ(refused(call("PATCH", "/v1/me", alice, json::object{{"nick", "al"}}), 400), "invalid_field");
  EXPECT_EQ(refused(call("PATCH", "/v1/me", alice, json::object{{"name", "Al"}, {"username", "al"}}), 400),
            "invalid_field");
  EXPECT_EQ(refused(call("PATCH", "/v1/me", alice, json::object{{"name", 5}}), 400), "invalid_field");
  EXPECT_EQ(refused(call("PATCH", "/v1/me", alice, json::object{{"show_presence", "no"}}), 400), "invalid_field");
  EXPECT_EQ(refused(call("PATCH", "/v1/me", alice, json::object{{"name", "bad\x01name"}}), 400), "invalid_field");
  EXPECT_EQ(refused(call("PATCH", "/v1/me", alice, json::object{{"name", std::string(65, 'x')}}), 400),
            "invalid_field");
  EXPECT_EQ(refused(http_request(port(), "PATCH", "/v1/me", R"({"name":"x"})"), 401), "unauthorized");
  // Nothing changed.
  EXPECT_EQ(str_field(call("GET", "/v1/me", alice).json(), "name"), "Alice");
}

TEST_F(account, a_rename_reaches_the_partners_previews) {
  const auto alice = make_user("alice", "Alice");
  const auto bob = make_user("bob", "Bob");
  sent(alice, text_to("bob", "hello"));
  const auto renamed = call("PATCH", "/v1/me", alice, json::object{{"name", "Alice Liddell"}});
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(str_field(renamed.json(), "name"), "Alice Liddell");

  const auto rows = conversations_of(bob);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(int_field(rows[0], "id"), alice.id);
  EXPECT_EQ(str_field(rows[0], "name"), "Alice Liddell");
  // On the socket too, and in a TEXT sent after the rename.
  auto b = connect_quiet(bob);
  ASSERT_TRUE(b.previews.is_array()) << json::serialize(b.previews);
  EXPECT_EQ(str_field(b.previews.as_array()[0], "name"), "Alice Liddell");
  EXPECT_EQ(str_field(call("GET", "/v1/me", alice).json(), "name"), "Alice Liddell");

  // An empty name is the username, as at registration.
  const auto plain = call("PATCH", "/v1/me", alice, json::object{{"name", ""}});
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(str_field(plain.json(), "name"), "alice");
}

// ---- GET /v1/me/export ----

class account_export : public account_fixture {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"HTTP_SEND_LIMIT", "100000/s"}}; }
};

TEST_F(account_export, holds_the_account_blocks_devices_conversations_and_messages) {
  const auto alice = make_user("alice", "Alice");
  const auto bob = make_user("bob", "Bob");
  make_user("carol");
  make_user("dave");
  // More than one page of messages (200) in one conversation, and a second conversation.
  auto a = connect_quiet(alice);
  constexpr int count = 205;
  for (int i = 0; i < count; ++i) a->send_json(ev_text, text_to("bob", "m" + std::to_string(i), i));
  std::vector<std::int64_t> ids;
  while (ids.size() < count) {
    const auto f = a->recv_type_skipping(ev_delivered, {ev_received}, 10s);
    ids.push_back(int_field(body_of(f), "message_id"));
  }
  sent(bob, text_to("alice", "reply"));
  sent(alice, text_to("dave", "hi dave"));
  ASSERT_EQ(call("POST", "/v1/blocks", alice, json::object{{"username", "carol"}}).status, 201);
  ASSERT_EQ(call("POST", "/v1/devices", alice, json::object{{"platform", "fcm"}, {"token", "tok-1"}}).status, 201);

  const auto r = call("GET", "/v1/me/export", alice);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_EQ(r.header("Content-Disposition"), "attachment; filename=\"chatrix-export-alice.json\"");
  EXPECT_EQ(r.header("Content-Type").rfind("application/json", 0), 0u) << r.header("Content-Type");
  EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");  // streamed, not built whole
  const auto doc = r.json();
  EXPECT_EQ(str_field(doc, "format"), "chatrix-export/1");
  EXPECT_TRUE(is_rfc3339(str_field(doc, "exported_at")));
  const auto& acc = field_of(doc, "account");
  EXPECT_EQ(int_field(acc, "id"), alice.id);
  EXPECT_EQ(str_field(acc, "username"), "alice");
  EXPECT_EQ(str_field(acc, "name"), "Alice");
  EXPECT_TRUE(bool_field(acc, "show_presence"));
  EXPECT_TRUE(field_of(acc, "last_seen").is_null() || field_of(acc, "last_seen").is_int64());

  const auto& blocks = field_of(doc, "blocks").as_array();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(str_field(blocks[0], "username"), "carol");
  EXPECT_TRUE(is_rfc3339(str_field(blocks[0], "blocked_at")));
  const auto& devices = field_of(doc, "devices").as_array();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(str_field(devices[0], "platform"), "fcm");
  EXPECT_EQ(str_field(devices[0], "token"), "tok-1");
  EXPECT_TRUE(is_rfc3339(str_field(devices[0], "created_at")));

  const auto& chats = field_of(doc, "conversations").as_array();
  ASSERT_EQ(chats.size(), 2u) << r.body.substr(0, 300);
  const json::value* with_bob = nullptr;
  const json::value* with_dave = nullptr;
  for (const auto& c : chats) {
    EXPECT_GT(int_field(c, "chat_id"), 0);
    const auto peer = str_field(field_of(c, "peer"), "username");
    (peer == "bob" ? with_bob : with_dave) = &c;
  }
  ASSERT_NE(with_bob, nullptr);
  ASSERT_NE(with_dave, nullptr);
  EXPECT_EQ(int_field(field_of(*with_bob, "peer"), "id"), bob.id);
  EXPECT_EQ(str_field(field_of(*with_bob, "peer"), "name"), "Bob");
  const auto& messages = field_of(*with_bob, "messages").as_array();
  ASSERT_EQ(messages.size(), static_cast<std::size_t>(count + 1));
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(int_field(messages[i], "id"), ids[i]);
    EXPECT_EQ(str_field(messages[i], "content"), "m" + std::to_string(i));
    EXPECT_EQ(int_field(messages[i], "seq"), i + 1);
    EXPECT_EQ(int_field(messages[i], "user_id"), alice.id);
  }
  EXPECT_EQ(str_field(messages[count], "content"), "reply");
  EXPECT_EQ(int_field(messages[count], "user_id"), bob.id);
  ASSERT_EQ(field_of(*with_dave, "messages").as_array().size(), 1u);
  EXPECT_EQ(str_field(field_of(*with_dave, "messages").as_array()[0], "content"), "hi dave");
}

TEST_F(account_export, of_a_new_account_is_empty_but_whole) {
  const auto alice = make_user("alice");
  const auto r = call("GET", "/v1/me/export", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto doc = r.json();
  EXPECT_TRUE(field_of(doc, "blocks").as_array().empty());
  EXPECT_TRUE(field_of(doc, "devices").as_array().empty());
  EXPECT_TRUE(field_of(doc, "conversations").as_array().empty());
  EXPECT_EQ(refused(http_request(port(), "GET", "/v1/me/export"), 401), "unauthorized");
}

class account_export_limit : public account_fixture {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"EXPORT_LIMIT", "1/h"}}; }
};

TEST_F(account_export_limit, a_second_export_within_export_limit_is_429) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  ASSERT_EQ(call("GET", "/v1/me/export", alice).status, 200);
  const auto again = call("GET", "/v1/me/export", alice);
  EXPECT_EQ(refused(again, 429), "rate_limited");
  EXPECT_GT(int_field(again.json(), "retry_after_ms"), 0);
  EXPECT_FALSE(again.header("Retry-After").empty());
  // Per user.
  EXPECT_EQ(call("GET", "/v1/me/export", bob).status, 200);
}

// ---- DELETE /v1/me ----

TEST_F(account, delete_refuses_a_missing_or_wrong_password_and_keeps_the_account) {
  const auto alice = make_user("alice");
  EXPECT_EQ(refused(call("DELETE", "/v1/me", alice), 400), "invalid_field");
  EXPECT_EQ(refused(call("DELETE", "/v1/me", alice, json::object{}), 400), "invalid_field");
  EXPECT_EQ(refused(call("DELETE", "/v1/me", alice, json::object{{"password", ""}}), 400), "invalid_field");
  EXPECT_EQ(refused(call("DELETE", "/v1/me", alice, json::object{{"password", 7}}), 400), "invalid_field");
  EXPECT_EQ(refused(call("DELETE", "/v1/me", alice, json::object{{"password", "wrong password"}}), 401),
            "bad_credentials");
  EXPECT_EQ(refused(http_request(port(), "DELETE", "/v1/me", R"({"password":"password-alice"})"), 401),
            "unauthorized");
  EXPECT_EQ(call("GET", "/v1/me", alice).status, 200);
  login(port(), "alice", alice.password);
}

class account_delete_limits : public account_fixture {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"LOGIN_FAILURE_LIMIT", "2/h"}}; }
};

TEST_F(account_delete_limits, wrong_passwords_count_like_failed_logins) {
  const auto alice = make_user("alice");
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(refused(call("DELETE", "/v1/me", alice, json::object{{"password", "wrong password"}}), 401),
              "bad_credentials");
  EXPECT_EQ(refused(call("DELETE", "/v1/me", alice, json::object{{"password", alice.password}}), 429),
            "rate_limited");
  EXPECT_EQ(call("GET", "/v1/me", alice).status, 200);
}

TEST_F(account, delete_closes_every_socket_revokes_tokens_and_leaves_partners_their_history) {
  const auto alice = make_user("alice", "Alice");
  const auto bob = make_user("bob", "Bob");
  const auto from_alice = int_field(sent(alice, text_to("bob", "secret of alice")), "message_id");
  const auto reply = sent(bob, text_to("alice", "bob's own words"));
  const auto from_bob = int_field(reply, "message_id");
  const auto chat = int_field(reply, "chat_id");
  const auto second_token = login(port(), "alice", alice.password);
  auto phone = connect_quiet(alice);
  auto laptop = connect_quiet(second_token);
  auto b = connect_quiet(bob);

  const auto deleted = call("DELETE", "/v1/me", alice, json::object{{"password", alice.password}});
  ASSERT_EQ(deleted.status, 204) << deleted.body;
  for (auto* s : {&phone, &laptop}) {
    // Bob's reply was pending for both devices, and Bob's device reports Alice's message received.
    const auto err = (*s)->recv_type_skipping(ev_err, {ev_text, ev_received}, 10s);
    EXPECT_EQ(err_code(err), "unauthorized");
    EXPECT_TRUE((*s)->wait_closed(10s));
    EXPECT_EQ((*s)->close_code(), 1008) << (*s)->close_error();
  }
  // Every token is refused, on HTTP and on the socket; the password logs nobody in.
  EXPECT_EQ(refused(call("GET", "/v1/me", alice), 401), "unauthorized");
  EXPECT_EQ(refused(call("GET", "/v1/me", second_token), 401), "unauthorized");
  auto again = connect_raw();
  again->send_text(json::serialize(json::object{{"token", alice.token}}));
  EXPECT_EQ(err_code(again->recv_json(10s)), "unauthorized");
  // A token made after the deletion (no jti, issued after the revocation's cutoff) is
  // refused too: its user is deleted.
  auto claims = standard_claims(alice.id);
  claims["iat"] = to_i64(claims["iat"]) + 20;
  test_user minted = alice;
  minted.token = mint_jwt({{"alg", "HS256"}, {"typ", "JWT"}}, claims, test_jwt_secret, "HS256");
  EXPECT_EQ(refused(call("GET", "/v1/me", minted), 401), "unauthorized");
  auto late = connect_raw();
  late->send_text(json::serialize(json::object{{"token", minted.token}}));
  EXPECT_EQ(err_code(late->recv_json(10s)), "unauthorized");
  const auto credentials = json::object{{"username", "alice"}, {"password", alice.password}};
  const auto no_login = http_request(port(), "POST", "/auth/login", json::serialize(credentials));
  EXPECT_EQ(refused(no_login, 401), "bad_credentials");
  EXPECT_FALSE(b->closed());

  // Bob keeps the conversation: his own words, Alice's as deleted messages of a deleted account.
  const auto rows = messages_of(bob, chat);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(int_field(rows[0], "id"), from_alice);
  EXPECT_TRUE(bool_field(rows[0], "deleted"));
  EXPECT_EQ(str_field(rows[0], "content"), "");
  EXPECT_EQ(int_field(rows[0], "seq"), 1);
  EXPECT_EQ(int_field(rows[1], "id"), from_bob);
  EXPECT_EQ(str_field(rows[1], "content"), "bob's own words");
  EXPECT_FALSE(has_field(rows[1], "deleted")) << json::serialize(rows[1]);
  const auto previews = conversations_of(bob);
  ASSERT_EQ(previews.size(), 1u);
  EXPECT_EQ(int_field(previews[0], "id"), alice.id);
  EXPECT_EQ(str_field(previews[0], "username"), "");
  EXPECT_EQ(str_field(previews[0], "name"), "Deleted account");
  EXPECT_TRUE(bool_field(previews[0], "deleted"));
  // Nobody can write to the account any more; search does not find it.
  const auto to_deleted = call("POST", "/v1/messages", bob, text_to_id(alice.id, "still there?"));
  EXPECT_EQ(refused(to_deleted, 400), "unknown_recipient");
  EXPECT_EQ(refused(call("POST", "/v1/messages", bob, text_to("alice", "still there?")), 400), "unknown_recipient");
}

TEST_F(account, a_deleted_username_stays_taken_during_the_quarantine) {
  const auto alice = make_user("alice");
  ASSERT_EQ(call("DELETE", "/v1/me", alice, json::object{{"password", alice.password}}).status, 204);
  const auto r = http_request(port(), "POST", "/auth/register",
                              json::serialize(json::object{{"username", "ALICE"}, {"password", "another password"}}));
  EXPECT_EQ(refused(r, 409), "username_taken");
}

class account_short_quarantine : public account_fixture {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"USERNAME_QUARANTINE", "1s"}}; }
};

TEST_F(account_short_quarantine, the_username_is_free_again_after_username_quarantine) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  const auto chat = int_field(sent(alice, text_to("bob", "before")), "chat_id");
  ASSERT_EQ(call("DELETE", "/v1/me", alice, json::object{{"password", alice.password}}).status, 204);
  // Registration is refused until the quarantine has passed (1 s), then accepted.
  const auto body = json::serialize(json::object{{"username", "alice"}, {"password", "another password"}});
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  http_response r;
  for (;;) {
    r = http_request(port(), "POST", "/auth/register", body);
    if (r.status != 409 || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(200ms);  // the quarantine is a wall-clock delay
  }
  ASSERT_EQ(r.status, 200) << r.body;
  const auto newcomer = int_field(field_of(r.json(), "user"), "id");
  EXPECT_NE(newcomer, alice.id);
  // Bob's old conversation is still with the deleted account, not with the newcomer.
  const auto previews = conversations_of(bob);
  ASSERT_EQ(previews.size(), 1u);
  EXPECT_EQ(int_field(previews[0], "id"), alice.id);
  EXPECT_TRUE(bool_field(previews[0], "deleted"));
  EXPECT_EQ(messages_of(bob, chat).size(), 1u);
}

}  // namespace
}  // namespace chatrix::test
