// PRESENCE (18) and the previews' online / last_seen: online once a user's first device is
// in sync, offline only PRESENCE_GRACE (1 s here) after the last one left and not when it
// came back within it, hidden by show_presence, never between a blocked pair, last seen kept
// across a restart (docs/protocol.md, "Presence and last seen").
#include "people_fixture.hpp"

#include <ctime>

namespace chatrix::test {
namespace {

using namespace std::chrono_literals;

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

class presence : public people_test {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"PRESENCE_GRACE", "1s"}}; }

  /// The row of `peer` in a CHATPREVIEWS body or a GET /v1/conversations array.
  static json::object row_of(const json::value& rows, std::int64_t peer) {
    for (const auto& r : rows.as_array())
      if (int_field(r, "id") == peer) return r.as_object();
    throw std::runtime_error("no row for user " + std::to_string(peer) + " in " + json::serialize(rows));
  }

  json::value http_rows(const test_user& who) {
    const auto r = http_request(port(), "GET", "/v1/conversations", "", {{"Authorization", "Bearer " + who.token}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().at("conversations");
  }

  /// PATCH /v1/me {"show_presence"}; false when this server has no such route yet.
  bool show_presence(const test_user& who, bool show) {
    const auto r = http_request(port(), "PATCH", "/v1/me", json::serialize(json::object{{"show_presence", show}}),
                                {{"Authorization", "Bearer " + who.token}});
    if (r.status == 404 || r.status == 405) return false;
    EXPECT_EQ(r.status, 200) << r.body;
    return true;
  }
};

TEST_F(presence, offline_after_the_grace_and_online_again_when_the_first_device_attaches) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  converse(a, bob);

  const auto left = unix_now();
  b->close();
  // Not before the grace (1 s) has passed...
  expect_none_of(a, ev_presence, 700ms);
  // ...then once, with when he left.
  const auto offline = body_of(next_of(a, ev_presence, 3s));
  EXPECT_EQ(int_field(offline, "user_id"), bob.id);
  EXPECT_EQ(str_field(offline, "username"), "bob");
  EXPECT_FALSE(bool_field(offline, "online"));
  EXPECT_GE(int_field(offline, "last_seen"), left - 1);
  EXPECT_LE(int_field(offline, "last_seen"), unix_now());

  auto b2 = connect_watching(bob);
  const auto online = body_of(next_of(a, ev_presence));
  EXPECT_EQ(int_field(online, "user_id"), bob.id);
  EXPECT_TRUE(bool_field(online, "online"));
  EXPECT_GE(int_field(online, "last_seen"), left);
  // Bob learns nothing of his own presence, and Ann hears of him once.
  expect_none_of(a, ev_presence, 300ms);
}

TEST_F(presence, a_reconnect_within_the_grace_and_a_second_device_announce_nothing) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  converse(a, bob);
  b->close();
  auto b2 = connect_watching(bob);
  auto b3 = connect_watching(bob);
  expect_none_of(a, ev_presence, 1800ms);
  // The watcher side works: his last device leaving is heard.
  b2->close();
  b3->close();
  EXPECT_FALSE(bool_field(body_of(next_of(a, ev_presence, 3s)), "online"));
}

TEST_F(presence, previews_carry_online_and_last_seen_on_the_socket_and_over_http) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto cy = make_user("cy1");
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  converse(a, bob);
  converse(a, cy);  // cy never connected: offline, never seen

  auto a2 = connect_watching(ann);
  auto bob_row = row_of(a2.previews, bob.id);
  EXPECT_TRUE(bool_field(bob_row, "online"));
  EXPECT_GE(int_field(bob_row, "last_seen"), unix_now() - 2);
  auto cy_row = row_of(a2.previews, cy.id);
  EXPECT_FALSE(bool_field(cy_row, "online"));
  EXPECT_TRUE(field_of(cy_row, "last_seen").is_null());
  EXPECT_TRUE(bool_field(row_of(http_rows(ann), bob.id), "online"));

  b->close();
  const auto seen = int_field(body_of(next_of(a, ev_presence, 3s)), "last_seen");
  auto a3 = connect_watching(ann);
  bob_row = row_of(a3.previews, bob.id);
  EXPECT_FALSE(bool_field(bob_row, "online"));
  EXPECT_EQ(int_field(bob_row, "last_seen"), seen);
  const auto over_http = row_of(http_rows(ann), bob.id);
  EXPECT_FALSE(bool_field(over_http, "online"));
  EXPECT_EQ(int_field(over_http, "last_seen"), seen);
  // On request too.
  a3->send_json(ev_chat_previews, json::object{});
  EXPECT_EQ(int_field(row_of(body_of(next_of(a3, ev_chat_previews)), bob.id), "last_seen"), seen);
}

TEST_F(presence, a_conversation_started_meanwhile_is_watched) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  // Neither had the other in their previews; the first message makes them partners.
  converse(b, ann);
  b->close();
  EXPECT_FALSE(bool_field(body_of(next_of(a, ev_presence, 3s)), "online"));
}

TEST_F(presence, hidden_presence_shows_offline_without_last_seen_and_hides_others_last_seen) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  converse(a, bob);
  if (!show_presence(bob, false)) GTEST_SKIP() << "PATCH /v1/me is not on this server yet";
  // Ann sees him offline with no last seen at once.
  const auto hidden = body_of(next_of(a, ev_presence));
  EXPECT_EQ(int_field(hidden, "user_id"), bob.id);
  EXPECT_FALSE(bool_field(hidden, "online"));
  EXPECT_TRUE(field_of(hidden, "last_seen").is_null());
  // Bob still sees Ann online, but no last seen of anyone.
  auto b2 = connect_watching(bob);
  const auto ann_row = row_of(b2.previews, ann.id);
  EXPECT_TRUE(bool_field(ann_row, "online"));
  EXPECT_TRUE(field_of(ann_row, "last_seen").is_null());
  a->close();
  const auto ann_left = body_of(next_of(b2, ev_presence, 3s));
  EXPECT_FALSE(bool_field(ann_left, "online"));
  EXPECT_TRUE(field_of(ann_left, "last_seen").is_null());
  auto a2 = connect_watching(ann);
  const auto bob_row = row_of(a2.previews, bob.id);
  EXPECT_FALSE(bool_field(bob_row, "online"));
  EXPECT_TRUE(field_of(bob_row, "last_seen").is_null());
  // Shown again: Ann hears he is online.
  ASSERT_TRUE(show_presence(bob, true));
  EXPECT_TRUE(bool_field(body_of(next_of(a2, ev_presence)), "online"));
}

TEST_F(presence, a_blocked_pair_sees_each_other_offline_without_last_seen) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto a = connect_watching(ann);
  auto b = connect_watching(bob);
  converse(a, bob);
  if (!block(ann, "bob")) GTEST_SKIP() << "POST /v1/blocks is not on this server yet";
  for (const auto& [s, other] : {std::pair{&a, bob.id}, std::pair{&b, ann.id}}) {
    const auto p = body_of(next_of(*s, ev_presence));
    EXPECT_EQ(int_field(p, "user_id"), other);
    EXPECT_FALSE(bool_field(p, "online"));
    EXPECT_TRUE(field_of(p, "last_seen").is_null());
  }
  // Nothing of each other afterwards.
  b->close();
  expect_none_of(a, ev_presence, 1800ms);
  auto a2 = connect_watching(ann);
  EXPECT_TRUE(field_of(row_of(a2.previews, bob.id), "last_seen").is_null());
}

TEST_F(presence, last_seen_is_kept_across_a_restart) {
  auto ann = make_user("ann");
  auto bob = make_user("bob");
  auto cy = make_user("cy1");
  std::int64_t bob_seen = 0;
  {
    auto a = connect_watching(ann);
    auto b = connect_watching(bob);
    auto c = connect_watching(cy);
    converse(a, bob);
    converse(c, ann);
    b->close();
    bob_seen = int_field(body_of(next_of(a, ev_presence, 3s)), "last_seen");
    // Ann and Cy are still connected when the server stops: their last seen is written then.
  }
  const auto stopped = unix_now();
  server_->stop();
  server_->start();
  auto a = connect_watching(ann);
  const auto bob_row = row_of(a.previews, bob.id);
  EXPECT_FALSE(bool_field(bob_row, "online"));
  EXPECT_EQ(int_field(bob_row, "last_seen"), bob_seen);
  const auto cy_row = row_of(a.previews, cy.id);
  EXPECT_FALSE(bool_field(cy_row, "online"));
  EXPECT_GE(int_field(cy_row, "last_seen"), bob_seen);
  EXPECT_LE(int_field(cy_row, "last_seen"), stopped + 1);
}

}  // namespace
}  // namespace chatrix::test
