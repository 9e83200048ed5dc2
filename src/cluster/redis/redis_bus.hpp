// The cluster bus over Redis: service discovery (node leases), presence (which nodes hold a
// user's devices) and routing of user events to other nodes over one pub/sub channel per node.
#pragma once

#include "cluster/bus.hpp"
#include "cluster/redis/redis_connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatrix::cluster::redis {

struct redis_bus_options {
  /// REDISADDR: `host:port` or `redis://[[user]:password@]host[:port][/db]`.
  std::string address;
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
};

/// Counters for metrics and tests; monotonically increasing.
struct redis_bus_stats {
  std::uint64_t published = 0;           // publish() calls
  std::uint64_t delivered_local = 0;     // handed at once to this node's sink
  std::uint64_t routed_remote = 0;       // event copies published to other nodes
  std::uint64_t received_remote = 0;     // events from other nodes handed to the sink
  std::uint64_t dropped_redis_down = 0;  // not routed: Redis unreachable or the round failed
  std::uint64_t dropped_overflow = 0;    // not routed: the queue was full
  std::uint64_t publishes_unheard = 0;   // PUBLISH reached no subscriber (that node is down)
  std::uint64_t resyncs = 0;             // sink.resync() calls
  std::uint64_t resync_signals_sent = 0; // "resync" records sent after we dropped routing
  std::uint64_t decode_errors = 0;
  std::uint64_t node_deaths = 0;         // leases that ran out without deregistering (resync)
  std::uint64_t notices_held = 0;        // notices kept for replay after their routing failed
  std::uint64_t notices_held_dropped = 0;  // ... and dropped again: buffer full or too old
  std::uint64_t notices_replayed = 0;    // replayed notice copies sent
  std::uint64_t replays_received = 0;    // replayed notices handed to the sink (repeats not counted)
  std::uint64_t early_dropped = 0;       // events received before a sync that did not fit the buffer
};

/// Keys (prefix `chatrix:`):
///   node:<id>            hash {address, started_at, connections}, PEXPIRE lease_ttl
///   nodes                zset of node ids scored by lease end (ms); a member whose hash is
///                        gone is dead; members are pruned an hour after their lease ended
///   presence:<user_id>   hash {<node id>: "<device count>:<field lease end, ms>"}, PEXPIRE
///                        lease_ttl; routing ignores (and deletes) fields whose lease ran out
///   node:<id>:events     the node's pub/sub channel (payloads: event_codec.hpp)
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
/// Thread-safety: as bus. Construct, start, call and destroy on the I/O thread of `io` (or
/// before that thread runs); the sink is called on that thread.
class redis_bus final : public bus {
 public:
  /// Throws std::invalid_argument if `options.address` is malformed. Connects on start().
  redis_bus(boost::asio::any_io_executor io, redis_bus_options options);
  redis_bus(boost::asio::io_context& io, redis_bus_options options)
      : redis_bus(io.get_executor(), std::move(options)) {}
  ~redis_bus() override;

  redis_bus(const redis_bus&) = delete;
  redis_bus& operator=(const redis_bus&) = delete;

  void start(event_sink& sink) override;
  void publish(user_event ev) override;
  void device_connected(user_id id, std::function<void()> visible) override;
  void device_disconnected(user_id id) override;
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
  bool connected() const noexcept { return synced_; }
  const redis_bus_stats& stats() const noexcept { return stats_; }

  /// Tests: stop heartbeats and drop both links without deregistering, as if the process had
  /// been killed. The node's lease and presence then expire on their own.
  void simulate_crash_for_testing();

 private:
  struct batch;
  /// A notice whose routing failed, kept for replay.
  struct held_notice {
    std::uint64_t seq = 0;
    std::string node;  // the node that missed it; empty: every node (it was routed nowhere)
    unix_ms at = 0;
    user_event ev;
  };

  void on_main_state(bool up);
  void on_sub_state(bool up);
  void on_push(std::string payload);
  void on_remote_event(user_event&& ev);
  void on_hello(std::string origin);
  void sync();
  void write_registration();
  void write_presence(user_id id, std::int64_t devices);
  void release_visible_waiters();
  void refresh_nodes();
  void schedule_heartbeat();
  void schedule_flush();
  void flush();
  void route(batch& b);
  /// `events`: publishing a batch of events (its notices are held if nobody hears it).
  void publish_payload(const std::string& node, std::string payload, bool events);
  void request_resync();
  void signal_resync();
  void hold_notice(const user_event& ev, std::string node = {});
  void hold_notices(const std::vector<user_event>& events);
  void prune_held(unix_ms now);
  /// Sends `node` the held notices it may have missed, and (with `hello`) asks for its own.
  void replay_to(const std::string& node, bool hello);
  void deregister();
  void maybe_finish_shutdown();
  void finish_shutdown();

  std::string node_key(std::string_view id) const;
  std::string presence_key(user_id id) const;
  std::string channel(std::string_view id) const;
  node_info self_info() const;
  /// The registry (as last read) shows `node` with a lease that ran out / that still runs.
  bool lease_expired(std::string_view node, unix_ms now) const;
  bool node_live(std::string_view node, unix_ms now) const;

  boost::asio::any_io_executor io_;
  redis_bus_options options_;
  redis_address address_;
  std::string id_;
  std::string nodes_key_;
  event_sink* sink_ = nullptr;
  bool stopped_ = false;
  unix_ms started_at_ = 0;

  std::shared_ptr<redis_connection> main_;  // commands: registry, presence, PUBLISH
  std::shared_ptr<redis_connection> sub_;   // SUBSCRIBE to our channel only
  boost::asio::steady_timer heartbeat_timer_;
  bool main_up_ = false;
  bool sub_up_ = false;
  bool synced_ = false;        // both up and presence rewritten since the last loss
  bool ever_synced_ = false;
  std::uint64_t sync_gen_ = 0; // invalidates a sync round when a link drops meanwhile

  std::unordered_map<user_id, std::int64_t> local_;  // devices per user on this node
  std::int64_t connections_ = 0;
  std::unordered_set<user_id> dirty_;  // presence to write at the end of this turn
  std::vector<std::function<void()>> visible_waiters_;  // device_connected callers awaiting their presence

  std::vector<user_event> queue_;  // awaiting this turn's routing round
  std::size_t inflight_events_ = 0;
  bool flush_posted_ = false;
  // We dropped remote routing: tell the other nodes to resync. Until then, routing waits,
  // so that no later event reaches a node before the signal.
  bool outbound_lost_ = false;

  std::vector<node_info> nodes_;  // as of the last refresh
  std::uint64_t refreshes_ = 0;   // registry reads issued

  // Events from other nodes that arrive before the sync after a link loss: handed over right
  // after the resync it triggers, so that they cannot overtake what was lost.
  std::vector<user_event> early_;

  std::deque<held_notice> held_;  // in seq (and time) order
  std::uint64_t next_notice_seq_ = 1;
  std::unordered_map<std::string, std::uint64_t> replays_seen_;  // origin node -> highest seq handed over
  std::unordered_set<std::string> hellos_;  // asked for our held notices before we could answer
  // After a sync: replay held notices to every live node (and hello them after a loss) once a
  // registry read issued after the sync has come back.
  bool announce_ = false;
  bool announce_hello_ = false;
  std::uint64_t announce_after_ = 0;

  bool draining_ = false;  // shutdown(): waiting for routing in flight
  std::function<void()> shutdown_done_;

  redis_bus_stats stats_;
  // Posted handlers and timers check it, since they may run after the bus is gone.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace chatrix::cluster::redis
