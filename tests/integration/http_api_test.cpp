// The HTTP API for app servers and bots (docs/openapi.yaml) on the real server: GET /v1/me,
// GET /v1/conversations, GET /v1/conversations/{chat_id}/messages and POST /v1/messages, each
// route's answers and refusals, and a send over HTTP reaching devices like a socket's.
#include "support/chat_fixture.hpp"

namespace chatrix::test {
namespace {

class api_v1 : public chat_test {
 protected:
  http_response get(const std::string& target, const test_user& as) {
    return http_request(port(), "GET", target, "", {{"Authorization", "Bearer " + as.token}});
  }
  http_response post_message(const test_user& as, const json::object& body) {
    return http_request(port(), "POST", "/v1/messages", json::serialize(body),
                        {{"Authorization", "Bearer " + as.token}});
  }
  /// Sends over HTTP and returns the answer's body, failing unless it is 201.
  json::value sent(const test_user& as, const json::object& body) {
    const auto r = post_message(as, body);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }
  static std::vector<std::int64_t> ids_of(const json::value& rows, std::string_view key = "id") {
    std::vector<std::int64_t> out;
    for (const auto& row : rows.as_array()) out.push_back(int_field(row, key));
    return out;
  }
  /// The error code of a JSON error answer with `status`.
  static std::string refused(const http_response& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return str_field(r.json(), "code");
  }
};

// ---- GET /v1/me ----

TEST_F(api_v1, me_answers_the_tokens_user) {
  const auto alice = make_user("alice", "Alice A.");
  const auto r = get("/v1/me", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto me = r.json();
  EXPECT_EQ(int_field(me, "id"), alice.id);
  EXPECT_EQ(str_field(me, "username"), "alice");
  EXPECT_EQ(str_field(me, "name"), "Alice A.");
}

TEST_F(api_v1, every_route_refuses_a_missing_or_bad_token_with_401) {
  const auto alice = make_user("alice");
  const std::vector<std::pair<std::string, std::string>> routes{
      {"GET", "/v1/me"},
      {"GET", "/v1/conversations"},
      {"GET", "/v1/conversations/1/messages"},
      {"POST", "/v1/messages"},
  };
  for (const auto& [method, target] : routes) {
    const auto none = http_request(port(), method, target, method == "POST" ? R"({"to":"bob","content":"x"})" : "");
    EXPECT_EQ(refused(none, 401), "unauthorized") << method << ' ' << target;
    EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer realm=\"chatrix\"") << method << ' ' << target;
    const auto bad = http_request(port(), method, target, "", {{"Authorization", "Bearer not-a-token"}});
    EXPECT_EQ(refused(bad, 401), "unauthorized") << method << ' ' << target;
  }
  // A revoked token too.
  ASSERT_EQ(http_request(port(), "POST", "/auth/logout", "", {{"Authorization", "Bearer " + alice.token}}).status, 200);
  EXPECT_EQ(refused(get("/v1/me", alice), 401), "unauthorized");
}

// ---- POST /v1/messages ----

TEST_F(api_v1, a_send_reaches_the_recipient_as_text_and_every_device_of_the_sender_as_sent) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto phone = connect_authed(alice);
  auto laptop = connect_authed(alice);
  auto b = connect_authed(bob);
  const auto answer = sent(alice, text_to("bob", "over http", "m-1"));
  const auto id = int_field(answer, "message_id");
  EXPECT_GT(id, 0);
  EXPECT_GT(int_field(answer, "chat_id"), 0);
  EXPECT_EQ(int_field(answer, "seq"), 1);
  EXPECT_FALSE(bool_field(answer, "duplicate"));

  const auto text = body_of(b->recv_type_skipping(ev_text, {ev_synced}, 10s));
  EXPECT_EQ(int_field(text, "msg_id"), id);
  EXPECT_EQ(str_field(text, "content"), "over http");
  EXPECT_EQ(int_field(text, "from_id"), alice.id);
  for (auto* device : {&phone, &laptop}) {
    const auto copy = body_of((*device)->recv_type_skipping(ev_sent, {ev_synced, ev_received}, 10s));
    EXPECT_EQ(int_field(copy, "msg_id"), id);
    EXPECT_EQ(str_field(copy, "content"), "over http");
  }
}

TEST_F(api_v1, a_retry_with_the_same_mark_is_the_same_message_answered_200) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  const auto first = sent(alice, text_to_id(bob.id, "once", 17));
  const auto again = post_message(alice, text_to_id(bob.id, "once", 17));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(bool_field(again.json(), "duplicate"));
  EXPECT_EQ(int_field(again.json(), "message_id"), int_field(first, "message_id"));
  EXPECT_EQ(int_field(again.json(), "seq"), int_field(first, "seq"));
  // Bob gets it once.
  auto b = connect_authed(bob);
  const auto text = body_of(b->recv_type(ev_text, 10s));
  EXPECT_EQ(int_field(text, "msg_id"), int_field(first, "message_id"));
  b->expect_no_frame(500ms, {ev_synced});
}

TEST_F(api_v1, a_send_is_refused_with_the_sockets_codes) {
  const auto alice = make_user("alice");
  make_user("bob");
  auto send_raw = [&](const std::string& body) {
    return http_request(port(), "POST", "/v1/messages", body, {{"Authorization", "Bearer " + alice.token}});
  };
  EXPECT_EQ(refused(send_raw("not json"), 400), "invalid_field");
  EXPECT_EQ(refused(send_raw("[1,2]"), 400), "invalid_field");
  // Only the body: what would close the object early and add fields to the frame is not JSON.
  EXPECT_EQ(refused(send_raw(R"({"to":"bob","content":"x"},"body":{})"), 400), "invalid_field");
  EXPECT_EQ(refused(send_raw(R"({"to":"bob","content":""})"), 400), "content_empty");
  EXPECT_EQ(refused(send_raw(R"({"content":"x"})"), 400), "invalid_field");
  EXPECT_EQ(refused(send_raw(R"({"to":"nobody-here","content":"x"})"), 400), "unknown_recipient");
  EXPECT_EQ(refused(send_raw(R"({"to":"alice","content":"x"})"), 400), "self_message");
  EXPECT_EQ(refused(send_raw(R"({"to":"bob","content":")" + std::string(9000, 'x') + "\"}"), 400),
            "content_too_long");
}

class api_v1_send_limit : public api_v1 {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"HTTP_SEND_LIMIT", "2/m"}}; }
};

TEST_F(api_v1_send_limit, sends_past_http_send_limit_get_429_with_retry_after) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  sent(alice, text_to("bob", "one"));
  sent(alice, text_to("bob", "two"));
  const auto third = post_message(alice, text_to("bob", "three"));
  EXPECT_EQ(refused(third, 429), "rate_limited");
  EXPECT_GT(int_field(third.json(), "retry_after_ms"), 0);
  EXPECT_FALSE(third.header("Retry-After").empty());
  // Per user: Bob still sends.
  sent(bob, text_to("alice", "mine"));
}

// ---- GET /v1/conversations/{chat_id}/messages ----

TEST_F(api_v1, messages_page_oldest_first_before_and_after_an_id) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  std::vector<std::int64_t> ids;
  std::int64_t chat = 0;
  for (int i = 1; i <= 5; ++i) {
    const auto a = sent(i % 2 ? alice : bob, text_to(i % 2 ? "bob" : "alice", "m" + std::to_string(i)));
    ids.push_back(int_field(a, "message_id"));
    chat = int_field(a, "chat_id");
  }
  const auto base = "/v1/conversations/" + std::to_string(chat) + "/messages";
  const auto all = get(base, bob);
  ASSERT_EQ(all.status, 200) << all.body;
  const auto rows = field_of(all.json(), "messages");
  EXPECT_EQ(ids_of(rows), ids);
  EXPECT_EQ(str_field(rows.as_array()[0], "content"), "m1");
  EXPECT_EQ(int_field(rows.as_array()[0], "user_id"), alice.id);
  EXPECT_TRUE(is_rfc3339(str_field(rows.as_array()[0], "created_at")));

  // The newest page, then the one before it; and forward from an id.
  const auto newest = get(base + "?limit=2", alice);
  ASSERT_EQ(newest.status, 200) << newest.body;
  EXPECT_EQ(ids_of(field_of(newest.json(), "messages")), (std::vector<std::int64_t>{ids[3], ids[4]}));
  const auto older = get(base + "?limit=2&before_id=" + std::to_string(ids[3]), alice);
  EXPECT_EQ(ids_of(field_of(older.json(), "messages")), (std::vector<std::int64_t>{ids[1], ids[2]}));
  const auto after = get(base + "?limit=2&after_id=" + std::to_string(ids[0]), alice);
  EXPECT_EQ(ids_of(field_of(after.json(), "messages")), (std::vector<std::int64_t>{ids[1], ids[2]}));
  const auto none = get(base + "?after_id=" + std::to_string(ids[4]), alice);
  EXPECT_TRUE(field_of(none.json(), "messages").as_array().empty()) << none.body;
}

TEST_F(api_v1, messages_are_not_found_for_anybody_else_and_bad_parameters_are_refused) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  const auto carol = make_user("carol");
  const auto chat = int_field(sent(alice, text_to("bob", "private")), "chat_id");
  const auto base = "/v1/conversations/" + std::to_string(chat) + "/messages";
  EXPECT_EQ(refused(get(base, carol), 404), "not_found");
  EXPECT_EQ(refused(get("/v1/conversations/999999/messages", alice), 404), "not_found");
  EXPECT_EQ(refused(get("/v1/conversations/abc/messages", alice), 404), "not_found");
  EXPECT_EQ(refused(get(base + "?limit=0", alice), 400), "invalid_field");
  EXPECT_EQ(refused(get(base + "?limit=201", alice), 400), "invalid_field");
  EXPECT_EQ(refused(get(base + "?before_id=x", alice), 400), "invalid_field");
  EXPECT_EQ(refused(get(base + "?before_id=5&after_id=1", alice), 400), "invalid_field");
  EXPECT_EQ(get(base + "?limit=200", bob).status, 200);
}

// ---- GET /v1/conversations ----

TEST_F(api_v1, conversations_are_the_previews_paged_with_a_cursor) {
  const auto alice = make_user("alice");
  make_user("bob");
  const auto carol = make_user("carol");
  const auto to_bob = sent(alice, text_to("bob", "to bob"));
  const auto to_carol = sent(carol, text_to("alice", "from carol"));

  const auto first = get("/v1/conversations?limit=1", alice);
  ASSERT_EQ(first.status, 200) << first.body;
  const auto page1 = first.json();
  ASSERT_EQ(field_of(page1, "conversations").as_array().size(), 1u) << first.body;
  const auto& newest = field_of(page1, "conversations").as_array()[0];
  // The most recent first, in the CHATPREVIEWS row shape.
  EXPECT_EQ(int_field(newest, "chat_id"), int_field(to_carol, "chat_id")) << first.body;
  EXPECT_EQ(int_field(newest, "unread"), 1);
  ASSERT_TRUE(field_of(page1, "next").is_string()) << first.body;
  EXPECT_EQ(str_field(page1, "next"), str_field(newest, "cursor"));  // the last row's

  const auto second = get("/v1/conversations?limit=1&before=" + str_field(page1, "next"), alice);
  ASSERT_EQ(second.status, 200) << second.body;
  const auto rows = field_of(second.json(), "conversations").as_array();
  ASSERT_EQ(rows.size(), 1u) << second.body;
  EXPECT_EQ(int_field(rows[0], "chat_id"), int_field(to_bob, "chat_id"));

  const auto both = get("/v1/conversations", alice);
  EXPECT_EQ(field_of(both.json(), "conversations").as_array().size(), 2u) << both.body;
  EXPECT_TRUE(field_of(both.json(), "next").is_null()) << both.body;

  const auto empty = get("/v1/conversations", make_user("dave"));
  EXPECT_TRUE(field_of(empty.json(), "conversations").as_array().empty()) << empty.body;
  EXPECT_TRUE(field_of(empty.json(), "next").is_null());

  EXPECT_EQ(refused(get("/v1/conversations?before=garbage", alice), 400), "invalid_field");
  EXPECT_EQ(refused(get("/v1/conversations?limit=500", alice), 400), "invalid_field");
}

}  // namespace
}  // namespace chatrix::test
