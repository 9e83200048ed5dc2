// The storage contract, stream part (store.hpp, "the per-user event stream", edits and
// deletes, replies, attachments, files, paging): what device sync relies on, on every
// backend. Compiled into each backend's binary next to store_contract.cpp. The factories'
// stores keep the default SYNC_RETENTION of 30 days.

#include "store_contract.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace chatrix::storage::testing {
namespace {

constexpr unix_ms day_ms = 24LL * 3600 * 1000;
constexpr unix_ms retention_ms = 30 * day_ms;

/// What an entry says, comparable in one expectation: (owner, pos, kind, conversation, ids).
using entry_view = std::tuple<user_id, stream_pos, stream_kind, conversation_id, std::vector<message_id>>;

entry_view view(const stream_entry& e) { return {e.owner, e.pos, e.kind, e.conversation, e.ids}; }

std::vector<entry_view> views(const std::vector<stream_entry>& entries) {
  std::vector<entry_view> out;
  for (const auto& e : entries) out.push_back(view(e));
  return out;
}

std::vector<stream_pos> positions(const stream_page& page) {
  std::vector<stream_pos> out;
  for (const auto& e : page.events) out.push_back(e.entry.pos);
  return out;
}

}  // namespace

/// Shorthands of the stream tests.
class stream_calls {
 public:
  explicit stream_calls(store& s) : s_(s) {}

  stream_page events(user_id viewer, stream_pos since, int limit = 100) {
    return await<stream_page>([&](auto done) { s_.stream_events(viewer, since, limit, done); }).value();
  }
  delivered_result deliver(user_id recipient, std::vector<message_id> ids, unix_ms at) {
    return await<delivered_result>([&](auto done) { s_.mark_delivered(recipient, ids, at, done); }).value();
  }
  read_result read(user_id reader, std::vector<message_id> ids, unix_ms at) {
    return await<read_result>([&](auto done) { s_.mark_read(reader, ids, at, done); }).value();
  }

 private:
  store& s_;
};

// ---- positions ----

TEST_P(store_contract, stream_append_adds_a_message_event_to_the_sender_and_the_recipient) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const send_result first = send(ann.id, bob.id, "one");
  const conversation_id chat = first.stored.conversation;
  EXPECT_EQ(views(first.stream), (std::vector<entry_view>{{ann.id, 1, stream_kind::message, chat, {first.stored.id}},
                                                          {bob.id, 1, stream_kind::message, chat, {first.stored.id}}}));
  for (const auto& e : first.stream) EXPECT_EQ(e.at, first.stored.created_at);
  const send_result second = send(bob.id, ann.id, "two");
  EXPECT_EQ(views(second.stream), (std::vector<entry_view>{{bob.id, 2, stream_kind::message, chat, {second.stored.id}},
                                                           {ann.id, 2, stream_kind::message, chat, {second.stored.id}}}));

  stream_calls s(db());
  const stream_page page = s.events(ann.id, 0);
  EXPECT_FALSE(page.expired);
  EXPECT_EQ(page.latest, 2);
  ASSERT_EQ(positions(page), (std::vector<stream_pos>{1, 2}));
  ASSERT_EQ(page.events[0].messages.size(), 1u);
  EXPECT_EQ(page.events[0].messages[0].content, "one");
  EXPECT_EQ(page.events[0].messages[0].sender, ann.id);
  ASSERT_EQ(page.events[1].messages.size(), 1u);
  EXPECT_EQ(page.events[1].messages[0].content, "two");
  EXPECT_EQ(page.events[1].entry.owner, ann.id);
}

TEST_P(store_contract, stream_a_retry_adds_no_event_and_a_conversation_with_oneself_one) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const unix_ms now = next_time();
  const send_result original = send(ann.id, bob.id, "hi", "7", now, 60'000);
  const send_result retry = send(ann.id, bob.id, "hi", "7", now + 5, 60'000);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_TRUE(retry.stream.empty());
  stream_calls s(db());
  EXPECT_EQ(s.events(bob.id, 0).latest, 1);

  const send_result note = send(ann.id, ann.id, "note to self");
  EXPECT_EQ(views(note.stream),
            (std::vector<entry_view>{{ann.id, 2, stream_kind::message, note.stored.conversation, {note.stored.id}}}));
  EXPECT_EQ(original.stream.size(), 2u);
}

TEST_P(store_contract, stream_positions_are_gap_free_per_user_under_concurrent_writes) {
  const user ann = add_user("ann"), bob = add_user("bob"), cat = add_user("cat");
  completion_log<send_result> log;
  constexpr int n = 60;
  for (int i = 0; i < n; ++i) {
    const user_id to = i % 2 ? bob.id : cat.id;
    db().append_message(send_request{ann.id, to, std::string("m").append(std::to_string(i)), std::nullopt, next_time(), 0}, log.make(i));
  }
  ASSERT_TRUE(log.wait_for(n));
  std::map<user_id, std::vector<stream_pos>> seen;
  for (const auto& e : log.entries()) {
    ASSERT_TRUE(e.outcome.has_value());
    for (const auto& entry : e.outcome->stream) seen[entry.owner].push_back(entry.pos);
  }
  for (auto& [owner, list] : seen) std::sort(list.begin(), list.end());
  const auto one_to = [](int count) {
    std::vector<stream_pos> out;
    for (int i = 1; i <= count; ++i) out.push_back(i);
    return out;
  };
  EXPECT_EQ(seen[ann.id], one_to(n));
  EXPECT_EQ(seen[bob.id], one_to(n / 2));
  EXPECT_EQ(seen[cat.id], one_to(n / 2));
  stream_calls s(db());
  const stream_page page = s.events(ann.id, 0, 1000);
  EXPECT_EQ(positions(page), one_to(n));
  // The stream is in commit order: ann's messages in the order they were stored.
  for (std::size_t i = 1; i < page.events.size(); ++i)
    EXPECT_LT(page.events[i - 1].entry.ids.front(), page.events[i].entry.ids.front());
}

// ---- receipts and reads ----

TEST_P(store_contract, stream_mark_delivered_adds_one_received_event_per_sender_and_conversation) {
  const user ann = add_user("ann"), bob = add_user("bob"), cat = add_user("cat");
  const send_result a1 = send(ann.id, bob.id, "a1"), a2 = send(ann.id, bob.id, "a2"), c1 = send(cat.id, bob.id, "c1");
  stream_calls s(db());
  const unix_ms at = next_time();
  const delivered_result r = s.deliver(bob.id, {a1.stored.id, c1.stored.id, a2.stored.id}, at);
  EXPECT_EQ(r.delivered.size(), 3u);
  EXPECT_EQ(views(r.stream),
            (std::vector<entry_view>{{ann.id, 3, stream_kind::received, a1.stored.conversation, {a1.stored.id, a2.stored.id}},
                                     {cat.id, 2, stream_kind::received, c1.stored.conversation, {c1.stored.id}}}));
  for (const auto& e : r.stream) EXPECT_EQ(e.at, at);
  const delivered_result again = s.deliver(bob.id, {a1.stored.id}, next_time());
  EXPECT_TRUE(again.delivered.empty());
  EXPECT_TRUE(again.stream.empty()) << "nothing new, no event";
  EXPECT_EQ(s.events(bob.id, 0).latest, 3) << "the recipient's stream has its messages only";
  const stream_page ann_page = s.events(ann.id, 2);
  ASSERT_EQ(ann_page.events.size(), 1u);
  EXPECT_EQ(ann_page.events[0].entry.kind, stream_kind::received);
  EXPECT_EQ(ann_page.events[0].entry.ids, (std::vector<message_id>{a1.stored.id, a2.stored.id}));
}

TEST_P(store_contract, stream_mark_read_adds_received_and_read_for_the_sender_and_read_self_for_the_reader) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const send_result a1 = send(ann.id, bob.id, "a1"), a2 = send(ann.id, bob.id, "a2");
  const conversation_id chat = a1.stored.conversation;
  stream_calls s(db());
  s.deliver(bob.id, {a1.stored.id}, next_time());  // ann: 3
  const read_result r = s.read(bob.id, {a1.stored.id, a2.stored.id}, next_time());
  EXPECT_EQ(views(r.stream), (std::vector<entry_view>{{ann.id, 4, stream_kind::received, chat, {a2.stored.id}},
                                                      {ann.id, 5, stream_kind::read, chat, {a1.stored.id, a2.stored.id}},
                                                      {bob.id, 3, stream_kind::read_self, chat, {a1.stored.id, a2.stored.id}}}));
  const read_result again = s.read(bob.id, {a1.stored.id}, next_time());
  EXPECT_TRUE(again.stream.empty());
  const stream_page page = s.events(bob.id, 2);
  ASSERT_EQ(page.events.size(), 1u);
  EXPECT_EQ(page.events[0].entry.kind, stream_kind::read_self);
  EXPECT_TRUE(page.events[0].messages.empty()) << "only message and edited events carry messages";

  // A refused read adds nothing.
  const auto forbidden = await<read_result>([&](auto done) { db().mark_read(ann.id, {a1.stored.id}, next_time(), done); });
  ASSERT_FALSE(forbidden.has_value());
  EXPECT_EQ(forbidden.error().code, errc::forbidden);
  EXPECT_EQ(s.events(ann.id, 0).latest, 5);
}

// ---- reading the stream ----

TEST_P(store_contract, stream_events_page_after_since_and_report_latest) {
  const user ann = add_user("ann"), bob = add_user("bob");
  for (int i = 0; i < 5; ++i) send(ann.id, bob.id, std::string("m").append(std::to_string(i)));
  stream_calls s(db());
  EXPECT_EQ(positions(s.events(bob.id, 0, 2)), (std::vector<stream_pos>{1, 2}));
  const stream_page middle = s.events(bob.id, 2, 2);
  EXPECT_EQ(positions(middle), (std::vector<stream_pos>{3, 4}));
  EXPECT_EQ(middle.latest, 5);
  const stream_page end = s.events(bob.id, 5);
  EXPECT_FALSE(end.expired);
  EXPECT_TRUE(end.events.empty()) << "since == latest: up to date";

  const stream_page beyond = s.events(bob.id, 6);
  EXPECT_TRUE(beyond.expired) << "a position never issued";
  EXPECT_TRUE(beyond.events.empty());
  EXPECT_EQ(beyond.latest, 5);

  const user cat = add_user("cat");
  const stream_page empty = s.events(cat.id, 0);
  EXPECT_FALSE(empty.expired);
  EXPECT_EQ(empty.latest, 0);
  EXPECT_TRUE(s.events(cat.id, 1).expired);
}

TEST_P(store_contract, stream_session_start_and_resume_read_one_snapshot) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const send_result m1 = send(ann.id, bob.id, "one");
  send(ann.id, bob.id, "two");
  send(ann.id, bob.id, "three");

  const auto start = await<session_snapshot>([&](auto done) { db().session_start(bob.id, 10, 10, done); }).value();
  EXPECT_EQ(start.latest, 3);
  EXPECT_EQ(start.pending.size(), 3u);

  const auto resumed =
      await<session_snapshot>([&](auto done) { db().session_resume(bob.id, 10, 1, 1, 10, done); }).value();
  ASSERT_EQ(resumed.previews.size(), 1u);
  EXPECT_EQ(resumed.previews[0].conversation, m1.stored.conversation);
  EXPECT_TRUE(resumed.pending.empty()) << "with a valid since, the stream instead of pending";
  ASSERT_TRUE(resumed.stream.has_value());
  EXPECT_FALSE(resumed.stream->expired);
  EXPECT_EQ(positions(*resumed.stream), std::vector<stream_pos>{2}) << "events_limit applies";
  EXPECT_EQ(resumed.latest, 3);
  EXPECT_EQ(resumed.stream->latest, 3);

  const auto expired =
      await<session_snapshot>([&](auto done) { db().session_resume(bob.id, 10, 99, 10, 2, done); }).value();
  ASSERT_TRUE(expired.stream.has_value());
  EXPECT_TRUE(expired.stream->expired);
  EXPECT_TRUE(expired.stream->events.empty());
  EXPECT_EQ(expired.pending.size(), 2u) << "an expired since gets the pending messages instead";
  EXPECT_EQ(expired.latest, 3);
}

// ---- retention ----

TEST_P(store_contract, stream_retention_forgets_old_events_and_expires_since_before_them) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const unix_ms t0 = next_time();
  send(ann.id, bob.id, "old 1", std::nullopt, t0);
  send(ann.id, bob.id, "old 2", std::nullopt, t0 + 1);
  stream_calls s(db());
  EXPECT_FALSE(s.events(bob.id, 0).expired) << "nothing is pruned yet";

  // A write more than the retention later forgets the old events (a few per write: two here).
  const send_result fresh = send(ann.id, bob.id, "new", std::nullopt, t0 + retention_ms + 10);
  EXPECT_EQ(fresh.stream[1].pos, 3) << "positions keep counting";
  EXPECT_TRUE(s.events(bob.id, 0).expired);
  EXPECT_TRUE(s.events(bob.id, 1).expired);
  const stream_page after = s.events(bob.id, 2);
  EXPECT_FALSE(after.expired) << "since at the last forgotten position misses nothing";
  EXPECT_EQ(positions(after), std::vector<stream_pos>{3});
  EXPECT_TRUE(s.events(ann.id, 1).expired) << "every user's old events go";

  // Messages are not events: history keeps them.
  EXPECT_EQ(history_of(ann.id, bob.id).size(), 3u);
}

TEST_P(store_contract, stream_retention_keeps_events_younger_than_it) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const unix_ms t0 = next_time();
  send(ann.id, bob.id, "recent", std::nullopt, t0);
  send(ann.id, bob.id, "later", std::nullopt, t0 + retention_ms - day_ms);
  stream_calls s(db());
  EXPECT_EQ(positions(s.events(bob.id, 0)), (std::vector<stream_pos>{1, 2}));
}

}  // namespace chatrix::storage::testing
