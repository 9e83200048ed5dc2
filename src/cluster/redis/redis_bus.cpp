// redis_bus: node lease and presence upkeep, the per-turn routing round, and the recovery
// protocol (rewrite presence, then resync) after any loss of a Redis link.
#include "cluster/redis/redis_bus.hpp"

#include "cluster/redis/event_codec.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <random>
#include <stdexcept>

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

// Dead node ids are remembered to skip their presence fields; ids are random per process, so
// the set only grows with crashes and is simply cleared if it ever gets large.
constexpr std::size_t max_dead_remembered = 4096;
constexpr std::int64_t prune_after_ms = 3600 * 1000;

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

void redis_bus::stop() {
  if (stopped_) return;
  stopped_ = true;
  heartbeat_timer_.cancel();
  if (main_) {
    if (main_up_) {
      main_->send({"DEL", node_key(id_)});
      main_->send({"ZREM", nodes_key_, id_});
      for (const auto& [uid, n] : local_) main_->send({"HDEL", presence_key(uid), id_});
      main_->close_gracefully(options_.stop_timeout);
    } else {
      main_->close();
    }
  }
  if (sub_) sub_->close();
  if (main_) spdlog::info("cluster: node {} left", id_);
  sink_ = nullptr;
  queue_.clear();
  main_up_ = sub_up_ = synced_ = false;
}

void redis_bus::simulate_crash_for_testing() {
  stopped_ = true;
  heartbeat_timer_.cancel();
  if (main_) main_->close();
  if (sub_) sub_->close();
  sink_ = nullptr;
  queue_.clear();
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
    if (!dirty_.empty()) schedule_flush();
  });
  refresh_nodes();
}

void redis_bus::request_resync() {
  if (resync_posted_) return;
  resync_posted_ = true;
  // Coalesced per turn: several signals (ours, other nodes') cost one database re-check.
  asio::post(io_, [this, alive = std::weak_ptr<char>(alive_)] {
    if (alive.expired()) return;
    resync_posted_ = false;
    if (!sink_) return;
    ++stats_.resyncs;
    sink_->resync();
  });
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
  main_->send({"ZRANGE", nodes_key_, "0", "-1"}, [this](error_code ec, reply r) {
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
    auto finish = [this, s] {
      if (s->failed) return;
      const auto now = now_ms();
      std::vector<node_info> fresh;
      for (std::size_t i = 0; i < s->ids.size(); ++i) {
        const auto& h = s->hashes[i];
        if (!h.is_array() || h.elements.empty()) {  // lease gone: dead
          if (s->ids[i] != id_) {
            if (dead_.size() >= max_dead_remembered) dead_.clear();
            dead_.insert(s->ids[i]);
          }
          continue;
        }
        dead_.erase(s->ids[i]);  // back (e.g. its heartbeat stalled past the TTL once)
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
      if (outbound_lost_ && main_up_) signal_resync();
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
  const std::string key = presence_key(id);
  const std::string count = std::to_string(devices);
  const std::string ttl = std::to_string(options_.lease_ttl.count());
  main_->send({"HSET", key, id_, count});
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
    return;
  }
  if (queue_.size() + inflight_events_ >= options_.max_queued_events) {
    ++stats_.dropped_overflow;
    outbound_lost_ = true;
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
      queue_.clear();
      outbound_lost_ = true;
    }
    release_visible_waiters();
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

  if (queue_.empty()) return;
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
          if (node == id_ || to_int(r.elements[j + 1].str) <= 0) continue;
          if (dead_.contains(node)) {
            // A crashed node's entry, kept alive by other nodes refreshing the key.
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
    outbound_lost_ = true;
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
        publish_payload(node, p);
        p.clear();
      }
    }
  }
  for (const auto& [node, p] : payloads)
    if (!p.empty()) publish_payload(node, p);
}

void redis_bus::publish_payload(const std::string& node, const std::string& payload) {
  main_->send({"PUBLISH", channel(node), payload}, [this](error_code ec, reply r) {
    if (ec || r.is_error()) {
      outbound_lost_ = true;  // the next node refresh (at most a heartbeat away) signals a resync
    } else if (r.integer == 0) {
      ++stats_.publishes_unheard;  // its subscriber is reconnecting and will resync itself
    }
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
    publish_payload(n.id, payload);
  }
}

void redis_bus::on_push(std::string payload) {
  if (!sink_) return;
  auto res = decode_payload(
      payload,
      [this](user_event&& ev) {
        if (!sink_) return;
        ++stats_.received_remote;
        sink_->deliver_local(ev);
      },
      [this] { request_resync(); });
  if (!res.ok) {
    ++stats_.decode_errors;
    spdlog::warn("cluster: malformed event payload ({} bytes) on node {}; resyncing", payload.size(), id_);
    request_resync();
  }
}

}  // namespace chatrix::cluster::redis
