// The pure parts of typing and presence: the typing tracker's expiry and bounds, the board
// of who is online where, this node's grace before announcing offline, and what one user may
// see of another.
#include "chat/presence_board.hpp"
#include "chat/presence_here.hpp"
#include "chat/presence_watchers.hpp"
#include "chat/typing_tracker.hpp"

#include <gtest/gtest.h>

using namespace chatrix;
using namespace chatrix::chat;
using namespace std::chrono_literals;

namespace {

const limits::steady_time t0{std::chrono::hours(1)};

TEST(typing_tracker, a_true_runs_out_six_seconds_after_its_last_refresh) {
  typing_tracker t;
  const user ann{1, "ann", "Ann"};
  t.typing(10, ann, 2, 5, t0);
  t.typing(10, ann, 2, 5, t0 + 3s);  // refreshed
  EXPECT_TRUE(t.expired(t0 + 6s).empty());
  EXPECT_EQ(t.next_expiry(), t0 + 9s);
  const auto ended = t.expired(t0 + 9s);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].from.id, 1);
  EXPECT_EQ(ended[0].to, 2);
  EXPECT_EQ(ended[0].chat, 5);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.next_expiry());
}

TEST(typing_tracker, a_stop_or_the_device_leaving_ends_it) {
  typing_tracker t;
  const user ann{1, "ann", "Ann"};
  t.typing(10, ann, 2, std::nullopt, t0);
  t.typing(10, ann, 3, std::nullopt, t0);
  t.typing(11, ann, 2, std::nullopt, t0);
  EXPECT_TRUE(t.stopped(10, 2));
  EXPECT_FALSE(t.stopped(10, 2));
  const auto gone = t.device_gone(10);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].to, 3);
  EXPECT_EQ(t.size(), 1u);  // the other device's
}

TEST(typing_tracker, one_device_types_to_a_bounded_number_of_people) {
  typing_tracker t;
  const user ann{1, "ann", "Ann"};
  for (user_id to = 100; to < 100 + static_cast<user_id>(typing_tracker::max_per_device); ++to)
    EXPECT_FALSE(t.typing(10, ann, to, std::nullopt, t0));
  const auto pushed_out = t.typing(10, ann, 999, std::nullopt, t0 + 1s);
  ASSERT_TRUE(pushed_out);
  EXPECT_EQ(pushed_out->to, 100);
  EXPECT_EQ(t.size(), typing_tracker::max_per_device);
}

TEST(presence_board, online_while_any_node_holds_the_user) {
  presence_board b;
  EXPECT_FALSE(b.state(7));
  EXPECT_TRUE(b.apply("n1", {7, true, 1000}));
  EXPECT_FALSE(b.apply("n2", {7, true, 2000}));  // already online
  EXPECT_FALSE(b.apply("n1", {7, false, 3000}));  // n2 still holds them
  EXPECT_TRUE(b.state(7)->online);
  const auto off = b.apply("n2", {7, false, 4000});
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->online);
  EXPECT_EQ(off->at, 4000);
  EXPECT_EQ(b.state(7)->at, 4000);
  EXPECT_FALSE(b.apply("n2", {7, false, 5000}));  // a repeat changes nothing
}

TEST(presence_board, a_node_that_leaves_takes_its_users_offline) {
  presence_board b;
  b.apply("n1", {7, true, 1000});
  b.apply("n1", {8, true, 1000});
  b.apply("n2", {8, true, 1000});
  const auto offline = b.node_gone("n1", 9000);
  ASSERT_EQ(offline.size(), 1u);
  EXPECT_EQ(offline[0], 7);
  EXPECT_EQ(b.state(7)->at, 9000);
  EXPECT_TRUE(b.state(8)->online);
  EXPECT_TRUE(b.node_gone("n1", 9500).empty());
}

TEST(presence_board, users_seen_going_offline_are_bounded) {
  presence_board b(2);
  for (user_id id = 1; id <= 5; ++id) {
    b.apply("n1", {id, true, 1});
    b.apply("n1", {id, false, 2});
  }
  int remembered = 0;
  for (user_id id = 1; id <= 5; ++id) remembered += b.state(id) ? 1 : 0;
  EXPECT_LE(remembered, 2);
  EXPECT_TRUE(b.state(5));  // the latest is kept
}

TEST(presence_here, offline_only_after_the_grace_and_not_when_back_within_it) {
  presence_here h(1000ms);
  EXPECT_TRUE(h.arrived(7, 100));
  EXPECT_FALSE(h.arrived(7, 200));  // a second device
  h.departed(7, 300, t0);
  EXPECT_TRUE(h.due(t0 + 999ms).empty());
  EXPECT_FALSE(h.arrived(7, 400));  // back within the grace: nothing to announce
  EXPECT_TRUE(h.due(t0 + 2s).empty());
  h.departed(7, 500, t0 + 3s);
  const auto due = h.due(t0 + 4s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].user, 7);
  EXPECT_FALSE(due[0].online);
  EXPECT_EQ(due[0].at, 500);
  EXPECT_TRUE(h.arrived(7, 600));  // after it: online again
  EXPECT_EQ(h.online().size(), 1u);
  const auto all = h.take_all(700);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].at, 700);
  EXPECT_TRUE(h.online().empty());
}

TEST(presence_rules, blocks_hidden_presence_and_deleted_accounts_show_nothing) {
  user viewer{1, "ann", "Ann"};
  user subject{2, "bob", "Bob"};
  subject.last_seen = 5000;
  const presence_state online{true, 1000};
  const presence_state offline{false, 7000};

  auto v = presence_seen(viewer, subject, false, online, 9000);
  EXPECT_TRUE(v.online);
  EXPECT_EQ(v.last_seen, 9000);
  v = presence_seen(viewer, subject, false, offline, 9000);
  EXPECT_FALSE(v.online);
  EXPECT_EQ(v.last_seen, 7000);  // the board's is newer than the stored one
  v = presence_seen(viewer, subject, false, std::nullopt, 9000);
  EXPECT_EQ(v.last_seen, 5000);

  EXPECT_FALSE(presence_seen(viewer, subject, true, online, 9000).online);
  EXPECT_FALSE(presence_seen(viewer, subject, true, online, 9000).last_seen);
  subject.show_presence = false;
  EXPECT_FALSE(presence_seen(viewer, subject, false, online, 9000).online);
  EXPECT_FALSE(presence_seen(viewer, subject, false, offline, 9000).last_seen);
  subject.show_presence = true;
  subject.deleted = true;
  EXPECT_FALSE(presence_seen(viewer, subject, false, online, 9000).online);
  subject.deleted = false;

  viewer.show_presence = false;  // sees others online, nobody's last seen
  v = presence_seen(viewer, subject, false, online, 9000);
  EXPECT_TRUE(v.online);
  EXPECT_FALSE(v.last_seen);
  EXPECT_FALSE(presence_seen(viewer, subject, false, offline, 9000).last_seen);
}

TEST(presence_rules, online_is_the_same_whenever_it_was_seen) {
  EXPECT_TRUE(sees_the_same({true, 1000}, {true, 2000}));
  EXPECT_FALSE(sees_the_same({true, 1000}, {true, std::nullopt}));
  EXPECT_FALSE(sees_the_same({true, 1000}, {false, 1000}));
  EXPECT_FALSE(sees_the_same({false, 1000}, {false, 2000}));
  EXPECT_TRUE(sees_the_same({false, std::nullopt}, {false, std::nullopt}));
}

TEST(presence_watchers, a_watcher_is_bounded_and_dropped_with_its_last_device) {
  presence_watchers w(2);
  const user b{2, "bob", "Bob"}, c{3, "cy", "Cy"}, d{4, "dan", "Dan"};
  EXPECT_TRUE(w.watch(1, b, {}));
  EXPECT_TRUE(w.watch(1, c, {}));
  EXPECT_FALSE(w.watch(1, d, {}));
  EXPECT_TRUE(w.watch(1, b, {true, 5}));  // already watched: updated
  EXPECT_TRUE(w.watch(9, b, {}));
  ASSERT_NE(w.watchers_of(2), nullptr);
  EXPECT_EQ(w.watchers_of(2)->size(), 2u);
  EXPECT_TRUE(w.watchers_of(2)->at(1).online);
  w.drop_watcher(1);
  EXPECT_EQ(w.watchers_of(2)->size(), 1u);
  EXPECT_EQ(w.watchers_of(3), nullptr);
  EXPECT_EQ(w.subject(3), nullptr);
  EXPECT_FALSE(w.watches(1, 2));
}

}  // namespace
