// The cluster bus over Redis: service discovery (node leases), presence (which nodes hold a
// user's devices) and routing of user events to other nodes over one pub/sub channel per node.
#pragma once

#include "cluster/bus.hpp"
#include "cluster/redis/bus_keys.hpp"
#include "cluster/redis/event_codec.hpp"
#include "cluster/redis/node_registry.hpp"
#include "cluster/redis/notice_replay.hpp"
#include "cluster/redis/presence.hpp"
#include "cluster/redis/redis_bus_stats.hpp"
#include "cluster/redis/redis_connection.hpp"
#include "cluster/redis/remote_presence.hpp"
#include "cluster/redis/router.hpp"
#include "core/clock.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace chatrix::metrics {
struct cluster_metrics;
}

namespace chatrix::cluster::redis {

struct redis_bus_options {
  /// REDISADDR, as the configuration parsed it.
  redis_address address;
  /// Empty: 16 random hex digits (a restarted process is a new node).
  std::string node_id;
  /// SERVER_HOST: how other nodes and operators reach this node (shown by GET /cluster).
  std::string advertised_address;
  /// A node (and its presence) that has not renewed for this long is gone.
  std::chrono::milliseconds lease_ttl{10'000};
  /// Renewal period; keep it well under lease_ttl (a few beats per lease).
  std::chrono::milliseconds heartbeat{2'000};
  /// Events waiting for their routing round (queued + in flight). Beyond it, remote routing
  /// of new events is dropped (counted) and the other nodes are told to resync.
  std::size_t max_queued_events = 100'000;
  /// One PUBLISH payload is cut at about this size.
  std::size_t max_payload_bytes = 512 * 1024;
  /// Notices (receipts, read marks, SENT copies) whose routing failed are kept to be sent
  /// again when Redis, or the node they were for, is back: at most this many (the oldest go
  /// first), each for at most `notice_retention`.
  std::size_t max_held_notices = 10'000;
  std::chrono::milliseconds notice_retention{std::chrono::minutes(5)};
  /// stop(): how long the final DEL/ZREM/HDEL may take before the link is closed anyway.
  /// shutdown(): the same bound for routing what is in flight, then again for deregistering.
  std::chrono::milliseconds stop_timeout{1'000};
  /// Prefix of every key and channel, so that several deployments can share one Redis.
  std::string key_prefix = "chatrix:";
  /// Passed to both connections (address and name are set by the bus).
  connection_options connection{};
  /// Where the bus reports publish latency, reconnects, resyncs, the nodes it sees and its
  /// routing queue (nullptr: nowhere). Must outlive the bus; I/O thread only.
  metrics::cluster_metrics* metrics = nullptr;
};

/// Keys (prefix `chatrix:`):
///   node:<id>            hash {address, started_at, connections}, PEXPIRE lease_ttl
///   nodes                zset of node ids scored by lease end (ms); a member whose hash is
///                        gone is dead; members are pruned an hour after their lease ended
///   presence:<user_id>   hash {<node id>: "<device count>:<field lease end, ms>"}, PEXPIRE
///                        lease_ttl; routing ignores (and deletes) fields whose lease ran out
///   node:<id>:events     the node's pub/sub channel (payloads: event_codec.hpp)
///   revocations          the channel every node subscribes to: token revocations, one per
///                        PUBLISH (event_codec.hpp, encode_revocation)
///   broadcast            the other channel every node subscribes to: presence updates and
///                        user changes, batched per turn, and presence snapshots
///                        (event_codec.hpp, decode_broadcast)
///
/// Delivery: publish() hands the event to the local sink at once when the user has devices
/// here, and queues it for remote routing. Once per event-loop turn the queue is routed: one
/// pipelined round of HGETALL presence lookups (distinct users), then one PUBLISH per
/// destination node carrying all its events in order. One connection does both, in FIFO, so
/// per-recipient order holds across nodes. Redis is only the fast path: whenever routing may
/// have lost events (Redis down, a failed round, queue overflow, a subscriber link that
/// dropped, a node that died), the receiving side is made to call sink.resync() once Redis is
/// back. Notices (which the database cannot replay) whose routing failed are kept, bounded,
/// and sent again when Redis, or the node that missed them, is back.
///
/// Revocations: publish_revocation() hands the revocation to the local sink at once and
/// PUBLISHes it on the revocations channel, which every node's subscriber link listens to
/// besides its own; a node skips its own echo. One that cannot be published (Redis down, the
/// PUBLISH failed) marks routing lost, so every other node resyncs once Redis is back, and a
/// node whose own links dropped resyncs when they come back: resync() re-reads the store's
/// revocations. The first sync after start() resyncs too, since revocations published
/// between the node's start-up read of the store and its subscription reached it nowhere.
///
/// Presence and user changes: publish_presence() and publish_user_changed() hand the change
/// to the local sink at once and add it to this turn's broadcast payload, PUBLISHed at the
/// end of the turn on the main link (in order with routing). Other nodes skip nothing but
/// their own echo. After every sync (start-up, and each recovery from a link loss) the node
/// publishes a snapshot of its users (sink.local_presence()) and asks every other node for
/// theirs: a receiver turns a snapshot into the changes it implies (remote_presence), so
/// updates lost while either side was cut off heal. A node that leaves (deregisters, or whose
/// lease runs out) is reported once to the sink as node_gone when the registry read sees it.
/// A user change that cannot be published marks routing lost: the other nodes resync, which
/// drops every cached profile.
///
/// Ephemeral events (typing) are routed like notices, but never held for replay, never a
/// reason to resync when lost, and refused once the routing queue is half full (counted).
///
/// Thread-safety: as bus. Construct, start, call and destroy on the I/O thread of `io` (or
/// before that thread runs); the sink is called on that thread.
class redis_bus final : public bus {
 public:
  /// Connects on start(). Leases, presence fields and notice ages are read from `clk`, which
  /// must outlive the bus; timers run on the executor's steady clock.
  redis_bus(boost::asio::any_io_executor io, redis_bus_options options, const clock& clk);
  redis_bus(boost::asio::io_context& io, redis_bus_options options, const clock& clk)
      : redis_bus(io.get_executor(), std::move(options), clk) {}
  ~redis_bus() override;

  redis_bus(const redis_bus&) = delete;
  redis_bus& operator=(const redis_bus&) = delete;

  void start(event_sink& sink) override;
  void publish(user_event ev) override;
  void publish_revocation(const revocation& r) override;
  void device_connected(user_id id, std::function<void()> visible) override;
  void device_disconnected(user_id id) override;
  void publish_presence(std::vector<presence_update> updates) override;
  void publish_user_changed(user_id id) override;
  /// Deregisters (DEL node, ZREM, HDEL presence) and closes; the final commands are written
  /// while the io_context keeps running, bounded by stop_timeout.
  void stop() override;
  /// Routes the events published so far (waiting up to stop_timeout), then deregisters and
  /// waits for Redis to confirm it (up to stop_timeout again), closes and calls `done`.
  void shutdown(std::function<void()> done) override;
  bool spans_nodes() const noexcept override { return true; }
  std::string node_id() const override { return id_; }
  std::vector<node_info> nodes() const override;

  /// Both links up and this node's presence written: remote routing works both ways.
  bool connected() const noexcept override { return synced_; }
  const redis_bus_stats& stats() const noexcept { return stats_; }

  /// Tests: stop heartbeats and drop both links without deregistering, as if the process had
  /// been killed. The node's lease and presence then expire on their own.
  void simulate_crash_for_testing();

 private:
  void on_main_state(bool up);
  void on_sub_state(bool up);
  /// A link came up: a reconnect when it had been up before.
  void count_link_up(bool& was_up);
  void on_push(std::string payload);
  void on_revocation_push(std::string_view payload);
  void on_broadcast_push(std::string_view payload);
  /// Publishes this node's snapshot (and with `ask`, asks every other node for theirs).
  void publish_snapshot(bool ask);
  /// PUBLISHes the broadcast payloads built this turn. `lossy`: they carry a user change,
  /// whose loss the other nodes must make up for by a resync.
  void publish_broadcast(std::vector<std::string> payloads, bool lossy);
  void on_remote_event(user_event&& ev);
  void on_hello(std::string origin);
  void sync();
  /// The writes of a sync and what follows Redis's confirmation; `gen` is its sync_gen_.
  boost::asio::awaitable<void> sync_round(std::uint64_t gen, std::weak_ptr<char> alive);
  void write_registration();
  void release_visible_waiters();
  void refresh_nodes();
  /// A member, not a lambda: a coroutine lambda's captures die with the lambda object.
  boost::asio::awaitable<void> read_nodes(std::weak_ptr<char> alive);
  void on_nodes_read(const node_registry::read_result& read);
  boost::asio::awaitable<void> heartbeat_loop(std::weak_ptr<char> alive);
  void schedule_flush();
  void flush();
  void request_resync();
  /// Sends `node` the held notices it may have missed, and (with `hello`) asks for its own.
  void replay_to(const std::string& node, bool hello);
  void deregister();
  void maybe_finish_shutdown();
  void finish_shutdown();

  node_info self_info() const;

  boost::asio::any_io_executor io_;
  redis_bus_options options_;
  const clock& clock_;
  std::string id_;
  bus_keys keys_;
  std::string revocations_channel_;
  std::string broadcast_channel_;
  event_sink* sink_ = nullptr;
  bool stopped_ = false;
  unix_ms started_at_ = 0;

  std::shared_ptr<redis_connection> main_;  // commands: registry, presence, PUBLISH
  std::shared_ptr<redis_connection> sub_;   // SUBSCRIBE to our channel only
  boost::asio::steady_timer heartbeat_timer_;
  boost::asio::steady_timer stop_timer_;  // shutdown() and stop(): the stop_timeout bounds
  bool main_up_ = false;
  bool sub_up_ = false;
  bool main_was_up_ = false;  // each link has been up before: coming up again is a reconnect
  bool sub_was_up_ = false;
  bool synced_ = false;        // both up and presence rewritten since the last loss
  bool ever_synced_ = false;
  std::uint64_t sync_gen_ = 0; // invalidates a sync round when a link drops meanwhile

  redis_bus_stats stats_;
  node_registry registry_;
  presence presence_;
  notice_replay replay_;

  router router_;
  bool flush_posted_ = false;  // presence writes and the routing round, once per turn

  broadcast_encoder broadcast_;        // this turn's presence updates and user changes
  bool broadcast_lossy_ = false;       // ... and whether they hold a user change
  remote_presence remote_presence_;    // the other nodes' users, as heard

  // Events from other nodes that arrive before the sync after a link loss: handed over right
  // after the resync it triggers, so that they cannot overtake what was lost.
  std::vector<user_event> early_;

  // After a sync: replay held notices to every live node (and hello them after a loss) once a
  // registry read issued after the sync has come back.
  bool announce_ = false;
  bool announce_hello_ = false;
  std::uint64_t announce_after_ = 0;

  bool draining_ = false;  // shutdown(): waiting for routing in flight
  std::function<void()> shutdown_done_;

  // Posted handlers and timers check it, since they may run after the bus is gone.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace chatrix::cluster::redis
