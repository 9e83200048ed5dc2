// One user's event stream across nodes (docs/protocol.md, "Sync"; docs/cluster.md, "Sync across
// nodes"): devices of one user on two nodes see every event at the same position (the Redis
// bus carries each event's pos), a device that comes back to another node with "since" gets
// what it missed, a device whose node is killed with SIGKILL catches up on another node from
// its last position (each missed event once, none lost), and a send over HTTP on one node
// reaches the devices on the others.
#include "e2e/cluster_fixture.hpp"
#include "support/stream_device.hpp"

#include <algorithm>
#include <set>

namespace chatrix::test {
namespace {

using ids = std::vector<std::int64_t>;

TEST_F(cluster_e2e, devices_on_two_nodes_see_every_event_at_the_same_pos) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  // Every write below happens on node c (alice) or node a (bob's device A); device B on
  // node b sees all of it only through the bus.
  auto al = connect_synced(node(2).port, alice, std::nullopt);
  auto a = connect_synced(node(0).port, bob, std::nullopt);
  auto b = connect_synced(node(1).port, bob, std::nullopt);
  ASSERT_EQ(a.latest, 0) << "a new user's stream is empty";
  ASSERT_EQ(b.latest, 0);
  EXPECT_TRUE(a.backlog.empty() && b.backlog.empty());
  seen_items alice_seen;

  for (int i = 1; i <= 3; ++i) al.s->send_json(ev_text, text_to("bob", "m" + std::to_string(i), i));
  const auto m = await_sent(*al.s, 3, alice_seen);
  const std::vector<stream_item> texts{{ev_text, 1, {m[0]}}, {ev_text, 2, {m[1]}}, {ev_text, 3, {m[2]}}};
  EXPECT_EQ(next_items(*a.s, 3), texts);
  EXPECT_EQ(next_items(*b.s, 3), texts);

  // Bob answers from device A: A gets DELIVERED, B gets SENT, both at position 4; alice's
  // device has it (socket write), which is a `received` event in bob's stream (5).
  a.s->send_json(ev_text, text_to("alice", "r1", "r1"));
  const auto a_sent = next_items_by_pos(*a.s, 2);
  ASSERT_EQ(a_sent.front().type, ev_delivered) << describe(a_sent);
  const auto r1 = a_sent.front().ids.front();
  EXPECT_EQ(a_sent, (std::vector<stream_item>{{ev_delivered, 4, {r1}}, {ev_received, 5, {r1}}}));
  EXPECT_EQ(next_items_by_pos(*b.s, 2), (std::vector<stream_item>{{ev_sent, 4, {r1}}, {ev_received, 5, {r1}}}));
  const auto r1_text = next_stream_frames(*al.s, 1).front();
  EXPECT_EQ(item_of(r1_text).ids, ids{r1});
  remember(alice_seen, item_of(r1_text));

  // Device A reads m1 and m2: alice hears it (MARK_READ), device B gets READ_STATE (6).
  a.s->send_json(ev_mark_read, mark_read_body("alice", {m[0], m[1]}));
  const auto read_state = next_stream_frames(*b.s, 1).front();
  EXPECT_EQ(item_of(read_state), (stream_item{ev_read_state, 6, {m[0], m[1]}}));
  EXPECT_EQ(int_field(body_of(read_state), "chat_id"), int_field(body_of(r1_text), "chat_id"));
  const auto read_notice = item_of(next_stream_frames(*al.s, 1).front());
  EXPECT_EQ(read_notice.type, ev_mark_read);
  EXPECT_EQ(read_notice.ids, (ids{m[0], m[1]}));
  remember(alice_seen, read_notice);

  // Alice reads r1: both of bob's devices hear it at 7.
  al.s->send_json(ev_mark_read, mark_read_body("bob", {r1}));
  EXPECT_EQ(next_items(*a.s, 1), (std::vector<stream_item>{{ev_mark_read, 7, {r1}}}));
  EXPECT_EQ(next_items(*b.s, 1), (std::vector<stream_item>{{ev_mark_read, 7, {r1}}}));

  // Alice edits m3 and deletes m2 on node c: every device of both, hers included, at one pos.
  // (One after the other: two changes are not ordered by the store unless they are.)
  al.s->send_json(ev_edit, edit_body(m[2], "m3, edited"));
  auto al_changes = next_stream_frames(*al.s, 1);
  al.s->send_json(ev_delete, delete_body({m[1]}));
  al_changes.push_back(next_stream_frames(*al.s, 1).front());
  const auto a_changes = next_stream_frames(*a.s, 2);
  const auto b_changes = next_stream_frames(*b.s, 2);
  const std::vector<stream_item> changes{{ev_edit, 8, {m[2]}}, {ev_delete, 9, {m[1]}}};
  EXPECT_EQ(items_of(a_changes), changes);
  EXPECT_EQ(items_of(b_changes), changes);
  EXPECT_EQ(item_of(al_changes[0]).ids, ids{m[2]});
  EXPECT_EQ(item_of(al_changes[1]).ids, ids{m[1]});
  for (const auto& f : al_changes) remember(alice_seen, item_of(f));
  for (const auto& frames : {al_changes, a_changes, b_changes}) {
    const auto& edited = body_of(frames.at(0));
    EXPECT_EQ(str_field(edited, "content"), "m3, edited");
    EXPECT_TRUE(is_rfc3339(str_field(edited, "edited_at"))) << json::serialize(edited);
    EXPECT_TRUE(is_rfc3339(str_field(body_of(frames.at(1)), "deleted_at")));
  }

  // Device A got no READ_STATE for its own read, and nothing else is left for anybody.
  a.s->expect_no_frame(300ms);
  b.s->expect_no_frame(100ms);
  al.s->expect_no_frame(100ms);

  // Alice's stream is gap-free too: a second device of hers, on node a, from the start gets
  // what her device saw live, at the same positions (her messages as SENT, not DELIVERED),
  // plus the one event her device caused itself: her read of r1.
  auto al2 = connect_synced(node(0).port, alice, 0);
  const auto alice_all = items_of(al2.backlog);
  EXPECT_EQ(positions_of(alice_all), positions_after(0, al2.latest)) << describe(alice_all);
  std::vector<stream_item> unseen;
  for (const auto& item : alice_all) {
    const auto live = alice_seen.find(item.pos);
    if (live == alice_seen.end()) {
      unseen.push_back(item);
      continue;
    }
    auto expected = live->second;
    if (expected.type == ev_delivered) expected.type = ev_sent;
    EXPECT_EQ(item, expected) << "alice's stream at " << item.pos << ":" << describe(alice_all);
  }
  ASSERT_EQ(unseen.size(), 1u) << describe(alice_all);
  EXPECT_EQ(unseen[0].type, ev_read_state);
  EXPECT_EQ(unseen[0].ids, ids{r1});
}

TEST_F(cluster_e2e, device_back_on_another_node_catches_up_from_its_pos) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  // Everything happens on node a; bob's device B was on node b and comes back there.
  auto al = connect_synced(node(0).port, alice, std::nullopt);
  auto a = connect_synced(node(0).port, bob, std::nullopt);
  auto b = connect_synced(node(1).port, bob, std::nullopt);
  seen_items alice_seen;

  al.s->send_json(ev_text, text_to("bob", "m1", 1));
  al.s->send_json(ev_text, text_to("bob", "m2", 2));
  const auto m = await_sent(*al.s, 2, alice_seen);
  EXPECT_EQ(next_items(*a.s, 2).back().pos, 2);
  stream_positions b_had(b.latest);
  for (const auto& item : next_items(*b.s, 2)) EXPECT_TRUE(b_had.take(item.pos));
  ASSERT_EQ(b_had.watermark(), 2);
  b.s->close();

  // While B is away: two more messages, an edit, a delete, a read on device A, an answer
  // from A and alice's receipt of it: bob's positions 3 to 9.
  al.s->send_json(ev_text, text_to("bob", "m3", 3));
  al.s->send_json(ev_text, text_to("bob", "m4", 4));
  const auto m34 = await_sent(*al.s, 2, alice_seen);
  // One after the other, each once alice heard of it: the store orders two changes only
  // when their outcomes depend on each other, and these positions are asserted.
  al.s->send_json(ev_edit, edit_body(m[0], "m1, edited"));
  al.s->recv_type_skipping(ev_edit, {ev_received}, 10s);
  al.s->send_json(ev_delete, delete_body({m[1]}));
  al.s->recv_type_skipping(ev_delete, {ev_received}, 10s);
  a.s->send_json(ev_mark_read, mark_read_body("alice", m34));
  al.s->recv_type_skipping(ev_mark_read, {ev_received}, 10s);  // the read is committed
  a.s->send_json(ev_text, text_to("alice", "r1", "r1"));
  al.s->recv_type_skipping(ev_text, {ev_received}, 10s);
  const auto a_live = next_items_by_pos(*a.s, 6);  // 3, 4, 5, 6, (7 is A's own read), 8, 9
  ASSERT_EQ(a_live[4].type, ev_delivered) << describe(a_live);
  const auto r1 = a_live[4].ids.front();
  const std::vector<stream_item> missed{
      {ev_text, 3, {m34[0]}}, {ev_text, 4, {m34[1]}}, {ev_edit, 5, {m[0]}},   {ev_delete, 6, {m[1]}},
      {ev_read_state, 7, m34}, {ev_sent, 8, {r1}},     {ev_received, 9, {r1}},
  };
  EXPECT_EQ(a_live, (std::vector<stream_item>{missed[0], missed[1], missed[2], missed[3], {ev_delivered, 8, {r1}},
                                               missed[6]}));

  // B comes back to node b with its position: exactly what it missed, oldest first, then SYNCED.
  auto b2 = connect_synced(node(1).port, bob, b_had.watermark());
  EXPECT_EQ(items_of(b2.backlog), missed) << "caught up:" << describe(items_of(b2.backlog));
  EXPECT_EQ(b2.latest, 9);
  EXPECT_EQ(str_field(body_of(b2.backlog[0]), "content"), "m3");
  EXPECT_EQ(str_field(body_of(b2.backlog[2]), "content"), "m1, edited");
  EXPECT_EQ(str_field(body_of(b2.backlog[5]), "content"), "r1");

  // A new device on node c from the start of the stream: every event, each rendered from
  // the messages as they are now (m1 edited, m2 deleted).
  auto c = connect_synced(node(2).port, bob, 0);
  const auto all = items_of(c.backlog);
  std::vector<stream_item> expected{{ev_text, 1, {m[0]}}, {ev_text, 2, {m[1]}}};
  expected.insert(expected.end(), missed.begin(), missed.end());
  EXPECT_EQ(all, expected) << "caught up:" << describe(all);
  EXPECT_EQ(c.latest, 9);
  if (c.backlog.size() == expected.size()) {
    const auto& m1 = body_of(c.backlog[0]);
    EXPECT_EQ(str_field(m1, "content"), "m1, edited");
    EXPECT_TRUE(is_rfc3339(str_field(m1, "edited_at")));
    const auto& m2 = body_of(c.backlog[1]);
    EXPECT_TRUE(bool_field(m2, "deleted"));
    EXPECT_EQ(str_field(m2, "content"), "");
  }

  // Live events go on from there, on both nodes.
  al.s->send_json(ev_text, text_to("bob", "m5", 5));
  const auto m5 = await_sent(*al.s, 1, alice_seen).front();
  const std::vector<stream_item> next{{ev_text, 10, {m5}}};
  EXPECT_EQ(next_items(*b2.s, 1), next);
  EXPECT_EQ(next_items(*c.s, 1), next);
  b2.s->expect_no_frame(300ms);
  c.s->expect_no_frame(100ms);
}

TEST_F(cluster_e2e, device_of_a_killed_node_catches_up_on_another_from_its_last_pos) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto al = connect_synced(node(0).port, alice, std::nullopt);
  auto a = connect_synced(node(0).port, bob, std::nullopt);
  auto b = connect_synced(node(1).port, bob, std::nullopt);
  seen_items alice_seen;
  stream_positions b_had(b.latest);
  std::vector<stream_item> b_old;
  const auto take_old = [&](const json::value& f) {
    b_old.push_back(item_of(f));
    EXPECT_TRUE(b_had.take(b_old.back().pos)) << "pos " << b_old.back().pos << " twice on one connection";
  };

  constexpr int burst = 10;
  for (int i = 0; i < burst; ++i) al.s->send_json(ev_text, text_to("bob", "k" + std::to_string(i), i));
  ASSERT_TRUE(pump(*b.s, take_old, [&] { return b_old.size() >= burst; }, 10s));
  // A second burst, and node b is killed while it is on its way: B has some of it, or none.
  for (int i = burst; i < 2 * burst; ++i) al.s->send_json(ev_text, text_to("bob", "k" + std::to_string(i), i));
  node(1).expect_dead = true;
  node(1).proc->kill_hard();
  pump(*b.s, take_old, [] { return false; }, 10s);
  ASSERT_TRUE(b.s->closed()) << "B's connection to the killed node b did not end";
  // Not every receipt need reach alice's device: node b may have stored one and died before
  // publishing it (a notice lost as a frame; alice's device connected without since).
  const auto k = await_sent(*al.s, 2 * burst, alice_seen, /*receipts=*/false);
  const auto a_burst = next_items(*a.s, 2 * burst);
  for (std::size_t i = 0; i < a_burst.size(); ++i)
    ASSERT_EQ(a_burst[i], (stream_item{ev_text, static_cast<std::int64_t>(i) + 1, {k[i]}}));
  for (std::size_t i = 0; i < b_old.size(); ++i) EXPECT_EQ(b_old[i], a_burst[i]) << "B's frame " << i;

  // While B is away: three more messages, an edit of one it had, a delete of one it had and
  // of one it may not have had, a read and an answer on device A, alice's receipt of it.
  for (int i = 2 * burst; i < 2 * burst + 3; ++i) al.s->send_json(ev_text, text_to("bob", "k" + std::to_string(i), i));
  const auto more = await_sent(*al.s, 3, alice_seen);
  for (const auto& change : {std::pair{ev_edit, edit_body(k[0], "k0, edited")},
                             std::pair{ev_delete, delete_body({k[1]})},
                             std::pair{ev_delete, delete_body({k[2 * burst - 1]})}}) {
    al.s->send_json(change.first, change.second);
    al.s->recv_type_skipping(change.first, {ev_received}, 10s);
  }
  a.s->send_json(ev_mark_read, mark_read_body("alice", {k[2], k[3], k[4]}));
  al.s->recv_type_skipping(ev_mark_read, {ev_received}, 10s);  // the read is committed
  a.s->send_json(ev_text, text_to("alice", "r1", "r1"));
  al.s->recv_type_skipping(ev_text, {ev_received}, 10s);
  const auto a_away = next_items_by_pos(*a.s, 8);  // 21 .. 26, 28, 29 (27 is A's own read)
  ASSERT_EQ(a_away[6].type, ev_delivered) << describe(a_away);
  const auto r1 = a_away[6].ids.front();

  std::vector<stream_item> stream(a_burst);
  for (std::size_t i = 0; i < more.size(); ++i)
    stream.push_back({ev_text, static_cast<std::int64_t>(2 * burst + i) + 1, {more[i]}});
  stream.push_back({ev_edit, 24, {k[0]}});
  stream.push_back({ev_delete, 25, {k[1]}});
  stream.push_back({ev_delete, 26, {k[2 * burst - 1]}});
  stream.push_back({ev_read_state, 27, {k[2], k[3], k[4]}});
  stream.push_back({ev_sent, 28, {r1}});
  stream.push_back({ev_received, 29, {r1}});
  std::vector<stream_item> a_expected(stream.begin() + 2 * burst, stream.end());
  a_expected.erase(a_expected.begin() + 6);  // A's own read
  a_expected[6].type = ev_delivered;         // A sent r1
  EXPECT_EQ(a_away, a_expected) << "device A:" << describe(a_away);

  // B reconnects to node a with its watermark: every event after it, each once, in order.
  const auto since = b_had.watermark();
  ASSERT_GE(since, burst);
  auto b2 = connect_synced(node(0).port, bob, since);
  const auto caught_up = items_of(b2.backlog);
  EXPECT_EQ(positions_of(caught_up), positions_after(since, 29 - since)) << describe(caught_up);
  EXPECT_EQ(caught_up, std::vector<stream_item>(stream.begin() + since, stream.end())) << describe(caught_up);
  EXPECT_EQ(b2.latest, 29);
  // Nothing lost across the two connections: every acknowledged message of alice's reached B.
  const auto b_texts = text_ids_of({b_old, caught_up});
  for (auto id : k) EXPECT_TRUE(b_texts.contains(id)) << "message " << id << " never reached device B";
  for (auto id : more) EXPECT_TRUE(b_texts.contains(id)) << "message " << id << " (sent while B was away) is missing";

  // And B is live on node a from there.
  al.s->send_json(ev_text, text_to("bob", "after", "after"));
  const auto after = await_sent(*al.s, 1, alice_seen).front();
  EXPECT_EQ(next_items(*b2.s, 1), (std::vector<stream_item>{{ev_text, 30, {after}}}));
  b2.s->expect_no_frame(300ms);
}

TEST_F(cluster_e2e, http_send_on_one_node_reaches_devices_on_the_others) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto al = connect_synced(node(1).port, alice, std::nullopt);
  auto b1 = connect_synced(node(1).port, bob, std::nullopt);
  auto b2 = connect_synced(node(2).port, bob, std::nullopt);

  const header_map bearer{{"Authorization", "Bearer " + alice.token}};
  const auto body = json::serialize(json::object{{"to", "bob"}, {"content", "over http"}, {"mark", "h1"}});
  const auto res = http_request(node(0).port, "POST", "/v1/messages", body, bearer);
  ASSERT_EQ(res.status, 201) << res.body;
  const auto sent = res.json();
  const auto id = int_field(sent, "message_id");
  EXPECT_FALSE(bool_field(sent, "duplicate"));
  EXPECT_EQ(int_field(sent, "seq"), 1);

  for (auto* dev : {&b1, &b2}) {
    const auto text = next_stream_frames(*dev->s, 1).front();
    EXPECT_EQ(item_of(text), (stream_item{ev_text, 1, {id}}));
    EXPECT_EQ(str_field(body_of(text), "content"), "over http");
    EXPECT_EQ(str_field(body_of(text), "from"), "alice");
    EXPECT_EQ(int_field(body_of(text), "chat_id"), int_field(sent, "chat_id"));
  }
  // Alice's device did not send it, so it gets SENT, then the receipt of bob's devices.
  const auto al_frames = next_stream_frames(*al.s, 2);
  auto al_items = items_of(al_frames);
  std::sort(al_items.begin(), al_items.end(), [](const auto& x, const auto& y) { return x.pos < y.pos; });
  EXPECT_EQ(al_items, (std::vector<stream_item>{{ev_sent, 1, {id}}, {ev_received, 2, {id}}}));
  const auto& sent_copy = type_of(al_frames[0]) == ev_sent ? al_frames[0] : al_frames[1];
  EXPECT_EQ(str_field(body_of(sent_copy), "content"), "over http");

  // A retry with the same mark is the same message, and nobody hears of it again.
  const auto again = http_request(node(2).port, "POST", "/v1/messages", body, bearer);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(bool_field(again.json(), "duplicate"));
  EXPECT_EQ(int_field(again.json(), "message_id"), id);
  al.s->expect_no_frame(300ms);
  b1.s->expect_no_frame(100ms);
  b2.s->expect_no_frame(100ms);
}

}  // namespace
}  // namespace chatrix::test
