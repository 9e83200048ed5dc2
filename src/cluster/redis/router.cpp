// redis_bus, routing: the per-turn round (presence lookups, then one PUBLISH per destination
// node), the resync signal after routing was dropped, and publishing held notices again.
#include "cluster/redis/redis_bus.hpp"

#include "cluster/redis/event_codec.hpp"

#include <boost/asio/post.hpp>

#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

namespace chatrix::cluster::redis {

namespace asio = boost::asio;
using boost::system::error_code;

struct redis_bus::batch {
  std::vector<user_event> events;
  std::unordered_map<user_id, std::vector<std::string>> where;  // user -> other nodes with devices
  std::size_t remaining = 0;                                    // lookups still to come
  bool failed = false;
};

void redis_bus::publish(user_event ev) {
  if (!sink_) return;
  ++stats_.published;
  if (presence_.has(ev.to)) {
    ++stats_.delivered_local;
    sink_->deliver_local(ev);
    if (!sink_) return;  // the sink stopped us
  }
  if (!main_up_) {
    ++stats_.dropped_redis_down;
    outbound_lost_ = true;
    replay_.hold(ev, {}, clock_.now_ms());
    return;
  }
  if (queue_.size() + inflight_events_ >= options_.max_queued_events) {
    ++stats_.dropped_overflow;
    outbound_lost_ = true;
    replay_.hold(ev, {}, clock_.now_ms());
    return;
  }
  queue_.push_back(std::move(ev));
  schedule_flush();
}

void redis_bus::schedule_flush() {
  if (flush_posted_ || stopped_) return;
  flush_posted_ = true;
  asio::post(io_, [this, alive = std::weak_ptr<char>(alive_)] {
    if (alive.expired()) return;
    flush_posted_ = false;
    flush();
  });
}

void redis_bus::flush() {
  if (stopped_ || !main_) return;
  if (!main_up_) {
    if (!queue_.empty()) {
      stats_.dropped_redis_down += queue_.size();
      hold_notices(queue_);
      queue_.clear();
      outbound_lost_ = true;
    }
    release_visible_waiters();
    maybe_finish_shutdown();
    return;
  }

  // Presence changes of this turn (while not synced, sync() rewrites everything anyway).
  if (synced_) {
    presence_.write_changes(*main_);
    if (presence_.awaiting_visible()) {
      // Replies come in order: when this one arrives, the presence writes above are applied.
      main_->send({"PING"}, [waiters = presence_.take_waiters()](error_code, reply) mutable {
        for (auto& w : waiters) w();
      });
    }
  } else {
    release_visible_waiters();
  }

  // After dropped routing, later events wait for the resync signal (sent after the next
  // registry read), so that no node gets them before it knows to re-check the database.
  if (queue_.empty() || (outbound_lost_ && !draining_)) {
    maybe_finish_shutdown();
    return;
  }
  auto b = std::make_shared<batch>();
  b->events = std::move(queue_);
  queue_.clear();
  inflight_events_ += b->events.size();
  for (const auto& ev : b->events) b->where.try_emplace(ev.to);
  b->remaining = b->where.size();
  for (auto& [uid, nodes] : b->where) {
    main_->send({"HGETALL", keys_.presence(uid)}, [this, b, uid = uid](error_code ec, reply r) {
      if (ec || !r.is_array()) {
        b->failed = true;
      } else {
        const auto now = clock_.now_ms();
        auto& dest = b->where[uid];
        for (std::size_t j = 0; j + 1 < r.elements.size(); j += 2) {
          const auto& node = r.elements[j].str;
          const auto field = parse_presence_field(r.elements[j + 1].str);
          if (node == id_ || field.devices <= 0) continue;
          if (field.lease_end && *field.lease_end < now && !registry_.node_live(node, now)) {
            // A crashed node's field, kept alive by other nodes renewing the key. (The
            // registry's view, which does not depend on clocks, keeps a live node whose
            // clock runs behind.)
            main_->send({"HDEL", keys_.presence(uid), node});
            continue;
          }
          // Its lease ran out since our last refresh. (A live node's cached lease is always
          // several beats ahead; a node we have not seen yet is routed to: it may be new.)
          if (registry_.lease_expired(node, now)) continue;
          dest.push_back(node);
        }
      }
      if (--b->remaining == 0) route(*b);
    });
  }
}

void redis_bus::route(batch& b) {
  inflight_events_ -= b.events.size();
  if (b.failed || !main_up_) {
    stats_.dropped_redis_down += b.events.size();
    hold_notices(b.events);
    outbound_lost_ = true;
    maybe_finish_shutdown();
    return;
  }
  // One payload per destination node, events in publish order; all PUBLISHes go out on the
  // same connection after every earlier round's, so order per recipient holds.
  std::map<std::string, std::string> payloads;
  for (const auto& ev : b.events) {
    auto it = b.where.find(ev.to);
    if (it == b.where.end()) continue;
    for (const auto& node : it->second) {
      auto& p = payloads[node];
      if (p.empty()) begin_payload(p);
      append_event(p, ev);
      ++stats_.routed_remote;
      if (p.size() >= options_.max_payload_bytes) {
        publish_payload(node, std::move(p), true);
        p.clear();
      }
    }
  }
  for (auto& [node, p] : payloads)
    if (!p.empty()) publish_payload(node, std::move(p), true);
  maybe_finish_shutdown();
}

void redis_bus::publish_payload(const std::string& node, std::string payload, bool events) {
  // Kept until the reply only for event batches, whose notices are held if nobody heard them.
  auto kept = events ? std::make_shared<const std::string>(std::move(payload)) : nullptr;
  const std::string_view body = kept ? std::string_view(*kept) : std::string_view(payload);
  main_->send({"PUBLISH", keys_.channel(node), body}, [this, node, kept](error_code ec, reply r) {
    const bool failed = ec || r.is_error();
    if (failed) outbound_lost_ = true;  // the next node refresh (at most a heartbeat away) signals a resync
    if (!failed && r.integer != 0) return;
    // Not heard (its subscriber is reconnecting and will resync itself, or it died), or
    // maybe not: its notices wait for its hello. Messages are the resync's.
    if (!failed) ++stats_.publishes_unheard;
    if (kept)
      decode_payload(
          *kept, [&](user_event&& ev) { replay_.hold(ev, node, clock_.now_ms()); }, [] {});
  });
}

void redis_bus::signal_resync() {
  // We dropped remote routing earlier: every other live node re-checks the database for its
  // devices. Sent after a node refresh, so nodes that joined meanwhile are included.
  outbound_lost_ = false;
  std::string payload;
  begin_payload(payload);
  append_resync(payload);
  for (const auto& n : registry_.last_read()) {
    if (n.id == id_) continue;
    ++stats_.resync_signals_sent;
    publish_payload(n.id, payload, false);
  }
  // Events held back meanwhile go out after the signal.
  if (!queue_.empty()) schedule_flush();
}

// ---- held notices ------------------------------------------------------------------------

void redis_bus::hold_notices(const std::vector<user_event>& events) {
  for (const auto& ev : events) replay_.hold(ev, {}, clock_.now_ms());
}

void redis_bus::replay_to(const std::string& node, bool hello) {
  for (auto& payload : replay_.payloads_for(node, id_, hello)) publish_payload(node, std::move(payload), false);
}

}  // namespace chatrix::cluster::redis
