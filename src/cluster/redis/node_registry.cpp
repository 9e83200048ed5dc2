// redis_bus, node registry: this node's lease, the periodic read of every node's lease, and
// dead-node detection (a lease that ran out without deregistering).
#include "cluster/redis/redis_bus.hpp"

#include "cluster/redis/bus_detail.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <utility>

namespace chatrix::cluster::redis {

using boost::system::error_code;
using detail::now_ms;
using detail::to_int;

namespace {

constexpr std::int64_t prune_after_ms = 3600 * 1000;

}  // namespace

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

}  // namespace chatrix::cluster::redis
