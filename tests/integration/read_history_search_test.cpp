// Read state, history, previews and search (codes 2, 5, 6-9): shapes, paging, ranking, and
// the access rules the original lacked (MARK_READ and history only for participants).
#include "support/chat_fixture.hpp"

#include <set>

namespace chatrix::test {
namespace {

class read_history_search : public chat_test {
 protected:
  json::value history(const session& s, std::int64_t u1, std::int64_t u2, json::object extra = {}) {
    json::object req{{"user1_id", u1}, {"user2_id", u2}};
    for (auto& kv : extra) req[kv.key()] = kv.value();
    s->send_json(ev_history_request, req);
    return s->recv_type_skipping(ev_history_response, {ev_received}, 10s);
  }
  json::value search(const session& s, const std::string& fragment) {
    s->send_json(ev_search_request, json::object{{"username", fragment}});
    return body_of(s->recv_type(ev_search_response));
  }
  static std::vector<std::string> usernames(const json::value& arr) {
    std::vector<std::string> out;
    for (const auto& row : arr.as_array()) out.push_back(str_field(row, "username"));
    return out;
  }
};

TEST_F(read_history_search, history_rows_have_the_wire_shape) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  auto d1 = send_and_confirm(a, text_to("bob", "first", 1));
  b->recv_type(ev_text);
  auto d2 = send_and_confirm(b, text_to("alice", "second", 2));
  a->recv_type_skipping(ev_text, {ev_received});
  auto hist = body_of(history(a, alice.id, bob.id));
  ASSERT_TRUE(hist.is_array()) << json::serialize(hist);
  ASSERT_EQ(hist.as_array().size(), 2u);
  const auto& r0 = hist.as_array()[0];
  const auto& r1 = hist.as_array()[1];
  EXPECT_EQ(int_field(r0, "id"), int_field(d1, "message_id"));  // oldest first
  EXPECT_EQ(int_field(r1, "id"), int_field(d2, "message_id"));
  EXPECT_EQ(str_field(r0, "content"), "first");
  EXPECT_EQ(int_field(r0, "user_id"), alice.id);  // user_id is the sender
  EXPECT_EQ(int_field(r1, "user_id"), bob.id);
  EXPECT_GT(int_field(r0, "chat_id"), 0);
  EXPECT_EQ(int_field(r0, "chat_id"), int_field(r1, "chat_id"));
  EXPECT_TRUE(is_rfc3339(str_field(r0, "created_at"))) << str_field(r0, "created_at");
  EXPECT_FALSE(bool_field(r0, "read"));
  EXPECT_EQ(int_field(r0, "seq"), 1);
  EXPECT_EQ(int_field(r1, "seq"), 2);
  EXPECT_EQ(int_field(r0, "to_id"), bob.id);
  EXPECT_EQ(int_field(r1, "to_id"), alice.id);
  // The argument order does not matter, and the other participant may ask too (compared by
  // id: the "delivered" extension may change in between, as receipts are asynchronous).
  auto ids = [](const json::value& rows) {
    std::vector<std::int64_t> out;
    if (rows.is_array()) {
      for (const auto& r : rows.as_array()) out.push_back(int_field(r, "id"));
    }
    return out;
  };
  EXPECT_EQ(ids(body_of(history(a, bob.id, alice.id))), ids(hist));
  EXPECT_EQ(ids(body_of(history(b, alice.id, bob.id))), ids(hist));
}

TEST_F(read_history_search, empty_history_is_null) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  auto hist = body_of(history(a, alice.id, bob.id));
  EXPECT_TRUE(hist.is_null()) << json::serialize(hist);
}

TEST_F(read_history_search, history_pages_with_before_id_and_limit) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(int_field(send_and_confirm(a, text_to("bob", "h" + std::to_string(i), i)), "message_id"));
  auto ids_of = [](const json::value& page) {
    std::vector<std::int64_t> out;
    if (page.is_array())
      for (const auto& r : page.as_array()) out.push_back(int_field(r, "id"));
    return out;
  };
  // The most recent `limit`, oldest first; then backwards with before_id.
  auto p1 = ids_of(body_of(history(a, alice.id, bob.id, {{"limit", 3}})));
  EXPECT_EQ(p1, (std::vector<std::int64_t>{ids[4], ids[5], ids[6]}));
  auto p2 = ids_of(body_of(history(a, alice.id, bob.id, {{"limit", 3}, {"before_id", ids[4]}})));
  EXPECT_EQ(p2, (std::vector<std::int64_t>{ids[1], ids[2], ids[3]}));
  auto p3 = ids_of(body_of(history(a, alice.id, bob.id, {{"limit", 3}, {"before_id", ids[1]}})));
  EXPECT_EQ(p3, (std::vector<std::int64_t>{ids[0]}));
  auto p4 = body_of(history(a, alice.id, bob.id, {{"limit", 3}, {"before_id", ids[0]}}));
  EXPECT_TRUE(p4.is_null() || (p4.is_array() && p4.as_array().empty())) << json::serialize(p4);
  auto all = ids_of(body_of(history(a, alice.id, bob.id)));
  EXPECT_EQ(all, ids);
}

TEST_F(read_history_search, history_default_page_is_50_and_limit_is_capped) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  for (int i = 0; i < 60; ++i) a->send_json(ev_text, text_to("bob", "n" + std::to_string(i), i));
  for (int i = 0; i < 60; ++i) a->recv_type(ev_delivered, 10s);
  auto page = body_of(history(a, alice.id, bob.id));
  ASSERT_TRUE(page.is_array());
  EXPECT_EQ(page.as_array().size(), 50u);
  EXPECT_EQ(str_field(page.as_array().back(), "content"), "n59");
  auto big = body_of(history(a, alice.id, bob.id, {{"limit", 1000}}));
  // Over the maximum (200) is clamped to it, so all 60 rows come back.
  ASSERT_TRUE(big.is_array()) << json::serialize(big);
  EXPECT_EQ(big.as_array().size(), 60u);
}

TEST_F(read_history_search, third_user_cannot_load_others_history) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto carol = make_user("carol");
  session a = connect_authed(alice);
  send_and_confirm(a, text_to("bob", "private", 1));
  session c = connect_authed(carol);
  c->send_json(ev_history_request, json::object{{"user1_id", alice.id}, {"user2_id", bob.id}});
  auto frame = c->recv_json();
  EXPECT_EQ(err_code(frame), "forbidden") << json::serialize(frame);
  EXPECT_EQ(json::serialize(frame).find("private"), std::string::npos);
  // The connection stays usable.
  c->send_json(ev_search_request, json::object{{"username", "ali"}});
  c->recv_type(ev_search_response);
}

TEST_F(read_history_search, third_user_cannot_mark_read) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto carol = make_user("carol");
  session a = connect_authed(alice);
  auto id = int_field(send_and_confirm(a, text_to("bob", "for bob only", 1)), "message_id");
  session c = connect_authed(carol);
  c->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{id}}});
  EXPECT_EQ(err_code(c->recv_json()), "forbidden");
  a->expect_no_frame(500ms, {ev_received});  // no code 2 for Alice
  auto hist = body_of(history(a, alice.id, bob.id));
  ASSERT_TRUE(hist.is_array());
  EXPECT_FALSE(bool_field(hist.as_array()[0], "read"));
}

TEST_F(read_history_search, sender_cannot_mark_own_message_read_and_mixed_frames_change_nothing) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto carol = make_user("carol");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  auto to_bob = int_field(send_and_confirm(a, text_to("bob", "to bob", 1)), "message_id");
  auto to_carol = int_field(send_and_confirm(a, text_to("carol", "to carol", 2)), "message_id");
  b->recv_type(ev_text);
  // The sender marking her own message.
  a->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{to_bob}}});
  EXPECT_EQ(err_code(a->recv_type_skipping(ev_err, {ev_received})), "forbidden");
  // Bob: one of his, one of Carol's: the whole frame is refused.
  b->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{to_bob, to_carol}}});
  EXPECT_EQ(err_code(b->recv_json()), "forbidden");
  // A message id that does not exist is not "a message to this user" either.
  b->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{to_bob, 99999999}}});
  EXPECT_EQ(err_code(b->recv_json()), "forbidden");
  a->expect_no_frame(500ms, {ev_received});
  auto hist = body_of(history(a, alice.id, bob.id));
  ASSERT_TRUE(hist.is_array());
  EXPECT_FALSE(bool_field(hist.as_array()[0], "read")) << "a refused MARK_READ changed the read state";
  // Now correctly.
  b->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{to_bob}}});
  EXPECT_EQ(body_of(a->recv_type_skipping(ev_mark_read, {ev_received})), (json::array{to_bob}));
}

TEST_F(read_history_search, previews_list_the_peer_most_recent_first) {
  auto alice = make_user("alice", "Alice A");
  auto bob = make_user("bob", "Bob B");
  auto carol = make_user("carol", "Carol C");
  {
    session a = connect_authed(alice);
    send_and_confirm(a, text_to("bob", "hi bob", 1));
    send_and_confirm(a, text_to("carol", "hi carol", 2));
    a->close();
  }
  session a = connect_authed(alice);
  ASSERT_TRUE(a.previews.is_array()) << json::serialize(a.previews);
  ASSERT_EQ(a.previews.as_array().size(), 2u);
  const auto& first = a.previews.as_array()[0];
  const auto& second = a.previews.as_array()[1];
  EXPECT_EQ(int_field(first, "id"), carol.id) << "most recent conversation first";
  EXPECT_EQ(str_field(first, "username"), "carol");
  EXPECT_EQ(str_field(first, "name"), "Carol C");
  EXPECT_EQ(int_field(second, "id"), bob.id);
  ASSERT_TRUE(has_field(first, "last_message")) << json::serialize(first);
  EXPECT_EQ(str_field(field_of(first, "last_message"), "content"), "hi carol");
  EXPECT_EQ(int_field(field_of(first, "last_message"), "from_id"), alice.id);
  EXPECT_EQ(int_field(first, "unread"), 0);  // Alice sent it

  // Bob's view: Alice, with one unread message (delivered on connect, not read).
  session b = connect_authed(bob);
  ASSERT_TRUE(b.previews.is_array()) << json::serialize(b.previews);
  ASSERT_EQ(b.previews.as_array().size(), 1u);
  const auto& row = b.previews.as_array()[0];
  EXPECT_EQ(int_field(row, "id"), alice.id);
  EXPECT_EQ(str_field(row, "username"), "alice");
  EXPECT_EQ(str_field(row, "name"), "Alice A");
  ASSERT_TRUE(has_field(row, "unread")) << json::serialize(row);
  EXPECT_EQ(int_field(row, "unread"), 1);
  ASSERT_TRUE(has_field(row, "last_message")) << json::serialize(row);
  EXPECT_EQ(str_field(field_of(row, "last_message"), "content"), "hi bob");
  auto id = int_field(body_of(b->recv_type(ev_text)), "msg_id");
  b->send_json(ev_mark_read, json::object{{"message_ids", json::array{id}}});
  // A history round trip after the MARK_READ: the read state is stored before the reconnect.
  auto hist = body_of(history(b, alice.id, bob.id));
  ASSERT_TRUE(hist.is_array());
  EXPECT_TRUE(bool_field(hist.as_array()[0], "read"));
  b->close();
  session b2 = connect_authed(bob);
  ASSERT_TRUE(b2.previews.is_array());
  EXPECT_EQ(int_field(b2.previews.as_array()[0], "unread"), 0);
}

TEST_F(read_history_search, search_is_case_insensitive_substring_with_exact_match_first) {
  auto me = make_user("searcher_me");
  make_user("research");
  make_user("Search");
  make_user("SEARCHING_x");
  make_user("unrelated");
  session s = connect_authed(me);
  auto res = search(s, "SeArCh");
  ASSERT_TRUE(res.is_array()) << json::serialize(res);
  auto names = usernames(res);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "Search") << "the exact match ranks first: " << json::serialize(res);
  std::set<std::string> got(names.begin(), names.end());
  EXPECT_TRUE(got.count("research") && got.count("SEARCHING_x")) << json::serialize(res);
  EXPECT_FALSE(got.count("unrelated"));
  for (const auto& row : res.as_array()) {
    EXPECT_GT(int_field(row, "id"), 0);
    EXPECT_TRUE(has_field(row, "name"));
  }
  auto none = search(s, "zzqqxx");
  ASSERT_TRUE(none.is_array()) << "no match must be an empty array, not null: " << json::serialize(none);
  EXPECT_TRUE(none.as_array().empty());
}

TEST_F(read_history_search, search_matches_short_fragments_and_display_names_ranked) {
  auto me = make_user("searcher", "Searcher");
  make_user("alice", "Alice Smith");
  make_user("bob", "Robert");
  make_user("lisa", "Lisa Li");
  make_user("zed", "Li");
  session s = connect_authed(me);
  // Exact display name (zed), username prefix (lisa), then any other substring: "li"
  // inside "alice" (two letters, no prefix of anything).
  EXPECT_EQ(usernames(search(s, "LI")), (std::vector<std::string>{"zed", "lisa", "alice"}));
  // Two letters of a display name only.
  EXPECT_EQ(usernames(search(s, "Ro")), std::vector<std::string>{"bob"});
  // One letter: the display-name prefix first ("Robert"), then the other matches by the
  // text from the match on (searcher's final "r").
  EXPECT_EQ(usernames(search(s, "r")), (std::vector<std::string>{"bob", "searcher"}));
  // Across a space in a display name.
  EXPECT_EQ(usernames(search(s, "e s")), std::vector<std::string>{"alice"});
  // Rows keep the wire shape.
  auto rows = search(s, "robert");
  ASSERT_EQ(rows.as_array().size(), 1u);
  EXPECT_EQ(str_field(rows.as_array()[0], "name"), "Robert");
  EXPECT_GT(int_field(rows.as_array()[0], "id"), 0);
}

TEST_F(read_history_search, search_limit) {
  auto me = make_user("lim_me");
  for (int i = 0; i < 25; ++i) make_user("many_" + std::to_string(i));
  session s = connect_authed(me);
  auto def = search(s, "many_");
  ASSERT_TRUE(def.is_array());
  EXPECT_EQ(def.as_array().size(), 20u) << "default limit is 20";
  s->send_json(ev_search_request, json::object{{"username", "many_"}, {"limit", 5}});
  EXPECT_EQ(body_of(s->recv_type(ev_search_response)).as_array().size(), 5u);
  s->send_json(ev_search_request, json::object{{"username", "many_"}, {"limit", 50}});
  EXPECT_EQ(body_of(s->recv_type(ev_search_response)).as_array().size(), 25u);
}

TEST_F(read_history_search, empty_search_fragment_finds_nobody_and_long_one_is_invalid) {
  auto me = make_user("frag_me");
  session s = connect_authed(me);
  s->send_json(ev_search_request, json::object{{"username", ""}});
  auto empty = s->recv_json();
  ASSERT_EQ(int_field(empty, "type"), 7) << json::serialize(empty);
  EXPECT_TRUE(body_of(empty).as_array().empty());
  s->send_json(ev_search_request, json::object{{"username", std::string(65, 'a')}});
  EXPECT_EQ(err_code(s->recv_json()), "invalid_field");
}

}  // namespace
}  // namespace chatrix::test
