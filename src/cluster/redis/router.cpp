// router: the per-turn routing round (one coroutine per round) and the resync signal after
// routing was dropped.
#include "cluster/redis/router.hpp"

#include "cluster/redis/event_codec.hpp"
#include "cluster/redis/presence.hpp"
#include "cluster/redis/redis_command.hpp"
#include "core/spawn.hpp"
#include "metrics/metrics.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <memory>
#include <utility>

namespace chatrix::cluster::redis {

namespace asio = boost::asio;
using boost::system::error_code;

bool router::enqueue(user_event ev) {
  // Ephemeral events go first under load: the second half of the queue is kept for events
  // whose loss costs a resync.
  if (ev.type == user_event::kind::ephemeral && queue_.size() + inflight_events_ >= limits_.max_queued_events / 2) {
    drop_ephemeral();
    return false;
  }
  if (queue_.size() + inflight_events_ >= limits_.max_queued_events) {
    ++stats_.dropped_overflow;
    lost_ = true;
    replay_.hold(ev, {}, clock_.now_ms());
    return false;
  }
  queue_.push_back(std::move(ev));
  note_queued();
  return true;
}

void router::note_queued() noexcept {
  if (metrics_)
    metrics_->queued_events.store(static_cast<std::int64_t>(queue_.size() + inflight_events_), std::memory_order_relaxed);
}

void router::drop_ephemeral() noexcept {
  ++stats_.ephemeral_dropped;
  if (metrics_) metrics::server_metrics::add(metrics_->ephemeral_dropped);
}

void router::drop(const user_event& ev) {
  if (ev.type == user_event::kind::ephemeral) {
    drop_ephemeral();
    return;
  }
  ++stats_.dropped_redis_down;
  lost_ = true;
  replay_.hold(ev, {}, clock_.now_ms());
}

void router::drop_queued() {
  for (const auto& ev : queue_) drop(ev);
  queue_.clear();
  note_queued();
}

bool router::route_queued(redis_connection& conn, bool draining, std::function<bool()> link_up,
                          std::function<void()> round_over) {
  if (queue_.empty() || (lost_ && !draining)) return false;
  auto events = std::move(queue_);
  queue_.clear();
  inflight_events_ += events.size();
  // co_spawn dispatches: on the I/O thread the round runs at once up to its first co_await,
  // so its lookups are written now, behind what this turn sent before them and ahead of
  // what it sends after, as when they were sent from here directly.
  spawn_logged(io_, route_round(conn, std::move(events), std::move(link_up), std::move(round_over)), "routing round");
  return true;
}

asio::awaitable<void> router::route_round(redis_connection& conn, std::vector<user_event> events,
                                          std::function<bool()> link_up, std::function<void()> round_over) {
  // One pipelined HGETALL per distinct recipient, all in one write, one await for the lot.
  destinations where;
  for (const auto& ev : events) where.try_emplace(ev.to);
  std::vector<command_args> lookups;
  lookups.reserve(where.size());
  for (const auto& entry : where) lookups.push_back({"HGETALL", keys_.presence(entry.first)});
  auto [lookup_ec, replies] = co_await async_pipeline(conn, std::move(lookups), as_result);

  // A failed lookup fails the round; the others are still read (their stale fields deleted).
  bool failed = static_cast<bool>(lookup_ec);
  const auto now = clock_.now_ms();
  std::size_t i = 0;
  for (auto& [uid, dest] : where) {
    const auto& r = replies[i++];
    if (r.is_array())
      read_presence(conn, uid, r, now, dest);
    else
      failed = true;
  }

  inflight_events_ -= events.size();
  note_queued();
  if (failed || !link_up()) {
    for (const auto& ev : events) drop(ev);
  } else {
    publish_events(conn, events, where);
  }
  round_over();
}

void router::read_presence(redis_connection& conn, user_id user, const reply& r, unix_ms now,
                           std::vector<std::string>& dest) {
  for (std::size_t j = 0; j + 1 < r.elements.size(); j += 2) {
    const auto& node = r.elements[j].str;
    const auto field = parse_presence_field(r.elements[j + 1].str);
    if (node == node_id_ || field.devices <= 0) continue;
    if (field.lease_end && *field.lease_end < now && !registry_.node_live(node, now)) {
      // A crashed node's field, kept alive by other nodes renewing the key. (The registry's
      // view, which does not depend on clocks, keeps a live node whose clock runs behind.)
      conn.send({"HDEL", keys_.presence(user), node});
      continue;
    }
    // Its lease ran out since our last refresh. (A live node's cached lease is always
    // several beats ahead; a node we have not seen yet is routed to: it may be new.)
    if (registry_.lease_expired(node, now)) continue;
    dest.push_back(node);
  }
}

void router::publish_events(redis_connection& conn, const std::vector<user_event>& events,
                            const destinations& where) {
  // One payload per destination node, events in publish order; all PUBLISHes go out on the
  // same connection after every earlier round's, so order per recipient holds.
  struct pending {
    std::string payload;
    bool lossy = false;  // holds an event whose loss needs a resync (not only ephemeral ones)
  };
  std::map<std::string, pending> payloads;
  for (const auto& ev : events) {
    auto it = where.find(ev.to);
    if (it == where.end()) continue;
    for (const auto& node : it->second) {
      auto& p = payloads[node];
      if (p.payload.empty()) begin_payload(p.payload);
      append_event(p.payload, ev);
      p.lossy = p.lossy || ev.type != user_event::kind::ephemeral;
      ++stats_.routed_remote;
      if (p.payload.size() >= limits_.max_payload_bytes) {
        publish(conn, node, std::move(p.payload), true, p.lossy);
        p = {};
      }
    }
  }
  for (auto& [node, p] : payloads)
    if (!p.payload.empty()) publish(conn, node, std::move(p.payload), true, p.lossy);
}

void router::publish(redis_connection& conn, const std::string& node, std::string payload, bool events,
                     bool lossy) {
  // Kept until the reply only for event batches, whose notices are held if nobody heard them.
  auto kept = events ? std::make_shared<const std::string>(std::move(payload)) : nullptr;
  const std::string_view body = kept ? std::string_view(*kept) : std::string_view(payload);
  // From the command's hand-over to the link to its reply: Redis's share of routing, the
  // link's queue included (one clock read each end, once per destination node and turn).
  const auto sent = std::chrono::steady_clock::now();
  conn.send({"PUBLISH", keys_.channel(node), body}, [this, node, kept, sent, lossy](error_code ec, reply r) {
    if (!ec && metrics_) metrics_->publish_seconds.observe_since(sent);
    const bool failed = ec || r.is_error();
    if (failed && lossy) lost_ = true;  // the next node refresh (at most a heartbeat away) signals a resync
    if (!failed && r.integer != 0) return;
    // Not heard (its subscriber is reconnecting and will resync itself, or it died), or
    // maybe not: its notices wait for its hello. Messages are the resync's.
    if (!failed) ++stats_.publishes_unheard;
    if (kept)
      decode_payload(
          *kept, [&](user_event&& ev) { replay_.hold(ev, node, clock_.now_ms()); }, [] {});
  });
}

void router::signal_resync(redis_connection& conn) {
  // Sent after a node refresh, so nodes that joined meanwhile are included.
  lost_ = false;
  std::string payload;
  begin_payload(payload);
  append_resync(payload);
  for (const auto& n : registry_.last_read()) {
    if (n.id == node_id_) continue;
    ++stats_.resync_signals_sent;
    publish(conn, n.id, payload, false);
  }
}

}  // namespace chatrix::cluster::redis
