// Three chatrix nodes behaving as one service: text, receipts and read marks across nodes,
// one user's devices on two nodes, 300 messages in order across nodes, and GET /cluster as
// nodes join, stop (SIGTERM) and crash (SIGKILL).
#include "e2e/cluster_fixture.hpp"

#include <algorithm>
#include <set>
#include <thread>

#include <sys/wait.h>

namespace chatrix::test {
namespace {

using ids = std::vector<std::int64_t>;

TEST_F(cluster_e2e, text_receipts_and_read_marks_cross_nodes) {
  const auto alice = make_user("alice", 0);
  const auto bob = make_user("bob", 1);
  auto a = connect(alice, 0);
  auto b = connect(bob, 1);

  a->send_json(ev_text, text_to("bob", "hello from node a", 7));
  const auto delivered = body_of(a->recv_type_skipping(ev_delivered, {ev_received}, 10s));
  const auto id = int_field(delivered, "message_id");
  EXPECT_EQ(delivered.at("mark"), json::value(7));

  const auto text = body_of(b->recv_type(ev_text, 10s));
  EXPECT_EQ(int_field(text, "msg_id"), id);
  EXPECT_EQ(str_field(text, "content"), "hello from node a");
  EXPECT_EQ(int_field(text, "from_id"), alice.id);
  EXPECT_EQ(str_field(text, "from"), "alice");

  // Bob's node saw its socket write complete (his receipt) and recorded it; the RECEIVED
  // for alice crosses back through Redis.
  const auto received = body_of(a->recv_type(ev_received, 10s));
  EXPECT_EQ(ids_of(received), ids{id});
  EXPECT_EQ(int_field(received, "to_id"), bob.id);

  b->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{id}}});
  EXPECT_EQ(ids_of(body_of(a->recv_type(ev_mark_read, 10s))), ids{id});

  // The other way round, addressed by id this time.
  b->send_json(ev_text, text_to_id(alice.id, "reply from node b", "r1"));
  const auto back_id = int_field(body_of(b->recv_type_skipping(ev_delivered, {ev_received}, 10s)), "message_id");
  const auto back = body_of(a->recv_type(ev_text, 10s));
  EXPECT_EQ(int_field(back, "msg_id"), back_id);
  EXPECT_EQ(str_field(back, "content"), "reply from node b");
  EXPECT_EQ(ids_of(body_of(b->recv_type(ev_received, 10s))), ids{back_id});
  a->send_json(ev_mark_read, json::object{{"to", "bob"}, {"message_ids", json::array{back_id}}});
  EXPECT_EQ(ids_of(body_of(b->recv_type(ev_mark_read, 10s))), ids{back_id});
}

TEST_F(cluster_e2e, one_user_with_devices_on_two_nodes) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto a1 = connect(alice, 0);
  auto a2 = connect(alice, 2);
  auto b1 = connect(bob, 1);
  auto b2 = connect(bob, 2);

  a1->send_json(ev_text, text_to("bob", "to both of bob's devices", 1));
  const auto id = int_field(body_of(a1->recv_type_skipping(ev_delivered, {ev_received}, 10s)), "message_id");
  for (auto* dev : {&b1, &b2}) {
    const auto t = body_of((*dev)->recv_type(ev_text, 10s));
    EXPECT_EQ(int_field(t, "msg_id"), id);
    EXPECT_EQ(str_field(t, "content"), "to both of bob's devices");
  }
  // Alice's other device (node c) sees what she sent from node a.
  const auto sent = body_of(a2->recv_type(ev_sent, 10s));
  EXPECT_EQ(int_field(sent, "msg_id"), id);
  EXPECT_EQ(str_field(sent, "content"), "to both of bob's devices");
  // Both of alice's devices learn of the receipt once, whichever of bob's devices gave it;
  // the sending device gets no SENT copy of its own message.
  EXPECT_EQ(ids_of(body_of(a1->recv_type(ev_received, 10s))), ids{id});
  EXPECT_EQ(ids_of(body_of(a2->recv_type(ev_received, 10s))), ids{id});
  a1->expect_no_frame(500ms);
  a2->expect_no_frame(300ms);

  // Bob answers from node c, where one of alice's devices is: the local and the remote
  // device of alice get TEXT, bob's device on node b gets SENT, the sending device nothing.
  b2->send_json(ev_text, text_to("alice", "answer from node c", 2));
  const auto reply_id = int_field(body_of(b2->recv_type_skipping(ev_delivered, {ev_received}, 10s)), "message_id");
  EXPECT_EQ(int_field(body_of(a1->recv_type(ev_text, 10s)), "msg_id"), reply_id);
  EXPECT_EQ(int_field(body_of(a2->recv_type(ev_text, 10s)), "msg_id"), reply_id);
  EXPECT_EQ(int_field(body_of(b1->recv_type(ev_sent, 10s)), "msg_id"), reply_id);
  EXPECT_EQ(ids_of(body_of(b2->recv_type(ev_received, 10s))), ids{reply_id});
  b2->expect_no_frame(300ms);
}

TEST_F(cluster_e2e, three_hundred_messages_across_nodes_in_order) {
  constexpr int count = 300;
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto a = connect(alice, 0);
  auto b = connect(bob, 1);

  // Sent back to back: the stream is pipelined through the store and the routing rounds.
  for (int i = 0; i < count; ++i) a->send_json(ev_text, text_to("bob", "msg " + std::to_string(i), i));

  ids delivered_ids, received_ids;
  std::vector<std::int64_t> delivered_marks;
  pump(
      *a,
      [&](const json::value& f) {
        const int t = type_of(f);
        if (t == ev_delivered) {
          delivered_ids.push_back(int_field(body_of(f), "message_id"));
          delivered_marks.push_back(to_i64(body_of(f).at("mark")));
        } else if (t == ev_received) {
          for (auto id : ids_of(body_of(f))) received_ids.push_back(id);
        } else {
          ADD_FAILURE() << "unexpected frame for the sender: " << json::serialize(f);
        }
      },
      [&] { return delivered_ids.size() >= count && received_ids.size() >= count; }, 60s);
  ASSERT_EQ(delivered_ids.size(), std::size_t{count}) << "DELIVERED frames missing";
  for (int i = 0; i < count; ++i) ASSERT_EQ(delivered_marks[i], i) << "DELIVERED out of send order at " << i;
  EXPECT_TRUE(std::is_sorted(delivered_ids.begin(), delivered_ids.end()));

  ids text_ids;
  std::vector<std::int64_t> indices;
  pump(
      *b,
      [&](const json::value& f) {
        ASSERT_EQ(type_of(f), ev_text) << json::serialize(f);
        text_ids.push_back(int_field(body_of(f), "msg_id"));
        indices.push_back(index_in(str_field(body_of(f), "content"), "msg "));
      },
      [&] { return text_ids.size() >= count; }, 60s);
  ASSERT_EQ(text_ids.size(), std::size_t{count}) << "TEXT frames missing on node b";
  for (int i = 0; i < count; ++i) ASSERT_EQ(indices[i], i) << "TEXT out of order on node b at " << i;
  EXPECT_EQ(text_ids, delivered_ids);

  // Every message's RECEIVED came back across nodes, once.
  std::sort(received_ids.begin(), received_ids.end());
  EXPECT_EQ(received_ids, delivered_ids);
  b->expect_no_frame(300ms);
}

TEST_F(cluster_e2e, cluster_lists_nodes_as_they_join_stop_and_crash) {
  std::vector<std::string> id;
  for (std::size_t i = 0; i < 3; ++i) id.push_back(cluster_of(i).self_id);
  EXPECT_EQ(std::set<std::string>(id.begin(), id.end()).size(), 3u) << "node ids must be distinct";

  // Each node learns of the others at its next registry refresh (a heartbeat, 2 s).
  const auto all_three = [&](const cluster_listing& l) {
    if (l.nodes.size() != 3) return false;
    for (const auto& n : l.nodes) {
      const auto it = std::find(id.begin(), id.end(), n.id);
      if (it == id.end() || n.address != node(static_cast<std::size_t>(it - id.begin())).address()) return false;
    }
    return true;
  };
  for (std::size_t i = 0; i < 3; ++i) {
    cluster_listing last;
    EXPECT_TRUE(wait_listing(i, all_three, 15s, &last))
        << "node " << node(i).name << " lists " << last.nodes.size() << " nodes, not a, b and c";
    EXPECT_EQ(last.self_id, id[i]);
  }

  // SIGTERM: node c deregisters before it exits (its lease and presence are deleted, not
  // left to expire), so the others drop it at their next refresh, well inside the TTL.
  const auto carol = make_user("carol");
  auto on_c = connect(carol, 2);
  node(2).expect_dead = true;
  const auto st = node(2).proc->stop(10s);
  ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "node c did not exit 0 after SIGTERM";
  EXPECT_EQ(redis().command({"EXISTS", "chatrix:node:" + id[2]}).integer, 0) << "node c's lease outlived it";
  EXPECT_TRUE(redis().command({"ZSCORE", "chatrix:nodes", id[2]}).is_nil()) << "node c still in chatrix:nodes";
  EXPECT_EQ(redis().command({"HEXISTS", "chatrix:presence:" + std::to_string(carol.id), id[2]}).integer, 0)
      << "carol's presence on node c outlived the node";
  const auto without = [&](const std::string& gone) {
    return [gone](const cluster_listing& l) { return !l.lists_id(gone) && l.nodes.size() == 2; };
  };
  // 6 s: two heartbeats of margin, but less than the 10 s lease, which would hide a missing
  // deregistration.
  EXPECT_TRUE(wait_listing(0, without(id[2]), 6s)) << "node a still lists node c after its SIGTERM";
  EXPECT_TRUE(wait_listing(1, without(id[2]), 6s)) << "node b still lists node c after its SIGTERM";

  // A node joins: the others list it with its address.
  const auto d = start_node("d");
  const auto d_id = cluster_of(d).self_id;
  EXPECT_TRUE(wait_listing(0, [&](const cluster_listing& l) { return l.lists_id(d_id) && l.lists_address(node(d).address()); }, 10s))
      << "node a does not list the new node d";

  // SIGKILL: node b cannot deregister; its lease (10 s TTL) runs out and it drops out.
  node(1).expect_dead = true;
  node(1).proc->kill_hard();
  cluster_listing last;
  EXPECT_TRUE(wait_listing(0, [&](const cluster_listing& l) { return !l.lists_id(id[1]); }, 15s, &last))
      << "node a still lists the killed node b after 15 s";
  EXPECT_TRUE(last.lists_id(id[0]) && last.lists_id(d_id) && last.nodes.size() == 2);
  EXPECT_EQ(redis().command({"EXISTS", "chatrix:node:" + id[1]}).integer, 0) << "node b's lease did not expire";
}

}  // namespace
}  // namespace chatrix::test
