// Device sync (docs/protocol.md, "Sync"): `since` in the first frame, the catch-up from the
// user's stream, SYNCED, "pos" on every stream-event frame, READ_STATE across a user's
// devices, CHATPREVIEWS on request with its cursor, and nothing sent twice to a device.
#include "support/chat_fixture.hpp"

#include <optional>
#include <set>

namespace chatrix::test {
namespace {

/// What a device got between CHATPREVIEWS and SYNCED, and SYNCED's position.
struct caught_up {
  std::vector<json::value> frames;
  std::int64_t latest = -1;
};

class sync : public chat_test {
 protected:
  /// Authenticates with `since` (left out when not given) and consumes PROFILE_INFO and
  /// CHATPREVIEWS; SYNCED is not ignored here.
  session connect_since(const test_user& u, std::optional<json::value> since) {
    session s;
    s.ws = connect_raw();
    s.ws->set_label("ws of " + u.username);
    json::object hello{{"token", u.token}};
    if (since) hello["since"] = *since;
    s.ws->send_text(json::serialize(hello));
    s.profile = body_of(s.ws->recv_type(ev_profile_info, 10s));
    s.previews = body_of(s.ws->recv_type(ev_chat_previews, 10s));
    return s;
  }

  static caught_up until_synced(const session& s) {
    caught_up out;
    for (;;) {
      auto f = s->recv_json(10s);
      if (int_field(f, "type") == ev_synced) {
        EXPECT_FALSE(has_field(f, "pos")) << "SYNCED's position is in its body";
        out.latest = int_field(body_of(f), "pos");
        return out;
      }
      out.frames.push_back(std::move(f));
    }
  }

  static std::vector<std::int64_t> text_ids(const std::vector<json::value>& frames, int type = ev_text) {
    std::vector<std::int64_t> out;
    for (const auto& f : frames)
      if (int_field(f, "type") == type) out.push_back(int_field(body_of(f), "msg_id"));
    return out;
  }

  /// Every frame with a "pos": the positions, which must grow strictly.
  static std::vector<std::int64_t> positions(const std::vector<json::value>& frames) {
    std::vector<std::int64_t> out;
    for (const auto& f : frames) {
      if (!has_field(f, "pos")) continue;
      const auto pos = int_field(f, "pos");
      if (!out.empty()) {
        EXPECT_GT(pos, out.back()) << json::serialize(f);
      }
      out.push_back(pos);
    }
    return out;
  }
};

TEST_F(sync, a_device_without_since_gets_pending_then_synced) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session b0 = connect_since(bob, std::nullopt);
  EXPECT_EQ(until_synced(b0).latest, 0) << "SYNCED comes even for an empty stream";
  b0->close();
  session a = connect_authed(alice);
  const auto id = int_field(send_and_confirm(a, text_to("bob", "while you were away", 1)), "message_id");
  session b = connect_since(bob, std::nullopt);
  auto got = until_synced(b);
  ASSERT_EQ(got.frames.size(), 1u);
  const auto& text = got.frames[0];
  EXPECT_EQ(int_field(text, "type"), ev_text);
  EXPECT_EQ(int_field(body_of(text), "msg_id"), id);
  EXPECT_FALSE(has_field(text, "pos")) << "a pending message is read as before, not from the stream";
  EXPECT_GE(got.latest, 1) << "SYNCED covers it";
}

TEST_F(sync, a_second_device_with_since_gets_what_the_first_already_had) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session b1 = connect_since(bob, std::nullopt);
  const auto start = until_synced(b1).latest;
  session a = connect_authed(alice);
  std::vector<std::int64_t> sent;
  std::vector<json::value> live;
  for (int i = 0; i < 3; ++i) {
    sent.push_back(int_field(send_and_confirm(a, text_to("bob", "m" + std::to_string(i), i)), "message_id"));
    live.push_back(b1->recv_type(ev_text));
  }
  EXPECT_EQ(text_ids(live), sent);
  const auto live_pos = positions(live);
  ASSERT_EQ(live_pos.size(), 3u) << "every live TEXT carries its pos";
  EXPECT_GT(live_pos.front(), start);

  // Bob answers from his first device: the second learns of it as SENT.
  const auto reply = int_field(send_and_confirm(b1, text_to("alice", "answer", 9)), "message_id");
  a->recv_type_skipping(ev_text, {ev_received});
  const auto receipt = b1->recv_type(ev_received);  // Alice's device has the answer

  // The first device had them all, so nothing is pending; the second still gets them.
  session b2 = connect_since(bob, json::value(start));
  auto got = until_synced(b2);
  EXPECT_EQ(text_ids(got.frames), sent);
  EXPECT_EQ(text_ids(got.frames, ev_sent), std::vector<std::int64_t>{reply});
  ASSERT_EQ(got.frames.size(), 5u);
  const auto& caught_receipt = got.frames.back();
  EXPECT_EQ(int_field(caught_receipt, "type"), ev_received);
  EXPECT_EQ(int_field(caught_receipt, "pos"), int_field(receipt, "pos"));
  EXPECT_EQ(field_of(body_of(caught_receipt), "message_ids"), (json::array{reply}));
  EXPECT_EQ(int_field(body_of(caught_receipt), "to_id"), alice.id);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(str_field(body_of(got.frames[i]), "content"), "m" + std::to_string(i));
    EXPECT_EQ(int_field(got.frames[i], "pos"), live_pos[i]) << "the same event has the same pos on every device";
  }
  const auto pos = positions(got.frames);
  ASSERT_EQ(pos.size(), got.frames.size()) << "every catch-up frame carries its pos";
  EXPECT_EQ(got.latest, pos.back());
  b2->expect_no_frame(300ms);

  // Caught up: since = latest brings SYNCED alone; the position is the same as a string.
  b2->close();
  session b3 = connect_since(bob, json::value(got.latest));
  auto again = until_synced(b3);
  EXPECT_TRUE(again.frames.empty()) << json::serialize(again.frames.front());
  EXPECT_EQ(again.latest, got.latest);
  session b4 = connect_since(bob, json::value(std::to_string(got.latest)));
  EXPECT_TRUE(until_synced(b4).frames.empty());
}

TEST_F(sync, a_device_away_learns_of_edits_and_deletes_in_its_catch_up) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session b0 = connect_since(bob, std::nullopt);
  const auto start = until_synced(b0).latest;
  b0->close();
  session a = connect_authed(alice);
  const auto kept = int_field(send_and_confirm(a, text_to("bob", "first", 1)), "message_id");
  const auto gone = int_field(send_and_confirm(a, text_to("bob", "second", 2)), "message_id");
  a->send_json(ev_edit, json::object{{"message_id", kept}, {"content", "first, edited"}});
  a->recv_type(ev_edit);
  a->send_json(ev_delete, json::object{{"message_ids", json::array{gone}}});
  a->recv_type(ev_delete);

  session b = connect_since(bob, json::value(start));
  auto got = until_synced(b);
  ASSERT_EQ(got.frames.size(), 4u);
  // The messages as they are now, then the changes, each at its position.
  const auto& first = body_of(got.frames[0]);
  EXPECT_EQ(int_field(first, "msg_id"), kept);
  EXPECT_EQ(str_field(first, "content"), "first, edited");
  EXPECT_TRUE(is_rfc3339(str_field(first, "edited_at")));
  const auto& second = body_of(got.frames[1]);
  EXPECT_EQ(int_field(second, "msg_id"), gone);
  EXPECT_EQ(str_field(second, "content"), "");
  EXPECT_TRUE(bool_field(second, "deleted"));
  EXPECT_EQ(int_field(got.frames[2], "type"), ev_edit);
  EXPECT_EQ(int_field(body_of(got.frames[2]), "message_id"), kept);
  EXPECT_EQ(str_field(body_of(got.frames[2]), "content"), "first, edited");
  EXPECT_EQ(int_field(got.frames[3], "type"), ev_delete);
  EXPECT_EQ(field_of(body_of(got.frames[3]), "message_ids"), (json::array{gone}));
  EXPECT_TRUE(is_rfc3339(str_field(body_of(got.frames[3]), "deleted_at")));
  const auto pos = positions(got.frames);
  ASSERT_EQ(pos.size(), 4u);
  EXPECT_EQ(got.latest, pos.back());
}

TEST_F(sync, an_expired_since_gets_sync_expired_then_pending_then_synced) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  const auto id = int_field(send_and_confirm(a, text_to("bob", "pending", 1)), "message_id");
  // A position the server never issued (above the latest), and text that is no position.
  for (const json::value& since : {json::value(1000000), json::value("not a position")}) {
    session b = connect_since(bob, since);
    auto err = b->recv_json();
    EXPECT_EQ(err_code(err), "sync_expired") << json::serialize(err);
    auto got = until_synced(b);
    ASSERT_EQ(got.frames.size(), 1u);
    EXPECT_EQ(int_field(body_of(got.frames[0]), "msg_id"), id);
    EXPECT_GE(got.latest, 1);
    b->send_json(ev_ack, json::object{{"message_ids", json::array{id}}});
    b->close();
  }
}

TEST_F(sync, a_read_on_one_device_reaches_the_others_and_unread_counts_agree) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session b1 = connect_since(bob, std::nullopt);
  session b2 = connect_since(bob, std::nullopt);
  until_synced(b1);
  until_synced(b2);
  session a = connect_authed(alice);
  std::vector<std::int64_t> sent;
  for (int i = 0; i < 2; ++i) sent.push_back(int_field(send_and_confirm(a, text_to("bob", "r" + std::to_string(i), i)), "message_id"));
  std::int64_t chat = 0;
  for (const auto* s : {&b1, &b2})
    for (int i = 0; i < 2; ++i) chat = int_field(body_of((*s)->recv_type(ev_text)), "chat_id");

  b1->send_json(ev_mark_read, json::object{{"message_ids", json::array{sent[0], sent[1]}}});
  auto state = b2->recv_type(ev_read_state);
  EXPECT_GT(int_field(state, "pos"), 0);
  EXPECT_EQ(int_field(body_of(state), "chat_id"), chat);
  EXPECT_EQ(field_of(body_of(state), "message_ids"), (json::array{sent[0], sent[1]}));
  b1->expect_no_frame(300ms);  // the reading device is not told what it did
  auto read = a->recv_type_skipping(ev_mark_read, {ev_received});
  EXPECT_GT(int_field(read, "pos"), 0);
  EXPECT_EQ(body_of(read), (json::array{sent[0], sent[1]}));

  // A device connecting later: no unread in previews, and the read state in its catch-up.
  session b3 = connect_since(bob, json::value(0));
  ASSERT_TRUE(b3.previews.is_array());
  EXPECT_EQ(int_field(b3.previews.as_array()[0], "unread"), 0);
  auto got = until_synced(b3);
  ASSERT_FALSE(got.frames.empty());
  const auto& last = got.frames.back();
  EXPECT_EQ(int_field(last, "type"), ev_read_state);
  EXPECT_EQ(int_field(last, "pos"), int_field(state, "pos"));
  EXPECT_EQ(got.latest, int_field(state, "pos"));
}

TEST_F(sync, previews_on_request_page_with_the_cursor) {
  auto alice = make_user("alice");
  session a = connect_authed(alice);
  for (int i = 0; i < 5; ++i) {
    make_user("peer" + std::to_string(i));
    send_and_confirm(a, text_to("peer" + std::to_string(i), "hi", i));
  }
  a->send_json(ev_chat_previews, json::object{});
  auto all = body_of(a->recv_type(ev_chat_previews));
  ASSERT_TRUE(all.is_array());
  ASSERT_EQ(all.as_array().size(), 5u);
  EXPECT_EQ(str_field(all.as_array()[0], "username"), "peer4") << "most recent first";

  std::vector<std::string> paged;
  json::object req{{"limit", 2}};
  for (int page = 0; page < 3; ++page) {
    a->send_json(ev_chat_previews, req);
    auto rows = body_of(a->recv_type(ev_chat_previews));
    ASSERT_TRUE(rows.is_array()) << "page " << page;
    EXPECT_EQ(rows.as_array().size(), page < 2 ? 2u : 1u);
    for (const auto& r : rows.as_array()) paged.push_back(str_field(r, "username"));
    req["before"] = str_field(rows.as_array().back(), "cursor");
  }
  a->send_json(ev_chat_previews, req);
  EXPECT_TRUE(body_of(a->recv_type(ev_chat_previews)).is_null()) << "past the last page: null, as at connect";
  std::vector<std::string> expected;
  for (const auto& r : all.as_array()) expected.push_back(str_field(r, "username"));
  EXPECT_EQ(paged, expected);

  a->send_json(ev_chat_previews, json::object{{"before", "garbage"}});
  auto err = a->recv_json();
  EXPECT_EQ(err_code(err), "invalid_field");
  EXPECT_EQ(int_field(body_of(err), "ref_type"), ev_chat_previews);
}

TEST_F(sync, nothing_twice_when_live_events_race_the_catch_up) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session b0 = connect_since(bob, std::nullopt);
  const auto start = until_synced(b0).latest;
  b0->close();
  session a = connect_authed(alice);
  // More than one page of catch-up (500 events a page), then more while it goes out.
  constexpr int before = 600;
  constexpr int during = 200;
  for (int i = 0; i < before; ++i) a->send_json(ev_text, text_to("bob", "b" + std::to_string(i), i));
  for (int i = 0; i < before; ++i) a->recv_type(ev_delivered, 10s);
  session b = connect_since(bob, json::value(start));
  for (int i = 0; i < during; ++i) a->send_json(ev_text, text_to("bob", "d" + std::to_string(i), before + i));
  auto got = until_synced(b);
  auto catch_up_pos = positions(got.frames);
  std::vector<json::value> after;
  const std::size_t owed = before + during - got.frames.size();
  for (std::size_t i = 0; i < owed; ++i) after.push_back(b->recv_type(ev_text, 10s));
  b->expect_no_frame(500ms);
  auto live_pos = positions(after);
  for (auto pos : live_pos) EXPECT_GT(pos, got.latest) << "after SYNCED only newer events";
  ASSERT_GE(catch_up_pos.size(), static_cast<std::size_t>(before));
  EXPECT_EQ(catch_up_pos.back(), got.latest);
  auto ids = text_ids(got.frames);
  for (auto id : text_ids(after)) ids.push_back(id);
  EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()).size(), static_cast<std::size_t>(before + during))
      << "every message once";
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(before + during));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end())) << "oldest first, live after the catch-up";
}

}  // namespace
}  // namespace chatrix::test
