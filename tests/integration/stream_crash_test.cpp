// The event stream survives a crash of the single server (docs/reliability.md, "Process
// crash"): positions are committed with the writes they belong to, so after a SIGKILL and a
// restart on the same data a device that was connected when the server died catches up from
// its last position with exactly what it missed, the events made after the restart included,
// and new events go on at the next position (none reused). On SQLite here, and on PostgreSQL
// as pg.stream_crash.*.
#include "support/chat_fixture.hpp"
#include "support/stream_device.hpp"

#include <set>

namespace chatrix::test {
namespace {

using ids = std::vector<std::int64_t>;

class stream_crash : public chat_test {};

TEST_F(stream_crash, device_catches_up_from_its_last_pos_after_kill9_and_restart) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto al = connect_synced(port(), alice, std::nullopt);
  auto a = connect_synced(port(), bob, std::nullopt);  // bob's device A
  auto b = connect_synced(port(), bob, std::nullopt);  // and B
  seen_items alice_seen;
  stream_positions a_had(a.latest);
  stream_positions b_had(b.latest);
  std::vector<stream_item> b_old;

  constexpr int burst = 10;
  for (int i = 0; i < burst; ++i) al.s->send_json(ev_text, text_to("bob", "k" + std::to_string(i), i));
  const auto first = await_sent(*al.s, burst, alice_seen);
  for (const auto& item : next_items(*b.s, burst)) {
    b_old.push_back(item);
    EXPECT_TRUE(b_had.take(item.pos));
  }
  // A second burst, and SIGKILL as soon as alice has DELIVERED for all of it: stored, while
  // B (and A) may have any part of it.
  for (int i = burst; i < 2 * burst; ++i) al.s->send_json(ev_text, text_to("bob", "k" + std::to_string(i), i));
  const auto second = await_sent(*al.s, burst, alice_seen, /*receipts=*/false);
  server().kill_hard();
  ids k(first);
  k.insert(k.end(), second.begin(), second.end());
  while (const auto frame = b.s->recv(10s)) {
    b_old.push_back(item_of(json::parse(*frame)));
    EXPECT_TRUE(b_had.take(b_old.back().pos)) << "pos " << b_old.back().pos << " twice on one connection";
  }
  ASSERT_TRUE(b.s->closed()) << "B's connection outlived the server";
  for (std::size_t i = 0; i < b_old.size(); ++i)
    EXPECT_EQ(b_old[i], (stream_item{ev_text, static_cast<std::int64_t>(i) + 1, {k.at(i)}})) << "B's frame " << i;
  while (const auto frame = a.s->recv(10s)) EXPECT_TRUE(a_had.take(pos_of(json::parse(*frame))));

  server().start();
  // Device A comes back first and catches up to the crash: the 20 messages, nothing else.
  auto a2 = connect_synced(port(), bob, a_had.watermark());
  EXPECT_EQ(positions_of(items_of(a2.backlog)), positions_after(a_had.watermark(), 2 * burst - a_had.watermark()));
  ASSERT_EQ(a2.latest, 2 * burst) << "the positions of the acknowledged messages did not survive the crash";
  auto al2 = connect_synced(port(), alice, std::nullopt);

  // After the restart, while B is away: three more messages, an edit of one B had, a delete
  // of one B may not have had, a read and an answer on A, and alice's receipt of the answer.
  for (int i = 2 * burst; i < 2 * burst + 3; ++i)
    al2.s->send_json(ev_text, text_to("bob", "k" + std::to_string(i), i));
  seen_items alice_seen2;
  const auto more = await_sent(*al2.s, 3, alice_seen2);
  // One after the other, each once alice heard of it (the store orders two changes only when
  // their outcomes depend on each other). Alice may also hear of receipts now and then: the
  // crash may have lost those of the burst, which the catch-ups then give.
  al2.s->send_json(ev_edit, edit_body(k[0], "k0, edited"));
  al2.s->recv_type_skipping(ev_edit, {ev_received}, 10s);
  al2.s->send_json(ev_delete, delete_body({k[2 * burst - 1]}));
  al2.s->recv_type_skipping(ev_delete, {ev_received}, 10s);
  a2.s->send_json(ev_mark_read, mark_read_body("alice", {k[2], k[3]}));
  al2.s->recv_type_skipping(ev_mark_read, {ev_received}, 10s);  // the read is committed
  a2.s->send_json(ev_text, text_to("alice", "r1", "r1"));
  al2.s->recv_type_skipping(ev_text, {ev_received}, 10s);
  const auto a_live = next_items_by_pos(*a2.s, 7);  // 21 .. 25, 27, 28 (26 is A's own read)
  ASSERT_EQ(a_live[5].type, ev_delivered) << describe(a_live);
  const auto r1 = a_live[5].ids.front();

  std::vector<stream_item> stream;
  for (std::size_t i = 0; i < k.size(); ++i) stream.push_back({ev_text, static_cast<std::int64_t>(i) + 1, {k[i]}});
  for (std::size_t i = 0; i < more.size(); ++i)
    stream.push_back({ev_text, static_cast<std::int64_t>(k.size() + i) + 1, {more[i]}});
  stream.push_back({ev_edit, 24, {k[0]}});
  stream.push_back({ev_delete, 25, {k[2 * burst - 1]}});
  stream.push_back({ev_read_state, 26, {k[2], k[3]}});
  stream.push_back({ev_sent, 27, {r1}});
  stream.push_back({ev_received, 28, {r1}});
  std::vector<stream_item> a_expected(stream.begin() + 2 * burst, stream.end());
  a_expected.erase(a_expected.begin() + 5);  // A's own read
  a_expected[5].type = ev_delivered;         // A sent r1
  EXPECT_EQ(a_live, a_expected) << "device A:" << describe(a_live);

  // B comes back with its watermark: every event after it, each once, oldest first.
  const auto since = b_had.watermark();
  ASSERT_GE(since, burst);
  auto b2 = connect_synced(port(), bob, since);
  const auto caught_up = items_of(b2.backlog);
  EXPECT_EQ(caught_up, std::vector<stream_item>(stream.begin() + since, stream.end())) << describe(caught_up);
  EXPECT_EQ(b2.latest, 28);
  const auto b_texts = text_ids_of({b_old, caught_up});
  for (auto id : k) EXPECT_TRUE(b_texts.contains(id)) << "message " << id << " never reached device B";
  for (auto id : more) EXPECT_TRUE(b_texts.contains(id)) << "message " << id << " (sent while B was away) is missing";

  // Live from there, at the next position.
  al2.s->send_json(ev_text, text_to("bob", "after", "after"));
  const auto after = await_sent(*al2.s, 1, alice_seen2).front();
  EXPECT_EQ(next_items(*b2.s, 1), (std::vector<stream_item>{{ev_text, 29, {after}}}));
  b2.s->expect_no_frame(300ms);
}

}  // namespace
}  // namespace chatrix::test
