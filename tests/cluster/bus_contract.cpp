// The bus contract: what every cluster::bus implementation must do (src/cluster/bus.hpp),
// written once against the interface. Each implementation instantiates bus_contract.
#include "bus_contract.hpp"

#include <boost/asio/post.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace chatrix::cluster::testing {

using namespace std::chrono_literals;

bus& bus_contract::start_node(const std::string& id, recording_sink& sink) {
  buses_.push_back(factory_->make(io_, id));
  bus& b = *buses_.back();
  b.start(sink);
  EXPECT_TRUE(run_until([&] { return factory_->ready(b); })) << id << " never became ready";
  return b;
}

bool bus_contract::run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io_.restart();
    if (io_.run_for(5ms) == 0) std::this_thread::sleep_for(1ms);
  }
  return true;
}

void bus_contract::run_for(std::chrono::milliseconds d) {
  run_until([] { return false; }, d);
}

void bus_contract::connect_visible(bus& b, user_id user) {
  bool visible = false;
  b.device_connected(user, [&] { visible = true; });
  ASSERT_TRUE(run_until([&] { return visible; })) << "visible never ran";
}

namespace {

user_event message_to(user_id to, message_id msg) {
  return user_event{to, user_event::kind::message, msg, 0, std::make_shared<const std::string>(std::to_string(msg))};
}

user_event notice_to(user_id to, const std::string& what) {
  return user_event{to, user_event::kind::notice, 0, 0, std::make_shared<const std::string>(what)};
}

std::vector<message_id> messages_for(const recording_sink& sink, user_id to) {
  std::vector<message_id> out;
  for (const auto& ev : sink.got)
    if (ev.to == to && ev.type == user_event::kind::message) out.push_back(ev.msg);
  return out;
}

/// All fields set, binary-safe jtis, so that a lossy encoding shows.
revocation sample_revocation() {
  revocation r;
  r.user = 7;
  r.jtis = {"jti-1", std::string("j\0t\xffi", 6)};
  r.cutoff_s = 1'700'000'000;
  r.expiries = {{"jti-1", 1'700'000'900'000}, {std::string("j\0t\xffi", 6), 1'700'000'000'001}};
  return r;
}

void expect_same(const revocation& got, const revocation& want) {
  EXPECT_EQ(got.user, want.user);
  EXPECT_EQ(got.jtis, want.jtis);
  EXPECT_EQ(got.cutoff_s, want.cutoff_s);
  EXPECT_EQ(got.expiries, want.expiries);
}

const node_info* find_node(const std::vector<node_info>& nodes, const std::string& id) {
  for (const auto& n : nodes)
    if (n.id == id) return &n;
  return nullptr;
}

}  // namespace

// ---- local delivery ----

TEST_P(bus_contract, hands_an_event_for_a_local_device_to_the_sink_once_before_publish_returns) {
  bus& a = start_node("node-a", sink_a_);
  connect_visible(a, 7);
  a.publish(message_to(7, 1));
  ASSERT_EQ(sink_a_.got.size(), 1u);
  EXPECT_EQ(sink_a_.got[0].to, 7);
  EXPECT_EQ(sink_a_.got[0].msg, 1);
  EXPECT_EQ(*sink_a_.got[0].frame, "1");
  EXPECT_EQ(sink_a_.threads[0], std::this_thread::get_id());
  run_for(100ms);
  EXPECT_EQ(sink_a_.got.size(), 1u) << "handed over a second time";
}

TEST_P(bus_contract, keeps_publish_order_per_recipient_locally) {
  bus& a = start_node("node-a", sink_a_);
  connect_visible(a, 7);
  connect_visible(a, 8);
  std::vector<message_id> expected;
  for (message_id i = 1; i <= 100; ++i) {
    a.publish(message_to(i % 3 == 0 ? 8 : 7, i));
    if (i % 3 != 0) expected.push_back(i);
  }
  run_for(50ms);
  EXPECT_EQ(messages_for(sink_a_, 7), expected);
}

TEST_P(bus_contract, carries_the_whole_event) {
  bus& a = start_node("node-a", sink_a_);
  connect_visible(a, 7);
  a.publish(user_event{7, user_event::kind::notice, 42, 1234, std::make_shared<const std::string>("receipt"), {}, 99});
  ASSERT_EQ(sink_a_.got.size(), 1u);
  EXPECT_EQ(sink_a_.got[0].type, user_event::kind::notice);
  EXPECT_EQ(sink_a_.got[0].msg, 42);
  EXPECT_EQ(sink_a_.got[0].skip_device, 1234u);
  EXPECT_EQ(*sink_a_.got[0].frame, "receipt");
  EXPECT_EQ(sink_a_.got[0].pos, 99);
}

TEST_P(multi_node_bus_contract, an_event_keeps_its_stream_position_on_another_node) {
  bus& a = start_node("node-a", sink_a_);
  bus& b = start_node("node-b", sink_b_);
  connect_visible(b, 7);
  auto text = message_to(7, 5);
  text.pos = 1041;
  a.publish(std::move(text));
  a.publish(notice_to(7, "no position"));
  ASSERT_TRUE(run_until([&] { return sink_b_.got.size() == 2; }));
  EXPECT_EQ(sink_b_.got[0].pos, 1041);
  EXPECT_EQ(sink_b_.got[0].msg, 5);
  EXPECT_EQ(sink_b_.got[1].pos, 0);
}

TEST_P(bus_contract, publish_before_start_and_after_stop_does_nothing) {
  buses_.push_back(factory_->make(io_, "node-a"));
  bus& a = *buses_.back();
  a.publish(message_to(7, 1));
  a.start(sink_a_);
  ASSERT_TRUE(run_until([&] { return factory_->ready(a); }));
  connect_visible(a, 7);
  a.stop();
  a.publish(message_to(7, 2));
  run_for(100ms);
  EXPECT_TRUE(sink_a_.got.empty());
  a.stop();  // idempotent
}

// ---- callbacks ----

TEST_P(bus_contract, visible_runs_exactly_once) {
  bus& a = start_node("node-a", sink_a_);
  int visible = 0;
  a.device_connected(7, [&] { ++visible; });
  ASSERT_TRUE(run_until([&] { return visible > 0; }));
  run_for(100ms);
  EXPECT_EQ(visible, 1);
}

TEST_P(bus_contract, shutdown_calls_done_exactly_once_and_stops_delivery) {
  bus& a = start_node("node-a", sink_a_);
  connect_visible(a, 7);
  int done = 0;
  a.shutdown([&] { ++done; });
  ASSERT_TRUE(run_until([&] { return done > 0; }));
  a.publish(message_to(7, 1));
  run_for(100ms);
  EXPECT_EQ(done, 1);
  EXPECT_TRUE(sink_a_.got.empty());
}

TEST_P(bus_contract, shutdown_after_stop_still_calls_done) {
  bus& a = start_node("node-a", sink_a_);
  a.stop();
  int done = 0;
  a.shutdown([&] { ++done; });
  ASSERT_TRUE(run_until([&] { return done > 0; }));
  run_for(50ms);
  EXPECT_EQ(done, 1);
}

// ---- the registry ----

TEST_P(bus_contract, nodes_lists_itself_with_its_device_count) {
  bus& a = start_node("node-a", sink_a_);
  EXPECT_EQ(a.node_id(), "node-a");
  connect_visible(a, 7);
  connect_visible(a, 7);
  connect_visible(a, 8);
  a.device_disconnected(8);
  run_for(50ms);
  const auto nodes = a.nodes();
  const node_info* self = find_node(nodes, "node-a");
  ASSERT_NE(self, nullptr) << "nodes() does not list the node itself";
  EXPECT_EQ(self->connections, 2);
}

// ---- revocations ----

TEST_P(bus_contract, a_revocation_reaches_the_local_sink_before_publish_returns) {
  bus& a = start_node("node-a", sink_a_);
  a.publish_revocation(sample_revocation());
  ASSERT_EQ(sink_a_.revocations.size(), 1u) << "even with no device connected: later logins must be refused";
  expect_same(sink_a_.revocations[0], sample_revocation());
  run_for(100ms);
  EXPECT_EQ(sink_a_.revocations.size(), 1u) << "once: the node's own publication does not come back";
}

TEST_P(bus_contract, publish_revocation_before_start_and_after_stop_does_nothing) {
  buses_.push_back(factory_->make(io_, "node-a"));
  bus& a = *buses_.back();
  a.publish_revocation(sample_revocation());
  a.start(sink_a_);
  ASSERT_TRUE(run_until([&] { return factory_->ready(a); }));
  a.stop();
  a.publish_revocation(sample_revocation());
  run_for(50ms);
  EXPECT_TRUE(sink_a_.revocations.empty());
}

// ---- across nodes (multi_node_bus_contract: buses that span nodes) ----

TEST_P(multi_node_bus_contract, a_revocation_reaches_every_node_once_the_publisher_first) {
  bus& a = start_node("node-a", sink_a_);
  ASSERT_TRUE(a.spans_nodes());
  bus& b = start_node("node-b", sink_b_);
  // No device anywhere: revocations go to every node, not to those holding the user.
  a.publish_revocation(sample_revocation());
  ASSERT_EQ(sink_a_.revocations.size(), 1u);
  ASSERT_TRUE(run_until([&] { return sink_b_.revocations.size() == 1; }));
  expect_same(sink_b_.revocations[0], sample_revocation());
  b.publish_revocation(revocation{9, {"other"}, 0, {{"other", 5}}});
  ASSERT_EQ(sink_b_.revocations.size(), 2u);
  ASSERT_TRUE(run_until([&] { return sink_a_.revocations.size() == 2; }));
  EXPECT_EQ(sink_a_.revocations[1].user, 9);
  run_for(100ms);
  EXPECT_EQ(sink_a_.revocations.size(), 2u) << "no copy came back to a publishing node";
  EXPECT_EQ(sink_b_.revocations.size(), 2u);
}

TEST_P(multi_node_bus_contract, an_event_reaches_the_node_holding_the_device_once_and_in_order) {
  bus& a = start_node("node-a", sink_a_);
  ASSERT_TRUE(a.spans_nodes());
  bus& b = start_node("node-b", sink_b_);
  connect_visible(b, 7);
  std::vector<message_id> expected;
  for (message_id i = 1; i <= 200; ++i) {
    a.publish(message_to(7, i));
    expected.push_back(i);
    if (i % 50 == 0) run_for(1ms);
  }
  ASSERT_TRUE(run_until([&] { return sink_b_.got.size() >= expected.size(); }));
  run_for(100ms);
  EXPECT_EQ(messages_for(sink_b_, 7), expected);
  EXPECT_TRUE(messages_for(sink_a_, 7).empty()) << "user 7 has no device on node-a";
}

TEST_P(multi_node_bus_contract, a_notice_reaches_every_node_with_a_device_of_the_user) {
  bus& a = start_node("node-a", sink_a_);
  ASSERT_TRUE(a.spans_nodes());
  bus& b = start_node("node-b", sink_b_);
  connect_visible(a, 7);
  connect_visible(b, 7);
  a.publish(notice_to(7, "read"));
  ASSERT_EQ(sink_a_.got.size(), 1u);
  ASSERT_TRUE(run_until([&] { return sink_b_.got.size() == 1; }));
  EXPECT_EQ(*sink_b_.got[0].frame, "read");
  run_for(100ms);
  EXPECT_EQ(sink_a_.got.size(), 1u) << "a second copy came back to the publishing node";
  EXPECT_EQ(sink_b_.got.size(), 1u);
}

TEST_P(multi_node_bus_contract, each_node_lists_the_other) {
  bus& a = start_node("node-a", sink_a_);
  ASSERT_TRUE(a.spans_nodes());
  bus& b = start_node("node-b", sink_b_);
  ASSERT_TRUE(run_until([&] { return find_node(a.nodes(), "node-b") && find_node(b.nodes(), "node-a"); }));
}

}  // namespace chatrix::cluster::testing

namespace chatrix::cluster::testing {

using namespace std::chrono_literals;

namespace {

user_event typing_to(user_id to, const std::string& what) {
  return user_event{to, user_event::kind::ephemeral, 0, 0, std::make_shared<const std::string>(what)};
}

bool same(const std::vector<presence_update>& got, const std::vector<presence_update>& want) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i].user != want[i].user || got[i].online != want[i].online || got[i].at != want[i].at) return false;
  return true;
}

}  // namespace

// ---- presence, user changes, ephemeral events ----

TEST_P(bus_contract, presence_reaches_the_local_sink_before_publish_returns_once) {
  bus& a = start_node("node-a", sink_a_);
  const std::vector<presence_update> updates{{7, true, 1000}, {8, false, 999}};
  a.publish_presence(updates);
  ASSERT_EQ(sink_a_.presence.size(), 1u);
  EXPECT_EQ(sink_a_.presence[0].node, "node-a");
  EXPECT_TRUE(same(sink_a_.presence[0].updates, updates));
  run_for(100ms);
  EXPECT_EQ(sink_a_.presence.size(), 1u) << "the node's own publication came back";
}

TEST_P(bus_contract, a_user_change_reaches_the_local_sink_before_publish_returns_once) {
  bus& a = start_node("node-a", sink_a_);
  a.publish_user_changed(42);
  ASSERT_EQ(sink_a_.changed, std::vector<user_id>{42});
  run_for(100ms);
  EXPECT_EQ(sink_a_.changed.size(), 1u);
}

TEST_P(bus_contract, presence_and_user_changes_before_start_and_after_stop_do_nothing) {
  buses_.push_back(factory_->make(io_, "node-a"));
  bus& a = *buses_.back();
  a.publish_presence({{7, true, 1}});
  a.publish_user_changed(7);
  a.start(sink_a_);
  ASSERT_TRUE(run_until([&] { return factory_->ready(a); }));
  a.stop();
  a.publish_presence({{7, true, 1}});
  a.publish_user_changed(7);
  run_for(50ms);
  EXPECT_TRUE(sink_a_.presence.empty());
  EXPECT_TRUE(sink_a_.changed.empty());
}

TEST_P(bus_contract, an_ephemeral_event_for_a_local_device_is_handed_over_as_ephemeral) {
  bus& a = start_node("node-a", sink_a_);
  connect_visible(a, 7);
  a.publish(typing_to(7, "typing"));
  ASSERT_EQ(sink_a_.got.size(), 1u);
  EXPECT_EQ(sink_a_.got[0].type, user_event::kind::ephemeral);
  EXPECT_EQ(*sink_a_.got[0].frame, "typing");
}

TEST_P(multi_node_bus_contract, presence_reaches_every_other_node_in_order_tagged_with_its_node) {
  bus& a = start_node("node-a", sink_a_);
  bus& b = start_node("node-b", sink_b_);
  // The join's snapshot exchange is over (a answered b's ask) before a publishes: this sink's
  // local_presence() does not follow what it published.
  ASSERT_TRUE(run_until([&] { return sink_a_.local_asked >= 2; }));
  // No device anywhere: presence goes to every node, whoever watches.
  std::vector<presence_update> want;
  for (user_id u = 1; u <= 50; ++u) {
    want.push_back({u, true, 1000 + u});
    a.publish_presence({want.back()});
    if (u % 10 == 0) run_for(1ms);
  }
  want.push_back({3, false, 2000});
  a.publish_presence({want.back()});
  ASSERT_TRUE(run_until([&] { return sink_b_.presence_from("node-a").size() >= want.size(); }));
  run_for(100ms);
  EXPECT_TRUE(same(sink_b_.presence_from("node-a"), want));
  EXPECT_TRUE(sink_b_.presence_from("node-b").empty());
  EXPECT_TRUE(same(sink_a_.presence_from("node-a"), want)) << "the publisher's own sink, once each";
  (void)b;
}

TEST_P(multi_node_bus_contract, a_user_change_reaches_every_node_once) {
  bus& a = start_node("node-a", sink_a_);
  bus& b = start_node("node-b", sink_b_);
  a.publish_user_changed(5);
  b.publish_user_changed(6);
  ASSERT_TRUE(run_until([&] { return sink_a_.changed.size() == 2 && sink_b_.changed.size() == 2; }));
  run_for(100ms);
  EXPECT_EQ(sink_a_.changed, (std::vector<user_id>{5, 6}));
  EXPECT_EQ(sink_b_.changed, (std::vector<user_id>{6, 5}));
}

TEST_P(multi_node_bus_contract, a_joining_node_and_the_others_learn_each_others_online_users) {
  sink_a_.local = {{7, true, 100}, {8, true, 101}};
  bus& a = start_node("node-a", sink_a_);
  sink_b_.local = {{9, true, 200}};
  start_node("node-b", sink_b_);
  ASSERT_TRUE(run_until([&] {
    return sink_b_.presence_from("node-a").size() == 2 && sink_a_.presence_from("node-b").size() == 1;
  }));
  run_for(200ms);
  const auto on_b = sink_b_.presence_from("node-a");
  ASSERT_EQ(on_b.size(), 2u) << "a snapshot already known is no change";
  EXPECT_EQ(on_b[0].user, 7);
  EXPECT_TRUE(on_b[0].online);
  EXPECT_EQ(on_b[0].at, 100);
  EXPECT_EQ(on_b[1].user, 8);
  const auto on_a = sink_a_.presence_from("node-b");
  ASSERT_EQ(on_a.size(), 1u);
  EXPECT_EQ(on_a[0].user, 9);
  EXPECT_TRUE(on_a[0].online);
  EXPECT_TRUE(sink_a_.presence_from("node-a").empty()) << "a node's own snapshot is not handed to itself";
  (void)a;
}

TEST_P(multi_node_bus_contract, a_node_that_leaves_is_gone_for_the_others_once) {
  bus& a = start_node("node-a", sink_a_);
  bus& b = start_node("node-b", sink_b_);
  ASSERT_TRUE(run_until([&] { return find_node(a.nodes(), "node-b") != nullptr; }));
  b.stop();
  ASSERT_TRUE(run_until([&] { return !sink_a_.gone.empty(); }));
  run_for(500ms);
  ASSERT_EQ(sink_a_.gone.size(), 1u);
  EXPECT_EQ(sink_a_.gone[0].first, "node-b");
  EXPECT_GT(sink_a_.gone[0].second, 0);
}

TEST_P(multi_node_bus_contract, an_ephemeral_event_reaches_the_node_holding_the_device_as_ephemeral) {
  bus& a = start_node("node-a", sink_a_);
  bus& b = start_node("node-b", sink_b_);
  connect_visible(b, 7);
  a.publish(typing_to(7, "typing"));
  a.publish(notice_to(7, "read"));
  ASSERT_TRUE(run_until([&] { return sink_b_.got.size() == 2; }));
  EXPECT_EQ(sink_b_.got[0].type, user_event::kind::ephemeral);
  EXPECT_EQ(*sink_b_.got[0].frame, "typing");
  EXPECT_EQ(sink_b_.got[1].type, user_event::kind::notice);
}

}  // namespace chatrix::cluster::testing
