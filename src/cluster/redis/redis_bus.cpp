// redis_bus: node lease and presence upkeep, the per-turn routing round, and the recovery
// protocol (rewrite presence, then resync) after any loss of a Redis link.
#include "cluster/redis/redis_bus.hpp"

#include "cluster/redis/event_codec.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>

namespace chatrix::cluster::redis {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

unix_ms now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_node_id() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  static constexpr char hex[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = hex[v & 0xf];
  return s;
}

std::int64_t to_int(std::string_view s, std::int64_t fallback = 0) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : fallback;
}

constexpr std::int64_t prune_after_ms = 3600 * 1000;
// Origins whose replayed notices we track (one entry per node that ever replayed to us; ids
// are random per process): cleared if it ever gets this large.
constexpr std::size_t max_replay_origins = 4096;

/// A presence field's value: "<devices>:<lease end ms>" (a bare count: no lease known).
struct presence_field {
  std::int64_t devices = 0;
  std::optional<unix_ms> lease_end;
};

presence_field parse_presence(std::string_view v) {
  const auto colon = v.find(':');
  if (colon == std::string_view::npos) return {to_int(v), std::nullopt};
  return {to_int(v.substr(0, colon)), to_int(v.substr(colon + 1))};
}

}  // namespace

struct redis_bus::batch {
  std::vector<user_event> events;
  std::unordered_map<user_id, std::vector<std::string>> where;  // user -> other nodes with devices
  std::size_t remaining = 0;                                    // lookups still to come
  bool failed = false;
};

redis_bus::redis_bus(asio::any_io_executor io, redis_bus_options options)
    : io_(io), options_(std::move(options)), heartbeat_timer_(io) {
  std::string why;
  auto addr = parse_redis_address(options_.address, &why);
  if (!addr) throw std::invalid_argument("REDISADDR '" + options_.address + "': " + why);
  address_ = std::move(*addr);
  id_ = options_.node_id.empty() ? random_node_id() : options_.node_id;
  nodes_key_ = options_.key_prefix + "nodes";
}

redis_bus::~redis_bus() { stop(); }

std::string redis_bus::node_key(std::string_view id) const {
  std::string k = options_.key_prefix;
  k += "node:";
  k += id;
  return k;
}

std::string redis_bus::presence_key(user_id id) const { return options_.key_prefix + "presence:" + std::to_string(id); }

std::string redis_bus::channel(std::string_view id) const { return node_key(id) + ":events"; }

node_info redis_bus::self_info() const {
  return node_info{id_, options_.advertised_address, started_at_, connections_, now_ms() + options_.lease_ttl.count()};
}

// ---- lifecycle -------------------------------------------------------------------------

void redis_bus::start(event_sink& sink) {
  if (main_ || stopped_) return;
  sink_ = &sink;
  started_at_ = now_ms();

  auto opts = options_.connection;
  opts.address = address_;
  opts.name = "chatrix-" + id_;
  main_ = redis_connection::create(io_, opts);
  main_->on_state([this](bool up) { on_main_state(up); });

  opts.name += "-sub";
  sub_ = redis_connection::create(io_, opts);
  sub_->subscribe(channel(id_), [this](std::string_view, std::string payload) { on_push(std::move(payload)); });
  sub_->on_state([this](bool up) { on_sub_state(up); });

  spdlog::info("cluster: node {} ({}) joining via Redis at {}", id_, options_.advertised_address,
               address_.to_string());
  main_->start();
  sub_->start();
  schedule_heartbeat();
}

void redis_bus::deregister() {
  main_->send({"DEL", node_key(id_)});
  main_->send({"ZREM", nodes_key_, id_});
  for (const auto& [uid, n] : local_) main_->send({"HDEL", presence_key(uid), id_});
}

void redis_bus::stop() {
  if (stopped_) return;
  stopped_ = true;
  heartbeat_timer_.cancel();
  if (main_) {
    if (main_up_) {
      deregister();
      main_->close_gracefully(options_.stop_timeout);
    } else {
      main_->close();
    }
  }
  if (sub_) sub_->close();
  if (main_) spdlog::info("cluster: node {} left", id_);
  sink_ = nullptr;
  queue_.clear();
  early_.clear();
  main_up_ = sub_up_ = synced_ = false;
  if (auto done = std::move(shutdown_done_)) {
    shutdown_done_ = nullptr;
    asio::post(io_, std::move(done));
  }
}

void redis_bus::shutdown(std::function<void()> done) {
  if (stopped_ || draining_) {
    if (done) asio::post(io_, std::move(done));
    return;
  }
  // Messages acknowledged just before shutdown are routed before the node leaves: stored
  // but not routed, a connected recipient elsewhere would get them only at its next resync.
  draining_ = true;
  shutdown_done_ = std::move(done);
  heartbeat_timer_.cancel();
  heartbeat_timer_.expires_after(options_.stop_timeout);
  heartbeat_timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](error_code ec) {
    if (ec || alive.expired()) return;
    if (!stopped_) spdlog::warn("cluster: node {} stops with routing still in flight", id_);
    stop();
  });
  // Posted: a flush posted earlier in this turn runs first.
  asio::post(io_, [this, alive = std::weak_ptr<char>(alive_)] {
    if (!alive.expired()) maybe_finish_shutdown();
  });
}

void redis_bus::maybe_finish_shutdown() {
  if (draining_ && !stopped_ && queue_.empty() && inflight_events_ == 0 && !flush_posted_) finish_shutdown();
}

void redis_bus::finish_shutdown() {
  draining_ = false;
  if (!main_ || !main_up_) {
    stop();
    return;
  }
  // Deregister, and stop once Redis has confirmed it (or when the timer above fires).
  deregister();
  heartbeat_timer_.cancel();
  heartbeat_timer_.expires_after(options_.stop_timeout);
  heartbeat_timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](error_code ec) {
    if (!ec && !alive.expired()) stop();
  });
  main_->send({"PING"}, [this](error_code, reply) {
    main_up_ = false;  // deregistered: stop() only closes
    stop();
  });
}

void redis_bus::simulate_crash_for_testing() {
  stopped_ = true;
  heartbeat_timer_.cancel();
  if (main_) main_->close();
  if (sub_) sub_->close();
  sink_ = nullptr;
  queue_.clear();
  early_.clear();
  main_up_ = sub_up_ = synced_ = false;
}

// ---- link state and recovery ------------------------------------------------------------

void redis_bus::on_main_state(bool up) {
  main_up_ = up;
  if (!up) {
    synced_ = false;
    ++sync_gen_;
    return;
  }
  if (sub_up_) {
    sync();
  } else {
    write_registration();
    refresh_nodes();
  }
}

void redis_bus::on_sub_state(bool up) {
  sub_up_ = up;
  if (!up) {
    // Events published to us from now on are lost until we are subscribed again.
    synced_ = false;
    ++sync_gen_;
    return;
  }
  if (main_up_) sync();
}

void redis_bus::sync() {
  // After a loss, Redis may have forgotten us (restart, or our lease ran out): rewrite the
  // registration and every presence entry, and only once Redis has them (the PING after
  // them returns) ask the sink to re-check the database. In that order, a message stored
  // meanwhile is either routed to us (presence visible) or found by the resync.
  const auto gen = ++sync_gen_;
  write_registration();
  for (user_id uid : dirty_)  // users who left meanwhile: their entries would outlive them
    if (!local_.contains(uid)) main_->send({"HDEL", presence_key(uid), id_});
  dirty_.clear();
  for (const auto& [uid, n] : local_) write_presence(uid, n);
  main_->send({"PING"}, [this, gen](error_code ec, reply) {
    if (ec || gen != sync_gen_ || !main_up_ || !sub_up_) return;
    synced_ = true;
    const bool recovered = ever_synced_;
    ever_synced_ = true;
    if (recovered) spdlog::info("cluster: node {} back on Redis; resyncing local devices", id_);
    // The first sync only matters for devices that attached before we were reachable.
    if (recovered || !local_.empty()) request_resync();
    // What arrived since the subscription came back goes after the resync began, so that the
    // sink holds it behind what the database still owes.
    auto early = std::move(early_);
    early_.clear();
    for (auto& ev : early) on_remote_event(std::move(ev));
    // Other nodes may have held notices for us (hello, after a loss), and we may hold some.
    announce_ = true;
    announce_hello_ = announce_hello_ || recovered;
    if (!dirty_.empty()) schedule_flush();
  });
  refresh_nodes();
  announce_after_ = refreshes_;  // the registry read just issued sees every node synced before us
}

void redis_bus::request_resync() {
  // Synchronous: the sink starts holding live events before the next event is handed over.
  // It coalesces the database re-checks itself.
  if (!sink_) return;
  ++stats_.resyncs;
  sink_->resync();
}

// ---- registry ---------------------------------------------------------------------------

void redis_bus::write_registration() {
  const auto now = now_ms();
  const std::string key = node_key(id_);
  const std::string started = std::to_string(started_at_);
  const std::string conns = std::to_string(connections_);
  const std::string ttl = std::to_string(options_.lease_ttl.count());
  const std::string score = std::to_string(now + options_.lease_ttl.count());
  std::string prune = "(";  // exclusive bound; built by append (g++ 12 warns on "(" + s)
  prune += std::to_string(now - prune_after_ms);
  main_->send({"HSET", key, "address", options_.advertised_address, "started_at", started, "connections", conns});
  main_->send({"PEXPIRE", key, ttl});
  main_->send({"ZADD", nodes_key_, score, id_});
  main_->send({"ZREMRANGEBYSCORE", nodes_key_, "-inf", prune});
}

void redis_bus::refresh_nodes() {
  const auto refresh = ++refreshes_;
  main_->send({"ZRANGE", nodes_key_, "0", "-1"}, [this, refresh](error_code ec, reply r) {
    if (ec || !r.is_array()) return;
    struct scan {
      std::vector<std::string> ids;
      std::vector<reply> hashes;
      std::vector<std::int64_t> pttl;
      std::size_t remaining = 0;
      bool failed = false;
    };
    auto s = std::make_shared<scan>();
    for (auto& e : r.elements) s->ids.push_back(std::move(e.str));
    s->hashes.resize(s->ids.size());
    s->pttl.resize(s->ids.size(), -2);
    s->remaining = s->ids.size();
    auto finish = [this, s, refresh] {
      if (s->failed) return;
      const auto now = now_ms();
      std::vector<node_info> fresh;
      bool died = false;
      for (std::size_t i = 0; i < s->ids.size(); ++i) {
        const auto& h = s->hashes[i];
        const auto& id = s->ids[i];
        if (!h.is_array() || h.elements.empty()) {
          // Still in the set, so it never deregistered, but its lease ran out: it died. What
          // it had stored but not routed yet is only in the database.
          const bool was_live = std::any_of(nodes_.begin(), nodes_.end(), [&](const node_info& n) { return n.id == id; });
          if (was_live && id != id_) {
            died = true;
            ++stats_.node_deaths;
            std::erase_if(held_, [&](const held_notice& n) { return n.node == id; });
          }
          continue;
        }
        node_info n;
        n.id = s->ids[i];
        for (std::size_t j = 0; j + 1 < h.elements.size(); j += 2) {
          const auto& f = h.elements[j].str;
          const auto& v = h.elements[j + 1].str;
          if (f == "address") n.address = v;
          else if (f == "started_at") n.started_at = to_int(v);
          else if (f == "connections") n.connections = to_int(v);
        }
        n.expires_at = s->pttl[i] >= 0 ? now + s->pttl[i] : now + options_.lease_ttl.count();
        fresh.push_back(std::move(n));
      }
      std::sort(fresh.begin(), fresh.end(), [](const node_info& a, const node_info& b) {
        return a.started_at != b.started_at ? a.started_at < b.started_at : a.id < b.id;
      });
      for (const auto& n : fresh)
        if (std::none_of(nodes_.begin(), nodes_.end(), [&](const node_info& o) { return o.id == n.id; }) && n.id != id_)
          spdlog::info("cluster: node {} ({}) is live", n.id, n.address);
      for (const auto& o : nodes_)
        if (std::none_of(fresh.begin(), fresh.end(), [&](const node_info& n) { return o.id == n.id; }) && o.id != id_)
          spdlog::info("cluster: node {} ({}) is gone", o.id, o.address);
      nodes_ = std::move(fresh);
      if (died) {
        spdlog::info("cluster: a node died; node {} resyncs its local devices", id_);
        request_resync();
      }
      if (outbound_lost_ && main_up_) signal_resync();
      if (announce_ && synced_ && refresh >= announce_after_) {
        announce_ = false;
        const bool hello = std::exchange(announce_hello_, false);
        for (const auto& n : nodes_)
          if (n.id != id_) hellos_.insert(n.id);
        for (const auto& node : hellos_) replay_to(node, hello);
        hellos_.clear();
      }
    };
    if (s->ids.empty()) {
      finish();
      return;
    }
    for (std::size_t i = 0; i < s->ids.size(); ++i) {
      const std::string key = node_key(s->ids[i]);
      main_->send({"HGETALL", key}, [s, i](error_code ec, reply h) {
        if (ec || h.is_error()) s->failed = true;
        else s->hashes[i] = std::move(h);
      });
      // Replies are FIFO: the last PTTL reply ends the scan.
      main_->send({"PTTL", key}, [s, i, finish](error_code ec, reply t) {
        if (ec || t.is_error()) s->failed = true;
        else s->pttl[i] = t.integer;
        if (--s->remaining == 0) finish();
      });
    }
  });
}

bool redis_bus::lease_expired(std::string_view node, unix_ms now) const {
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const node_info& n) { return n.id == node; });
  return it != nodes_.end() && it->expires_at < now;
}

bool redis_bus::node_live(std::string_view node, unix_ms now) const {
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const node_info& n) { return n.id == node; });
  return it != nodes_.end() && it->expires_at >= now;
}

std::vector<node_info> redis_bus::nodes() const {
  const auto now = now_ms();
  std::vector<node_info> out;
  bool self_seen = false;
  for (const auto& n : nodes_) {
    if (n.id == id_) {
      auto me = self_info();
      me.expires_at = n.expires_at;
      out.push_back(std::move(me));
      self_seen = true;
    } else if (n.expires_at >= now) {  // a lease that ran out since the refresh is gone too
      out.push_back(n);
    }
  }
  if (!self_seen) out.insert(out.begin(), self_info());
  return out;
}

void redis_bus::schedule_heartbeat() {
  heartbeat_timer_.expires_after(options_.heartbeat);
  heartbeat_timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](error_code ec) {
    if (ec || alive.expired() || stopped_) return;
    prune_held(now_ms());
    if (main_up_) {
      write_registration();
      // Rewritten (not just PEXPIREd) every beat, so an entry that expired anyway heals.
      if (synced_)
        for (const auto& [uid, n] : local_) write_presence(uid, n);
      refresh_nodes();
    }
    schedule_heartbeat();
  });
}

// ---- presence ---------------------------------------------------------------------------

void redis_bus::write_presence(user_id id, std::int64_t devices) {
  // The key's TTL is renewed by every node with devices of the user, so each field carries
  // its own lease: a crashed node's field is recognised as stale by its value alone.
  const std::string key = presence_key(id);
  std::string value = std::to_string(devices);
  value += ':';
  value += std::to_string(now_ms() + options_.lease_ttl.count());
  const std::string ttl = std::to_string(options_.lease_ttl.count());
  main_->send({"HSET", key, id_, value});
  main_->send({"PEXPIRE", key, ttl});
}

void redis_bus::device_connected(user_id id, std::function<void()> visible) {
  ++local_[id];
  ++connections_;
  dirty_.insert(id);
  if (visible) visible_waiters_.push_back(std::move(visible));
  schedule_flush();
}

void redis_bus::release_visible_waiters() {
  // Without Redis nobody can route to us anyway; the resync after recovery covers the gap.
  auto waiters = std::move(visible_waiters_);
  visible_waiters_.clear();
  for (auto& w : waiters) w();
}

void redis_bus::device_disconnected(user_id id) {
  auto it = local_.find(id);
  if (it == local_.end()) return;
  --connections_;
  if (--it->second <= 0) local_.erase(it);
  dirty_.insert(id);
  schedule_flush();
}

// ---- routing ----------------------------------------------------------------------------

void redis_bus::publish(user_event ev) {
  if (!sink_) return;
  ++stats_.published;
  if (local_.contains(ev.to)) {
    ++stats_.delivered_local;
    sink_->deliver_local(ev);
    if (!sink_) return;  // the sink stopped us
  }
  if (!main_up_) {
    ++stats_.dropped_redis_down;
    outbound_lost_ = true;
    hold_notice(ev);
    return;
  }
  if (queue_.size() + inflight_events_ >= options_.max_queued_events) {
    ++stats_.dropped_overflow;
    outbound_lost_ = true;
    hold_notice(ev);
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
    for (user_id uid : dirty_) {
      auto it = local_.find(uid);
      if (it != local_.end())
        write_presence(uid, it->second);
      else
        main_->send({"HDEL", presence_key(uid), id_});
    }
    dirty_.clear();
    if (!visible_waiters_.empty()) {
      // Replies come in order: when this one arrives, the presence writes above are applied.
      main_->send({"PING"}, [waiters = std::move(visible_waiters_)](error_code, reply) mutable {
        for (auto& w : waiters) w();
      });
      visible_waiters_.clear();
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
    main_->send({"HGETALL", presence_key(uid)}, [this, b, uid = uid](error_code ec, reply r) {
      if (ec || !r.is_array()) {
        b->failed = true;
      } else {
        const auto now = now_ms();
        auto& dest = b->where[uid];
        for (std::size_t j = 0; j + 1 < r.elements.size(); j += 2) {
          const auto& node = r.elements[j].str;
          const auto field = parse_presence(r.elements[j + 1].str);
          if (node == id_ || field.devices <= 0) continue;
          if (field.lease_end && *field.lease_end < now && !node_live(node, now)) {
            // A crashed node's field, kept alive by other nodes renewing the key. (The
            // registry's view, which does not depend on clocks, keeps a live node whose
            // clock runs behind.)
            main_->send({"HDEL", presence_key(uid), node});
            continue;
          }
          // Its lease ran out since our last refresh. (A live node's cached lease is always
          // several beats ahead; a node we have not seen yet is routed to: it may be new.)
          if (lease_expired(node, now)) continue;
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
  main_->send({"PUBLISH", channel(node), body}, [this, node, kept](error_code ec, reply r) {
    const bool failed = ec || r.is_error();
    if (failed) outbound_lost_ = true;  // the next node refresh (at most a heartbeat away) signals a resync
    if (!failed && r.integer != 0) return;
    // Not heard (its subscriber is reconnecting and will resync itself, or it died), or
    // maybe not: its notices wait for its hello. Messages are the resync's.
    if (!failed) ++stats_.publishes_unheard;
    if (kept)
      decode_payload(
          *kept, [&](user_event&& ev) { hold_notice(ev, node); }, [] {});
  });
}

void redis_bus::signal_resync() {
  // We dropped remote routing earlier: every other live node re-checks the database for its
  // devices. Sent after a node refresh, so nodes that joined meanwhile are included.
  outbound_lost_ = false;
  std::string payload;
  begin_payload(payload);
  append_resync(payload);
  for (const auto& n : nodes_) {
    if (n.id == id_) continue;
    ++stats_.resync_signals_sent;
    publish_payload(n.id, payload, false);
  }
  // Events held back meanwhile go out after the signal.
  if (!queue_.empty()) schedule_flush();
}

// ---- held notices ------------------------------------------------------------------------

void redis_bus::hold_notice(const user_event& ev, std::string node) {
  // Messages need no copy: they are pending in the database until delivered, and a resync
  // finds them. Notices are only events.
  if (ev.type != user_event::kind::notice) return;
  const auto now = now_ms();
  prune_held(now);
  if (held_.size() >= options_.max_held_notices) {
    held_.pop_front();
    ++stats_.notices_held_dropped;
  }
  held_.push_back(held_notice{next_notice_seq_++, std::move(node), now, ev});
  ++stats_.notices_held;
}

void redis_bus::hold_notices(const std::vector<user_event>& events) {
  for (const auto& ev : events) hold_notice(ev);
}

void redis_bus::prune_held(unix_ms now) {
  const auto oldest = now - options_.notice_retention.count();
  while (!held_.empty() && held_.front().at < oldest) {
    held_.pop_front();
    ++stats_.notices_held_dropped;
  }
}

void redis_bus::replay_to(const std::string& node, bool hello) {
  // Every notice the node may have missed, oldest first. It may have had some already (it
  // was told before, or a node hello'd twice): receivers drop seqs they have seen.
  std::string p;
  const auto start = [&] {
    p.clear();
    begin_payload(p);
    append_origin(p, id_);
  };
  start();
  const auto header = p.size();
  for (const auto& h : held_) {
    if (!h.node.empty() && h.node != node) continue;
    append_replayed(p, h.seq, h.ev);
    ++stats_.notices_replayed;
    if (p.size() >= options_.max_payload_bytes) {
      publish_payload(node, std::move(p), false);
      start();
    }
  }
  if (hello) append_hello(p);
  if (p.size() > header) publish_payload(node, std::move(p), false);
}

void redis_bus::on_hello(std::string origin) {
  if (origin.empty() || origin == id_) return;
  // Not synced yet (or about to announce): answered with the announcement.
  if (synced_ && !announce_)
    replay_to(origin, false);
  else
    hellos_.insert(std::move(origin));
}

// ---- receiving ------------------------------------------------------------------------

void redis_bus::on_remote_event(user_event&& ev) {
  if (!sink_) return;
  if (!synced_) {
    if (early_.size() < options_.max_queued_events)
      early_.push_back(std::move(ev));
    else
      ++stats_.early_dropped;
    return;
  }
  ++stats_.received_remote;
  sink_->deliver_local(ev);
}

void redis_bus::on_push(std::string payload) {
  if (!sink_) return;
  auto res = decode_payload(
      payload, [this](user_event&& ev) { on_remote_event(std::move(ev)); },
      [this] {
        // Before our sync, the resync that follows it covers this one.
        if (synced_) request_resync();
      },
      [this](std::string_view origin, std::uint64_t seq, user_event&& ev) {
        if (replays_seen_.size() >= max_replay_origins) replays_seen_.clear();
        auto& seen = replays_seen_[std::string(origin)];
        if (seq <= seen) return;
        seen = seq;
        ++stats_.replays_received;
        on_remote_event(std::move(ev));
      },
      [this](std::string_view origin) { on_hello(std::string(origin)); });
  if (!res.ok) {
    ++stats_.decode_errors;
    spdlog::warn("cluster: malformed event payload ({} bytes) on node {}; resyncing", payload.size(), id_);
    request_resync();
  }
}

}  // namespace chatrix::cluster::redis
