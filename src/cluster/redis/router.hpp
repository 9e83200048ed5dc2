// Remote routing of user events: the events queued this turn, the round that routes them
// (one pipelined presence lookup per distinct recipient, then one PUBLISH per destination
// node), and the state after routing was dropped.
#pragma once

#include "cluster/bus.hpp"
#include "cluster/redis/bus_keys.hpp"
#include "cluster/redis/node_registry.hpp"
#include "cluster/redis/notice_replay.hpp"
#include "cluster/redis/redis_bus_stats.hpp"
#include "cluster/redis/redis_connection.hpp"
#include "core/clock.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chatrix::metrics {
struct cluster_metrics;
}

namespace chatrix::cluster::redis {

/// Thread-safety: none (the bus's I/O thread).
class router {
 public:
  struct limits {
    std::size_t max_queued_events = 100'000;  // queued + in flight
    std::size_t max_payload_bytes = 512 * 1024;
  };

  /// Rounds run as coroutines on `io`, the executor of the connection they are given.
  /// `metrics` (may be nullptr): publish latency and the queue's depth.
  router(boost::asio::any_io_executor io, const bus_keys& keys, std::string node_id, limits lim,
         const node_registry& registry, notice_replay& replay, redis_bus_stats& stats, const clock& clk,
         metrics::cluster_metrics* metrics = nullptr)
      : io_(std::move(io)), keys_(keys), node_id_(std::move(node_id)), limits_(lim), registry_(registry),
        replay_(replay), stats_(stats), clock_(clk), metrics_(metrics) {}

  /// Queues `ev` for the next round. False when the queue is full: the event is dropped
  /// (counted, its notice held) and routing is marked lost; an ephemeral event is dropped
  /// (counted only) once the queue is half full.
  bool enqueue(user_event ev);
  /// Drops `ev` unrouted because Redis is down: counted, its notice held, routing marked lost
  /// (an ephemeral event: counted only).
  void drop(const user_event& ev);
  /// Drops what is queued, as drop() does.
  void drop_queued();
  /// Something other than an event (a revocation) could not be published: routing is marked
  /// lost, so every other node is told to resync (and re-read the store) once Redis is back.
  void mark_lost() noexcept { lost_ = true; }
  void clear() {
    queue_.clear();
    note_queued();
  }
  bool has_queued() const noexcept { return !queue_.empty(); }
  /// Nothing queued and no round in flight.
  bool idle() const noexcept { return queue_.empty() && inflight_events_ == 0; }
  /// Routing was dropped since the last signal_resync().
  bool lost() const noexcept { return lost_; }

  /// Starts a round for the queued events; false when there is none to start (nothing
  /// queued, or routing was lost and not `draining`: later events wait for the resync
  /// signal, so that no node gets them before it knows to re-check the database).
  /// When the round ends, `link_up()` says whether to publish, and `round_over` runs. Called
  /// on the I/O thread, it has written the round's lookups by the time it returns.
  bool route_queued(redis_connection& conn, bool draining, std::function<bool()> link_up,
                    std::function<void()> round_over);
  /// Tells every other live node (as last read) to re-check the database, and clears lost().
  void signal_resync(redis_connection& conn);
  /// Publishes `payload` to `node`. `events`: a batch of events, whose notices are held if
  /// nobody hears it. `lossy`: a failed PUBLISH marks routing lost (not for a payload of
  /// ephemeral events only).
  void publish(redis_connection& conn, const std::string& node, std::string payload, bool events,
               bool lossy = true);

 private:
  using destinations = std::unordered_map<user_id, std::vector<std::string>>;  // user -> other nodes

  /// A member, not a lambda: a coroutine lambda's captures die with the lambda object.
  boost::asio::awaitable<void> route_round(redis_connection& conn, std::vector<user_event> events,
                                           std::function<bool()> link_up, std::function<void()> round_over);
  /// Reads one HGETALL presence reply into `dest`, deleting the fields of crashed nodes.
  void read_presence(redis_connection& conn, user_id user, const reply& r, unix_ms now,
                     std::vector<std::string>& dest);
  void publish_events(redis_connection& conn, const std::vector<user_event>& events, const destinations& where);
  /// chatrix_queue_depth{queue="bus_events"}: queued plus in flight, what max_queued_events bounds.
  void note_queued() noexcept;
  void drop_ephemeral() noexcept;

  boost::asio::any_io_executor io_;
  const bus_keys& keys_;
  std::string node_id_;
  limits limits_;
  const node_registry& registry_;
  notice_replay& replay_;
  redis_bus_stats& stats_;
  const clock& clock_;
  metrics::cluster_metrics* metrics_;
  std::vector<user_event> queue_;  // awaiting this turn's round
  std::size_t inflight_events_ = 0;
  // We dropped remote routing: the other nodes must be told to resync. Until then, routing
  // waits, so that no later event reaches a node before the signal.
  bool lost_ = false;
};

}  // namespace chatrix::cluster::redis
