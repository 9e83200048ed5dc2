// Two redis_bus "nodes" in one process (one io_context, a fake sink each) on a real Redis:
// cross-node routing in order, presence, discovery with leases, crash and Redis restart,
// notices held through an outage, and shutdown.
#include "cluster/redis/redis_bus.hpp"
#include "metrics/metrics.hpp"

#include "redis_instance.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace chatrix::cluster;
using namespace chatrix::cluster::redis;
using chatrix::test::redis_instance;
using chatrix::test::run_for;
using chatrix::test::run_until;
using namespace std::chrono_literals;
using namespace std::string_literals;

struct fake_sink final : event_sink {
  std::vector<user_event> got;
  std::vector<revocation> revocations;
  int resyncs = 0;
  std::vector<std::pair<std::string, presence_update>> presence;  // (node, update), in order
  std::vector<std::string> gone;
  std::vector<chatrix::user_id> changed;
  std::vector<presence_update> local;  // what local_presence() answers
  void revoked(const revocation& r) override { revocations.push_back(r); }
  void deliver_local(const user_event& ev) override { got.push_back(ev); }
  void presence_changed(const std::string& node, const std::vector<presence_update>& updates) override {
    for (const auto& u : updates) presence.emplace_back(node, u);
  }
  void node_gone(const std::string& node, chatrix::unix_ms) override { gone.push_back(node); }
  std::vector<presence_update> local_presence() override { return local; }
  void user_changed(chatrix::user_id id) override { changed.push_back(id); }
  void resync() override { ++resyncs; }

  /// Whether `user` is online on `node`, as the updates heard so far say.
  bool online(const std::string& node, chatrix::user_id user) const {
    bool on = false;
    for (const auto& [n, u] : presence)
      if (n == node && u.user == user) on = u.online;
    return on;
  }
  bool heard(const std::string& node, chatrix::user_id user) const {
    return std::any_of(presence.begin(), presence.end(), [&](const auto& p) { return p.first == node && p.second.user == user; });
  }
};

user_event typing_to(chatrix::user_id to) {
  return user_event{to, user_event::kind::ephemeral, 0, 0, std::make_shared<const std::string>("typing")};
}

user_event text_to(chatrix::user_id to, chatrix::message_id msg, std::uint64_t skip = 0) {
  return user_event{to, user_event::kind::message, msg, skip,
                    std::make_shared<const std::string>("{\"n\":" + std::to_string(msg) + "}\0\xff"s)};
}

user_event notice_to(chatrix::user_id to, const std::string& what) {
  return user_event{to, user_event::kind::notice, 0, 0, std::make_shared<const std::string>(what)};
}

std::vector<std::string> notices(const fake_sink& s) {
  std::vector<std::string> out;
  for (const auto& ev : s.got)
    if (ev.type == user_event::kind::notice) out.push_back(*ev.frame);
  return out;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class RedisBus : public ::testing::Test {
 protected:
  std::unique_ptr<redis_bus> make(std::string id, std::chrono::milliseconds ttl = 10s,
                                  std::chrono::milliseconds beat = 200ms,
                                  chatrix::metrics::cluster_metrics* metrics = nullptr) {
    redis_bus_options o;
    o.metrics = metrics;
    o.address = redis_.parsed_address();
    o.node_id = std::move(id);
    o.advertised_address = o.node_id + ".example:8080";
    o.lease_ttl = ttl;
    o.heartbeat = beat;
    return std::make_unique<redis_bus>(io_, o, clock_);
  }
  void start_both(std::chrono::milliseconds ttl = 10s) {
    a_ = make("node-a", ttl);
    b_ = make("node-b", ttl);
    a_->start(sa_);
    b_->start(sb_);
    ASSERT_TRUE(run_until(io_, [&] { return a_->connected() && b_->connected(); }));
  }
  /// The device count of `node`'s presence field for `u` ("" when there is none).
  std::string presence(chatrix::user_id u, const std::string& node) {
    const std::string v = redis_.command({"HGET", "chatrix:presence:" + std::to_string(u), node}).str;
    return v.substr(0, v.find(':'));
  }
  // CLIENT KILL of one connection, found by its CLIENT SETNAME.
  void kill_client(const std::string& name) {
    const std::string list = redis_.command({"CLIENT", "LIST"}).str;
    std::size_t pos = 0;
    while (pos < list.size()) {
      auto end = list.find('\n', pos);
      std::string line = list.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? list.size() : end + 1;
      if (line.find(" name=" + name + " ") == std::string::npos) continue;
      auto id = line.substr(3, line.find(' ') - 3);  // "id=N ..."
      ASSERT_EQ(redis_.command({"CLIENT", "KILL", "ID", id}).integer, 1);
      return;
    }
    FAIL() << "no client named " << name << " in " << list;
  }
  bool lists(const redis_bus& bus, const std::string& id) {
    auto n = bus.nodes();
    return std::any_of(n.begin(), n.end(), [&](const node_info& i) { return i.id == id; });
  }

  redis_instance redis_;
  asio::io_context io_;
  const chatrix::system_clock clock_;  // outlives the buses
  fake_sink sa_, sb_;
  chatrix::metrics::cluster_metrics ma_, mb_;  // outlive the buses, which report there until they stop
  std::unique_ptr<redis_bus> a_, b_;
};

TEST_F(RedisBus, RandomNodeId) {
  redis_bus_options o;
  o.address = redis_.parsed_address();
  redis_bus x(io_, o, clock_), y(io_, o, clock_);
  EXPECT_EQ(x.node_id().size(), 16u);
  EXPECT_NE(x.node_id(), y.node_id());
}

TEST_F(RedisBus, StartedThenDestroyedBeforeTheLoopRuns) {
  redis_bus_options o;
  o.address = redis_.parsed_address();
  auto done = std::make_shared<int>(0);
  {
    redis_bus x(io_, o, clock_);
    x.start(sa_);
    x.shutdown([done] { ++*done; });
  }
  run_for(io_, 100ms);  // what start() and shutdown() queued runs after the bus is gone
  EXPECT_EQ(*done, 1) << "shutdown's callback runs once even when the bus is destroyed first";
  EXPECT_TRUE(sa_.got.empty());
}

TEST_F(RedisBus, EventsForAUserOnAnotherNodeArriveInOrder) {
  start_both();
  b_->device_connected(7, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(7, "node-b") == "1"; }));

  // 300 events: some in one turn (one batch), some spread over turns.
  for (int i = 1; i <= 150; ++i) a_->publish(text_to(7, i));
  for (int i = 151; i <= 300; ++i) {
    a_->publish(text_to(7, i));
    if (i % 10 == 0) run_for(io_, 1ms);
  }
  ASSERT_TRUE(run_until(io_, [&] { return sb_.got.size() >= 300; }));
  run_for(io_, 100ms);
  ASSERT_EQ(sb_.got.size(), 300u);
  for (int i = 0; i < 300; ++i) {
    const auto& ev = sb_.got[static_cast<std::size_t>(i)];
    ASSERT_EQ(ev.msg, i + 1);
    EXPECT_EQ(ev.to, 7);
    EXPECT_EQ(ev.type, user_event::kind::message);
    EXPECT_EQ(*ev.frame, "{\"n\":" + std::to_string(i + 1) + "}\0\xff"s);
  }
  EXPECT_TRUE(sa_.got.empty());  // user 7 has no device on A
  EXPECT_EQ(a_->stats().routed_remote, 300u);
  EXPECT_EQ(b_->stats().received_remote, 300u);
}

TEST_F(RedisBus, VisibleCallbackRunsOnlyOncePresenceIsWritten) {
  start_both();
  bool visible = false;
  b_->device_connected(21, [&] { visible = true; });
  EXPECT_FALSE(visible) << "never from inside device_connected";
  ASSERT_TRUE(run_until(io_, [&] { return visible; }));
  // Routable at once: an event published right after the callback reaches B.
  EXPECT_EQ(presence(21, "node-b"), "1");
  a_->publish(text_to(21, 1));
  ASSERT_TRUE(run_until(io_, [&] { return sb_.got.size() == 1; }));
}

TEST_F(RedisBus, LocalAtOnceRemoteToo_SkipDeviceCarried) {
  start_both();
  a_->device_connected(9, {});
  b_->device_connected(9, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(9, "node-a") == "1" && presence(9, "node-b") == "1"; }));

  a_->publish(text_to(9, 1, /*skip=*/1234));
  ASSERT_EQ(sa_.got.size(), 1u);  // synchronously, no Redis round trip
  EXPECT_EQ(sa_.got[0].skip_device, 1234u);
  ASSERT_TRUE(run_until(io_, [&] { return sb_.got.size() == 1; }));
  EXPECT_EQ(sb_.got[0].skip_device, 1234u);  // B's sink skips it (device ids are cluster-unique)
  run_for(io_, 100ms);
  EXPECT_EQ(sa_.got.size(), 1u);  // never a second copy via Redis to ourselves

  // Notices to a user with devices nowhere go nowhere (the database has them).
  a_->publish(user_event{555, user_event::kind::notice, 0, 0, std::make_shared<const std::string>("x")});
  run_for(io_, 100ms);
  EXPECT_EQ(sb_.got.size(), 1u);
}

TEST_F(RedisBus, PresenceCountsAndCleanupOnStop) {
  start_both();
  b_->device_connected(5, {});
  b_->device_connected(5, {});
  b_->device_connected(6, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(5, "node-b") == "2" && presence(6, "node-b") == "1"; }));
  auto ttl = redis_.command({"PTTL", "chatrix:presence:5"}).integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 10000);
  b_->device_disconnected(5);
  b_->device_disconnected(6);
  ASSERT_TRUE(run_until(io_, [&] { return presence(5, "node-b") == "1"; }));
  ASSERT_TRUE(run_until(io_, [&] { return redis_.command({"EXISTS", "chatrix:presence:6"}).integer == 0; }));

  ASSERT_EQ(redis_.command({"EXISTS", "chatrix:node:node-b"}).integer, 1);
  b_->stop();
  ASSERT_TRUE(run_until(io_, [&] { return redis_.command({"EXISTS", "chatrix:presence:5"}).integer == 0; }));
  EXPECT_EQ(redis_.command({"EXISTS", "chatrix:node:node-b"}).integer, 0);
  EXPECT_TRUE(redis_.command({"ZSCORE", "chatrix:nodes", "node-b"}).is_nil());
  b_->stop();  // idempotent
}

TEST_F(RedisBus, NodesListsBothThenOneAfterStop) {
  start_both();
  b_->device_connected(1, {});
  ASSERT_TRUE(run_until(io_, [&] { return lists(*a_, "node-b") && lists(*b_, "node-a"); }));
  auto n = a_->nodes();
  ASSERT_EQ(n.size(), 2u);
  for (const auto& i : n) {
    EXPECT_EQ(i.address, i.id + ".example:8080");
    EXPECT_GT(i.started_at, 0);
    EXPECT_GT(i.expires_at, i.started_at);
  }
  ASSERT_TRUE(run_until(io_, [&] {
    auto l = a_->nodes();
    auto it = std::find_if(l.begin(), l.end(), [](const node_info& i) { return i.id == "node-b"; });
    return it != l.end() && it->connections == 1;
  }));
  const int resyncs_before = sa_.resyncs;
  b_->stop();
  ASSERT_TRUE(run_until(io_, [&] { return !lists(*a_, "node-b"); }, 2s));
  EXPECT_EQ(a_->nodes().size(), 1u);
  EXPECT_EQ(a_->nodes()[0].id, "node-a");
  run_for(io_, 500ms);
  EXPECT_EQ(sa_.resyncs, resyncs_before) << "a clean stop is not a death: no resync";
  EXPECT_EQ(a_->stats().node_deaths, 0u);
}

TEST_F(RedisBus, PresenceFieldsCarryTheirOwnLease) {
  start_both();
  a_->device_connected(3, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(3, "node-a") == "1"; }));
  const std::string key = "chatrix:presence:3";
  const std::string value = redis_.command({"HGET", key, "node-a"}).str;
  const auto colon = value.find(':');
  ASSERT_NE(colon, std::string::npos) << value;
  const auto lease_end = std::stoll(value.substr(colon + 1));
  EXPECT_GT(lease_end, now_ms());
  EXPECT_LE(lease_end, now_ms() + 10'000);

  // Fields of nodes the registry has never listed (a crash long ago: its registry entry
  // pruned, or forgotten by a Redis restart), kept in the hash by A renewing the key: an
  // expired one is ignored and deleted, a fresh one (a node not yet seen: it may be new) is
  // routed to.
  redis_.command({"HSET", key, "node-x", "1:" + std::to_string(now_ms() - 1000)});
  redis_.command({"HSET", key, "node-y", "1:" + std::to_string(now_ms() + 10'000)});
  const auto routed = b_->stats().routed_remote;
  b_->publish(text_to(3, 1));
  ASSERT_TRUE(run_until(io_, [&] { return redis_.command({"HEXISTS", key, "node-x"}).integer == 0; }));
  ASSERT_TRUE(run_until(io_, [&] { return sa_.got.size() == 1; }));
  run_for(io_, 100ms);
  EXPECT_EQ(b_->stats().routed_remote, routed + 2);  // node-a and node-y, not node-x
  EXPECT_EQ(redis_.command({"HEXISTS", key, "node-y"}).integer, 1);
}

TEST_F(RedisBus, LeasesAreReadFromTheInjectedClock) {
  struct fixed_clock final : chatrix::clock {
    std::chrono::system_clock::time_point at;
    std::chrono::system_clock::time_point now() const override { return at; }
  } clk;
  clk.at = std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms()));
  const auto t = clk.now_ms();
  redis_bus_options o;
  o.address = redis_.parsed_address();
  o.node_id = "node-a";
  o.lease_ttl = 10s;
  a_ = std::make_unique<redis_bus>(io_, o, clk);
  a_->start(sa_);
  ASSERT_TRUE(run_until(io_, [&] { return a_->connected(); }));
  a_->device_connected(3, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(3, "node-a") == "1"; }));
  EXPECT_EQ(redis_.command({"HGET", "chatrix:presence:3", "node-a"}).str, "1:" + std::to_string(t + 10'000));
  EXPECT_EQ(redis_.command({"ZSCORE", "chatrix:nodes", "node-a"}).str, std::to_string(t + 10'000));
  ASSERT_EQ(a_->nodes().size(), 1u);
  EXPECT_EQ(a_->nodes()[0].started_at, t);
}

TEST_F(RedisBus, CrashedNodeDropsOutWithinTheLease) {
  start_both(1s);
  b_->device_connected(3, {});
  ASSERT_TRUE(run_until(io_, [&] { return lists(*a_, "node-b") && presence(3, "node-b") == "1"; }));
  a_->device_connected(3, {});  // A keeps refreshing user 3's key; B's field must still stop counting
  run_for(io_, 100ms);

  const int resyncs_before = sa_.resyncs;
  b_->simulate_crash_for_testing();
  // Waits for the event itself (A's view drops B once B's 1 s lease has run out and a beat
  // has read it); the deadline only bounds a failing run.
  ASSERT_TRUE(run_until(io_, [&] { return !lists(*a_, "node-b"); }, 3s));
  ASSERT_TRUE(run_until(io_, [&] { return redis_.command({"EXISTS", "chatrix:node:node-b"}).integer == 0; }, 2s));
  run_for(io_, 300ms);  // a beat: A's refresh sees B's lease gone for good
  // B may have stored messages it never routed: A re-checks the database for its devices.
  ASSERT_TRUE(run_until(io_, [&] { return sa_.resyncs > resyncs_before; }, 2s));
  EXPECT_EQ(a_->stats().node_deaths, 1u);

  const auto routed = a_->stats().routed_remote;
  a_->publish(text_to(3, 1));
  ASSERT_EQ(sa_.got.size(), 1u);
  run_for(io_, 300ms);
  EXPECT_EQ(a_->stats().routed_remote, routed);  // nothing sent to the dead node
  // ...and its stale presence field was cleaned up on the way.
  EXPECT_TRUE(redis_.command({"HGET", "chatrix:presence:3", "node-b"}).is_nil());
}

// A revocation published before the node subscribed reached it nowhere, and the sink's
// start-up read of the store may be older than it: the first sync resyncs, even with no device.
TEST_F(RedisBus, FirstSyncResyncsSoThatRevocationsAreReadAgain) {
  a_ = make("node-a");
  a_->start(sa_);
  ASSERT_TRUE(run_until(io_, [&] { return a_->connected(); }));
  EXPECT_EQ(sa_.resyncs, 1);
}

// The publisher's link is down: its own sink has the revocation at once, and every other
// node, which could not hear it, resyncs (re-reading the store) once the publisher is back.
TEST_F(RedisBus, RevocationPublishedWithoutRedisMakesTheOtherNodesResync) {
  start_both();
  const int resyncs_before = sb_.resyncs;
  kill_client("chatrix-node-a");
  ASSERT_TRUE(run_until(io_, [&] { return !a_->connected(); }, 5s));
  a_->publish_revocation(revocation{7, {"jti-1"}, 0, {{"jti-1", now_ms() + 60'000}}});
  ASSERT_EQ(sa_.revocations.size(), 1u);

  ASSERT_TRUE(run_until(io_, [&] { return sb_.resyncs > resyncs_before; }, 5s));
  EXPECT_TRUE(sb_.revocations.empty()) << "never published";
  EXPECT_GE(a_->stats().resync_signals_sent, 1u);

  // Back to normal: the next one is heard.
  a_->publish_revocation(revocation{7, {"jti-2"}, 0, {}});
  ASSERT_TRUE(run_until(io_, [&] { return sb_.revocations.size() == 1; }));
  EXPECT_EQ(sb_.revocations[0].jtis, std::vector<std::string>{"jti-2"});
  EXPECT_EQ(b_->stats().revocations_received, 1u);
}

TEST_F(RedisBus, RedisKilledAndRestarted_ReconnectAndResync) {
  start_both();
  b_->device_connected(7, {});
  a_->device_connected(8, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(7, "node-b") == "1"; }));
  const int resyncs_before = sb_.resyncs;

  redis_.kill();
  ASSERT_TRUE(run_until(io_, [&] { return !a_->connected() && !b_->connected(); }, 5s));
  a_->publish(text_to(7, 1));  // lost for now: the database will have it
  a_->publish(text_to(8, 2));  // local: still delivered at once
  EXPECT_EQ(sa_.got.size(), 1u);
  EXPECT_GE(a_->stats().dropped_redis_down, 1u);

  redis_.start();  // empty: presence and registry are gone until the nodes rewrite them
  ASSERT_TRUE(run_until(io_, [&] { return a_->connected() && b_->connected(); }, 15s));
  ASSERT_TRUE(run_until(io_, [&] { return sb_.resyncs > resyncs_before; }, 2s));
  EXPECT_EQ(presence(7, "node-b"), "1");  // rewritten before the resync

  a_->publish(text_to(7, 3));
  ASSERT_TRUE(run_until(io_, [&] { return !sb_.got.empty(); }));
  EXPECT_EQ(sb_.got.size(), 1u);  // the event published while Redis was down is left to resync
  EXPECT_EQ(sb_.got.back().msg, 3);
  ASSERT_TRUE(run_until(io_, [&] { return lists(*a_, "node-b") && lists(*b_, "node-a"); }));
}

TEST_F(RedisBus, MetricsFollowPublishesNodesReconnectsAndResyncs) {
  a_ = make("node-a", 10s, 200ms, &ma_);
  b_ = make("node-b", 10s, 200ms, &mb_);
  a_->start(sa_);
  b_->start(sb_);
  ASSERT_TRUE(run_until(io_, [&] { return a_->connected() && b_->connected(); }));
  b_->device_connected(7, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(7, "node-b") == "1"; }));
  ASSERT_TRUE(run_until(io_, [&] { return ma_.nodes.load() == 2 && mb_.nodes.load() == 2; }));
  EXPECT_EQ(ma_.resyncs.load(), 1u);  // the first sync
  EXPECT_EQ(ma_.reconnects.load(), 0u);

  a_->publish(text_to(7, 1));
  ASSERT_TRUE(run_until(io_, [&] { return !sb_.got.empty(); }));
  ASSERT_TRUE(run_until(io_, [&] { return ma_.publish_seconds.read().count() >= 1; }));
  EXPECT_GT(ma_.publish_seconds.read().sum, 0u);
  EXPECT_EQ(ma_.queued_events.load(), 0);
  EXPECT_EQ(mb_.publish_seconds.read().count(), 0u) << "b published nothing";

  kill_client("chatrix-node-b");  // b's command link: it reconnects, and resyncs after the loss
  ASSERT_TRUE(run_until(io_, [&] { return mb_.reconnects.load() == 1 && b_->connected(); }, 10s));
  ASSERT_TRUE(run_until(io_, [&] { return mb_.resyncs.load() == 2; }, 5s));
  EXPECT_EQ(b_->stats().reconnects, 1u);
  EXPECT_EQ(ma_.reconnects.load(), 0u);
}

TEST_F(RedisBus, PresenceChangesDuringALinkLossAreWrittenAfterIt) {
  start_both();
  b_->device_connected(11, {});
  b_->device_connected(12, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(12, "node-b") == "1"; }));
  a_->device_connected(12, {});  // A keeps user 12's key alive, so only an HDEL can clear B's field
  kill_client("chatrix-node-b-sub");
  ASSERT_TRUE(run_until(io_, [&] { return !b_->connected(); }, 2s));  // reconnects ~100 ms later
  b_->device_disconnected(12);  // while B is not synced
  b_->device_connected(13, {});
  ASSERT_TRUE(run_until(io_, [&] { return b_->connected(); }, 5s));
  ASSERT_TRUE(run_until(io_, [&] { return presence(13, "node-b") == "1"; }));
  ASSERT_TRUE(run_until(io_, [&] { return redis_.command({"HGET", "chatrix:presence:12", "node-b"}).is_nil(); }));
  EXPECT_EQ(presence(11, "node-b"), "1");
  EXPECT_EQ(presence(12, "node-a"), "1");
}

TEST_F(RedisBus, SenderLinkLossMakesTheReceiverResync) {
  start_both();
  b_->device_connected(7, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(7, "node-b") == "1" && lists(*a_, "node-b"); }));
  run_for(io_, 50ms);
  const int resyncs_before = sb_.resyncs;

  // Only A's command link dies (as if Redis had cut it); B's links are untouched.
  kill_client("chatrix-node-a");
  a_->publish(text_to(7, 1));  // its routing round fails: B would never hear of it
  ASSERT_TRUE(run_until(io_, [&] { return a_->stats().dropped_redis_down >= 1; }, 2s));
  ASSERT_TRUE(run_until(io_, [&] { return a_->connected(); }, 5s));
  // Back on Redis, A tells every live node to re-check the database.
  ASSERT_TRUE(run_until(io_, [&] { return sb_.resyncs > resyncs_before; }, 3s));
  EXPECT_GE(a_->stats().resync_signals_sent, 1u);
  EXPECT_TRUE(sb_.got.empty());
  EXPECT_EQ(b_->stats().received_remote, 0u);

  a_->publish(text_to(7, 2));
  ASSERT_TRUE(run_until(io_, [&] { return sb_.got.size() == 1; }));
  EXPECT_EQ(sb_.got[0].msg, 2);
}

TEST_F(RedisBus, NoticesDroppedDuringAnOutageAreReplayedOnceAfterIt) {
  start_both();
  b_->device_connected(7, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(7, "node-b") == "1" && lists(*a_, "node-b"); }));

  redis_.kill();
  ASSERT_TRUE(run_until(io_, [&] { return !a_->connected() && !b_->connected(); }, 5s));
  a_->publish(notice_to(7, "receipt 1"));
  a_->publish(text_to(7, 2));  // a message: left to the resync (the database has it)
  a_->publish(notice_to(7, "read 1"));
  EXPECT_EQ(a_->stats().notices_held, 2u);

  redis_.start();  // empty
  ASSERT_TRUE(run_until(io_, [&] { return notices(sb_).size() >= 2; }, 15s));
  EXPECT_EQ(notices(sb_), (std::vector<std::string>{"receipt 1", "read 1"}));
  EXPECT_EQ(sb_.got.size(), 2u);  // not the message

  // B loses its subscription: back, it says hello and A replays its held notices again; B
  // drops what it has seen.
  run_for(io_, 500ms);  // the replays after the outage (each node's hello) are over
  const auto replayed = a_->stats().notices_replayed;
  kill_client("chatrix-node-b-sub");
  ASSERT_TRUE(run_until(io_, [&] { return !b_->connected(); }, 2s));
  ASSERT_TRUE(run_until(io_, [&] { return a_->stats().notices_replayed > replayed; }, 5s));
  run_for(io_, 200ms);
  EXPECT_EQ(notices(sb_).size(), 2u) << "a replayed notice was handed over twice";
}

TEST_F(RedisBus, NoticesANodeDidNotHearAreReplayedOnItsHello) {
  start_both();
  b_->device_connected(7, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(7, "node-b") == "1" && lists(*a_, "node-b"); }));

  // B's subscription drops; its presence stays, so A routes to it, and nobody hears it.
  kill_client("chatrix-node-b-sub");
  ASSERT_TRUE(run_until(io_, [&] { return !b_->connected(); }, 2s));
  a_->publish(notice_to(7, "receipt 1"));
  ASSERT_TRUE(run_until(io_, [&] { return a_->stats().publishes_unheard >= 1; }, 2s));
  EXPECT_EQ(a_->stats().notices_held, 1u);

  ASSERT_TRUE(run_until(io_, [&] { return notices(sb_).size() == 1; }, 5s));
  EXPECT_EQ(notices(sb_)[0], "receipt 1");
  EXPECT_GE(b_->stats().replays_received, 1u);
}

TEST_F(RedisBus, HeldNoticesAreBounded) {
  redis_bus_options o;
  o.address = redis_.parsed_address();
  o.node_id = "node-a";
  o.max_held_notices = 3;
  a_ = std::make_unique<redis_bus>(io_, o, clock_);
  a_->start(sa_);
  ASSERT_TRUE(run_until(io_, [&] { return a_->connected(); }));
  redis_.kill();
  ASSERT_TRUE(run_until(io_, [&] { return !a_->connected(); }, 5s));
  for (int i = 0; i < 5; ++i) a_->publish(notice_to(7, std::to_string(i)));
  EXPECT_EQ(a_->stats().notices_held, 5u);
  EXPECT_EQ(a_->stats().notices_held_dropped, 2u);  // the oldest two
  redis_.start();
}

TEST_F(RedisBus, ShutdownRoutesWhatWasPublishedThenDeregisters) {
  start_both();
  b_->device_connected(7, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(7, "node-b") == "1"; }));
  for (int i = 1; i <= 200; ++i) a_->publish(text_to(7, i));
  bool done = false;
  a_->shutdown([&] { done = true; });  // in the same turn: nothing has been routed yet
  ASSERT_TRUE(run_until(io_, [&] { return done; }, 3s));
  ASSERT_TRUE(run_until(io_, [&] { return sb_.got.size() == 200; }, 2s));
  EXPECT_EQ(sb_.got.back().msg, 200);
  EXPECT_EQ(redis_.command({"EXISTS", "chatrix:node:node-a"}).integer, 0);
  EXPECT_TRUE(redis_.command({"ZSCORE", "chatrix:nodes", "node-a"}).is_nil());
  a_->stop();  // idempotent after shutdown
}

TEST_F(RedisBus, ThroughputSmoke_BatchedRoutingKeepsOrder) {
  start_both();
  for (chatrix::user_id u = 100; u < 150; ++u) b_->device_connected(u, {});
  ASSERT_TRUE(run_until(io_, [&] { return presence(149, "node-b") == "1"; }));
  constexpr int total = 50000;
  const auto t0 = std::chrono::steady_clock::now();
  int sent = 0;
  // 500 events per turn to 50 users, like a busy node.
  while (sent < total) {
    for (int i = 0; i < 500; ++i, ++sent) a_->publish(text_to(100 + sent % 50, sent + 1));
    run_for(io_, 1ms);
  }
  ASSERT_TRUE(run_until(io_, [&] { return sb_.got.size() == static_cast<std::size_t>(total); }, 30s));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ info     ] %d events A->B in %.2f s (%.0f/s)\n", total, secs, total / secs);
  std::vector<chatrix::message_id> last(50, 0);
  for (const auto& ev : sb_.got) {
    auto& l = last[static_cast<std::size_t>(ev.to - 100)];
    ASSERT_GT(ev.msg, l);  // per-recipient order
    l = ev.msg;
  }
  EXPECT_EQ(a_->stats().dropped_overflow, 0u);
}

}  // namespace

// ---- presence, user changes and ephemeral events ----

namespace {

TEST_F(RedisBus, CrashedNodeIsGoneForTheOthersOnceItsLeaseRunsOut) {
  start_both(1s);
  ASSERT_TRUE(run_until(io_, [&] { return lists(*a_, "node-b"); }));
  b_->simulate_crash_for_testing();
  ASSERT_TRUE(run_until(io_, [&] { return !sa_.gone.empty(); }, 5s));
  run_for(io_, 600ms);  // several beats: the dead node is reported once
  EXPECT_EQ(sa_.gone, std::vector<std::string>{"node-b"});
  EXPECT_EQ(a_->stats().nodes_gone, 1u);
}

// Node a loses its link: the offline it publishes meanwhile reaches nobody, and neither does
// a user who came online then. Its snapshot after the link is back tells node b both.
TEST_F(RedisBus, PresencePublishedDuringTheSendersLinkLossHealsWithItsSnapshot) {
  start_both();
  a_->publish_presence({{7, true, 100}});
  ASSERT_TRUE(run_until(io_, [&] { return sb_.online("node-a", 7); }));
  kill_client("chatrix-node-a");
  ASSERT_TRUE(run_until(io_, [&] { return !a_->connected(); }, 5s));
  a_->publish_presence({{7, false, 200}, {8, true, 201}});
  sa_.local = {{8, true, 201}};
  ASSERT_TRUE(run_until(io_, [&] { return a_->connected(); }, 5s));
  ASSERT_TRUE(run_until(io_, [&] { return !sb_.online("node-a", 7) && sb_.online("node-a", 8); }));
  EXPECT_GE(a_->stats().snapshots_sent, 2u);
}

// Node b's subscription drops while a publishes: b asks for snapshots when it is back.
TEST_F(RedisBus, PresenceMissedByTheReceiverHealsWhenItAsksForSnapshots) {
  start_both();
  a_->publish_presence({{7, true, 100}});
  sa_.local = {{7, true, 100}};
  ASSERT_TRUE(run_until(io_, [&] { return sb_.online("node-a", 7); }));
  kill_client("chatrix-node-b-sub");
  ASSERT_TRUE(run_until(io_, [&] { return !b_->connected(); }, 5s));
  a_->publish_presence({{7, false, 200}});
  sa_.local.clear();
  ASSERT_TRUE(run_until(io_, [&] { return b_->connected(); }, 5s));
  ASSERT_TRUE(run_until(io_, [&] { return !sb_.online("node-a", 7); }));
}

TEST_F(RedisBus, UserChangePublishedWithoutRedisMakesTheOtherNodesResync) {
  start_both();
  const int resyncs_before = sb_.resyncs;
  kill_client("chatrix-node-a");
  ASSERT_TRUE(run_until(io_, [&] { return !a_->connected(); }, 5s));
  a_->publish_user_changed(7);
  EXPECT_EQ(sa_.changed, std::vector<chatrix::user_id>{7});
  ASSERT_TRUE(run_until(io_, [&] { return sb_.resyncs > resyncs_before; }, 5s));
  EXPECT_TRUE(sb_.changed.empty()) << "never published; the resync drops every cached profile instead";
}

TEST_F(RedisBus, EphemeralEventsAreDroppedFirstOnceTheQueueIsHalfFull) {
  redis_bus_options o;
  o.address = redis_.parsed_address();
  o.node_id = "node-a";
  o.heartbeat = 200ms;
  o.max_queued_events = 4;
  o.metrics = &ma_;
  a_ = std::make_unique<redis_bus>(io_, o, clock_);
  b_ = make("node-b");
  a_->start(sa_);
  b_->start(sb_);
  ASSERT_TRUE(run_until(io_, [&] { return a_->connected() && b_->connected(); }));
  bool visible = false;
  b_->device_connected(7, [&] { visible = true; });
  ASSERT_TRUE(run_until(io_, [&] { return visible; }));
  ASSERT_TRUE(run_until(io_, [&] { return lists(*a_, "node-b"); }));
  const int resyncs_before = sb_.resyncs;

  // One turn: two notices fill half the queue; the typing event is refused, the notice after
  // it still fits.
  a_->publish(typing_to(7));
  a_->publish(notice_to(7, "n1"));
  a_->publish(notice_to(7, "n2"));
  a_->publish(typing_to(7));
  a_->publish(notice_to(7, "n3"));
  EXPECT_EQ(a_->stats().ephemeral_dropped, 1u);
  EXPECT_EQ(ma_.ephemeral_dropped.load(), 1u);
  EXPECT_EQ(a_->stats().dropped_overflow, 0u);
  ASSERT_TRUE(run_until(io_, [&] { return sb_.got.size() == 4; }));
  EXPECT_EQ(sb_.got[0].type, user_event::kind::ephemeral);
  EXPECT_EQ(notices(sb_), (std::vector<std::string>{"n1", "n2", "n3"}));
  run_for(io_, 500ms);
  EXPECT_EQ(sb_.resyncs, resyncs_before) << "a dropped typing event is no reason to resync";
}

TEST_F(RedisBus, EphemeralEventsLostWithoutRedisAreNeitherHeldNorAReasonToResync) {
  start_both();
  bool visible = false;
  b_->device_connected(7, [&] { visible = true; });
  ASSERT_TRUE(run_until(io_, [&] { return visible; }));
  const int resyncs_before = sb_.resyncs;
  kill_client("chatrix-node-a");
  ASSERT_TRUE(run_until(io_, [&] { return !a_->connected(); }, 5s));
  a_->publish(typing_to(7));
  EXPECT_EQ(a_->stats().ephemeral_dropped, 1u);
  EXPECT_EQ(a_->stats().notices_held, 0u);
  ASSERT_TRUE(run_until(io_, [&] { return a_->connected(); }, 5s));
  a_->publish(notice_to(7, "after"));
  ASSERT_TRUE(run_until(io_, [&] { return !sb_.got.empty(); }));
  run_for(io_, 500ms);
  EXPECT_EQ(notices(sb_), std::vector<std::string>{"after"});
  EXPECT_EQ(sb_.resyncs, resyncs_before);
  EXPECT_EQ(a_->stats().resync_signals_sent, 0u);
}

}  // namespace

namespace {

TEST_F(RedisBus, MalformedBroadcastResyncsAndOwnEchoIsSkipped) {
  start_both();
  const int resyncs_before = sb_.resyncs;
  redis_.command({"PUBLISH", "chatrix:broadcast", "\x01garbage"});
  ASSERT_TRUE(run_until(io_, [&] { return sb_.resyncs > resyncs_before; }));
  EXPECT_GE(b_->stats().decode_errors, 1u);
  // A payload claiming to come from node b is b's own echo: b skips it, a takes it.
  broadcast_encoder enc("node-b", 1024);
  enc.user_changed(77);
  redis_.command({"PUBLISH", "chatrix:broadcast", enc.take().at(0)});
  ASSERT_TRUE(run_until(io_, [&] { return !sa_.changed.empty(); }));
  run_for(io_, 100ms);
  EXPECT_EQ(sa_.changed, std::vector<chatrix::user_id>{77});
  EXPECT_TRUE(sb_.changed.empty());
}

}  // namespace
