// People across nodes (docs/protocol.md "Typing" and "Presence"; docs/cluster.md "People"):
// two nodes on one PostgreSQL database and one Redis. Typing on one node reaches the recipient
// on the other; presence follows a user's devices on both nodes (offline only once neither
// holds one, PRESENCE_GRACE 1 s; a node killed with SIGKILL takes its users offline when its
// lease runs out); a block made on one node withholds messages and stops typing and presence
// on the other; DELETE /v1/me closes the account's sockets on both nodes; PATCH /v1/me's new
// name reaches previews read on the other node.
#include "e2e/cluster_fixture.hpp"

#include <optional>
#include <thread>

namespace chatrix::test {
namespace {

class cluster_people_e2e : public cluster_e2e {
 protected:
  std::map<std::string, std::string> node_env() const override { return {{"PRESENCE_GRACE", "1s"}}; }
  std::size_t initial_nodes() const override { return 2; }
  bool sessions_see_people() const override { return true; }

  http_response call(std::size_t via, const test_user& user, const std::string& method, const std::string& target,
                     const json::value& body = nullptr) {
    header_map headers{{"Authorization", "Bearer " + user.token}};
    std::string text;
    if (!body.is_null()) {
      headers["Content-Type"] = "application/json";
      text = json::serialize(body);
    }
    return http_request(node(via).port, method, target, text, headers);
  }

  /// `from` sends a TEXT to `to` and waits for its DELIVERED: the two share a conversation.
  static std::int64_t start_conversation(const session& from, const test_user& to, const std::string& content) {
    from->send_json(ev_text, text_to(to.username, content, json::value(json::string("m-" + content))));
    const auto delivered = from->recv_type_skipping(ev_delivered, {ev_received, ev_presence, ev_typing}, 10s);
    return int_field(body_of(delivered), "chat_id");
  }
};

/// The next presence frame about `user` (other frames are skipped), or nullopt.
std::optional<json::value> next_presence_of(ws_client& ws, const test_user& user, std::chrono::milliseconds timeout) {
  std::optional<json::value> found;
  pump(
      ws,
      [&](const json::value& f) {
        if (type_of(f) == ev_presence && int_field(body_of(f), "user_id") == user.id) found = body_of(f);
      },
      [&] { return found.has_value(); }, timeout);
  return found;
}

/// A preview row about `peer` in a CHATPREVIEWS body or a GET /v1/conversations list.
const json::value* row_of(const json::value& rows, const test_user& peer) {
  if (!rows.is_array()) return nullptr;
  for (const auto& r : rows.as_array())
    if (int_field(r, "id") == peer.id) return &r;
  return nullptr;
}

/// Waits until `watcher` sees `peer` offline: at once when its previews say so, else from
/// an 18 (the peer may still be in its grace period).
void await_offline(session& watcher, const test_user& peer) {
  const auto* row = row_of(watcher.previews, peer);
  ASSERT_NE(row, nullptr) << "no preview row for " << peer.username << ": " << json::serialize(watcher.previews);
  if (!bool_field(*row, "online")) return;
  const auto p = next_presence_of(*watcher, peer, 10s);
  ASSERT_TRUE(p) << peer.username << " never went offline";
  EXPECT_FALSE(bool_field(*p, "online"));
}

TEST_F(cluster_people_e2e, typing_on_node_a_reaches_the_recipient_on_node_b) {
  const auto ann = make_user("ann");
  const auto bob = make_user("bob");
  auto ann_a = connect(ann, 0);
  auto bob_b = connect(bob, 1);
  ann_a->ignore_type(ev_presence);
  bob_b->ignore_type(ev_presence);
  const auto chat_id = start_conversation(ann_a, bob, "hi");
  bob_b->recv_type(ev_text, 10s);

  ann_a->send_json(ev_typing, json::object{{"to", "bob"}, {"typing", true}});
  const auto on = body_of(bob_b->recv_type(ev_typing, 10s));
  EXPECT_EQ(int_field(on, "from_id"), ann.id);
  EXPECT_EQ(str_field(on, "from"), "ann");
  EXPECT_EQ(int_field(on, "chat_id"), chat_id);
  EXPECT_TRUE(bool_field(on, "typing"));

  ann_a->send_json(ev_typing, json::object{{"to_id", bob.id}, {"typing", false}});
  const auto off = body_of(bob_b->recv_type(ev_typing, 10s));
  EXPECT_EQ(int_field(off, "from_id"), ann.id);
  EXPECT_FALSE(bool_field(off, "typing"));
  ann_a->expect_no_frame(300ms, {ev_received, ev_presence});  // no ERR: the sender is not told anything
}

TEST_F(cluster_people_e2e, a_user_online_on_both_nodes_goes_offline_only_when_both_are_gone) {
  const auto ann = make_user("ann");
  const auto bob = make_user("bob");
  {
    auto ann_b = connect(ann, 1);
    start_conversation(ann_b, bob, "hello");
    ann_b->close();
  }
  auto bob_a = connect(bob, 0);
  bob_a->ignore_type(ev_text);
  await_offline(bob_a, ann);

  // Online from node b: bob, on node a, hears it through the bus.
  auto ann_b = connect(ann, 1);
  auto on = next_presence_of(*bob_a, ann, 10s);
  ASSERT_TRUE(on) << "bob never saw ann come online on node b";
  EXPECT_TRUE(bool_field(*on, "online"));
  EXPECT_EQ(str_field(*on, "username"), "ann");
  EXPECT_GT(int_field(*on, "last_seen"), 0) << "online: seen now";

  // A second device on node a changes nothing bob sees; nor does the first one leaving.
  auto ann_a = connect(ann, 0);
  ann_b->close();
  EXPECT_FALSE(next_presence_of(*bob_a, ann, 2500ms)) << "ann still has a device on node a";

  ann_a->close();
  auto off = next_presence_of(*bob_a, ann, 10s);
  ASSERT_TRUE(off) << "ann never went offline after her last device left";
  EXPECT_FALSE(bool_field(*off, "online"));
  EXPECT_GT(int_field(*off, "last_seen"), 0) << "offline: when the last device left";
}

TEST_F(cluster_people_e2e, users_of_a_node_killed_with_sigkill_go_offline_after_its_lease) {
  const auto ann = make_user("ann");
  const auto bob = make_user("bob");
  auto bob_a = connect(bob, 0);
  auto ann_b = connect(ann, 1);
  start_conversation(ann_b, bob, "hello");  // a conversation started meanwhile is watched too
  bob_a->recv_type_skipping(ev_text, {ev_presence}, 10s);  // from here on bob's node watches ann
  node(1).expect_dead = true;
  node(1).proc->kill_hard();
  const auto killed_at = std::chrono::steady_clock::now();
  // Lease 10 s, a registry read every 2 s, then the offline: well within 25 s. (Frames before
  // are online ones: bob may see ann come online.)
  std::optional<json::value> off;
  while (!off && std::chrono::steady_clock::now() - killed_at < 25s) {
    auto p = next_presence_of(*bob_a, ann, 1s);
    if (p && !bool_field(*p, "online")) off = p;
  }
  ASSERT_TRUE(off) << "ann stayed online after her node died";
  EXPECT_GT(int_field(*off, "last_seen"), 0);
}

TEST_F(cluster_people_e2e, a_block_on_one_node_withholds_messages_and_stops_typing_and_presence_on_the_other) {
  const auto ann = make_user("ann");
  const auto bob = make_user("bob");
  auto ann_b = connect(ann, 1);
  start_conversation(ann_b, bob, "hello");
  auto bob_a = connect(bob, 0);
  bob_a->ignore_type(ev_text);
  auto seen = next_presence_of(*ann_b, bob, 10s);
  ASSERT_TRUE(seen && bool_field(*seen, "online")) << "ann does not see bob online before the block";

  // Bob blocks ann over HTTP on node a.
  const auto res = call(0, bob, "POST", "/v1/blocks", json::object{{"username", "ann"}});
  ASSERT_EQ(res.status, 201) << res.body;
  // Each stops seeing the other: ann (on node b) through the bus.
  auto hidden = next_presence_of(*ann_b, bob, 10s);
  ASSERT_TRUE(hidden) << "ann was not told that bob's presence is gone";
  EXPECT_FALSE(bool_field(*hidden, "online"));
  EXPECT_TRUE(field_of(*hidden, "last_seen").is_null());
  auto bob_hidden = next_presence_of(*bob_a, ann, 10s);
  ASSERT_TRUE(bob_hidden);
  EXPECT_FALSE(bool_field(*bob_hidden, "online"));
  EXPECT_TRUE(field_of(*bob_hidden, "last_seen").is_null());

  // Ann's message is acknowledged as usual and never reaches bob; her typing neither.
  ann_b->send_json(ev_text, text_to("bob", "are you there", "m-2"));
  ann_b->recv_type_skipping(ev_delivered, {ev_received, ev_presence}, 10s);
  ann_b->send_json(ev_typing, json::object{{"to", "bob"}, {"typing", true}});
  bob_a->expect_no_frame(1500ms, {ev_received});
  ann_b->expect_no_frame(300ms, {ev_received, ev_presence});  // not told she is blocked
  // Nor is it in bob's history read on node b.
  const auto convs = call(1, bob, "GET", "/v1/conversations");
  ASSERT_EQ(convs.status, 200) << convs.body;
  const auto listing = convs.json();
  const auto* row = row_of(listing.at("conversations"), ann);
  ASSERT_NE(row, nullptr);
  EXPECT_NE(str_field(row->at("last_message"), "content"), "are you there");
}

TEST_F(cluster_people_e2e, deleting_the_account_closes_its_sockets_on_both_nodes) {
  const auto ann = make_user("ann");
  const auto bob = make_user("bob");
  auto ann_a = connect(ann, 0);
  auto ann_b = connect(ann, 1);
  start_conversation(ann_a, bob, "bye");
  auto bob_b = connect(bob, 1);
  bob_b->ignore_type(ev_text);

  const auto res = call(0, ann, "DELETE", "/v1/me", json::object{{"password", "password-ann"}});
  ASSERT_EQ(res.status, 204) << res.body;
  EXPECT_TRUE(ann_a->wait_closed(10s)) << "ann's socket on node a stayed open";
  EXPECT_TRUE(ann_b->wait_closed(10s)) << "ann's socket on node b stayed open";
  // Her partner, on node b, sees her go: offline, no last seen.
  std::optional<json::value> gone;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    auto p = next_presence_of(*bob_b, ann, 1s);
    if (p && !bool_field(*p, "online")) gone = p;
  }
  ASSERT_TRUE(gone) << "bob still sees ann online";
  EXPECT_TRUE(field_of(*gone, "last_seen").is_null());
  // Her token is refused on both nodes.
  EXPECT_EQ(call(1, ann, "GET", "/v1/me").status, 401);
  EXPECT_EQ(call(0, ann, "GET", "/v1/me").status, 401);
}

TEST_F(cluster_people_e2e, a_new_name_reaches_previews_read_on_the_other_node) {
  const auto ann = make_user("ann");
  const auto bob = make_user("bob");
  {
    auto ann_a = connect(ann, 0);
    start_conversation(ann_a, bob, "hello");
  }
  // Node b reads (and caches) ann's profile for bob's previews first.
  auto bob_b = connect(bob, 1);
  const auto* before = row_of(bob_b.previews, ann);
  ASSERT_NE(before, nullptr);
  EXPECT_EQ(str_field(*before, "name"), "ann Test");

  const auto res = call(0, ann, "PATCH", "/v1/me", json::object{{"name", "Ann Renamed"}});
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(str_field(res.json(), "name"), "Ann Renamed");

  // The change reaches node b over the bus a moment after the answer: poll its previews.
  std::string name;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto convs = call(1, bob, "GET", "/v1/conversations");
    ASSERT_EQ(convs.status, 200) << convs.body;
    const auto listing = convs.json();
    const auto* row = row_of(listing.at("conversations"), ann);
    ASSERT_NE(row, nullptr);
    name = str_field(*row, "name");
    if (name == "Ann Renamed") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(name, "Ann Renamed") << "node b still shows the old name";
  // And in the previews a new connection to node b gets.
  auto again = connect(bob, 1);
  const auto* row = row_of(again.previews, ann);
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(str_field(*row, "name"), "Ann Renamed");
}

}  // namespace
}  // namespace chatrix::test
