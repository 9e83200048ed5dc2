// node_registry: leases in a hash per node plus a zset of node ids scored by lease end.
#include "cluster/redis/node_registry.hpp"

#include "cluster/redis/bus_detail.hpp"
#include "cluster/redis/redis_command.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace chatrix::cluster::redis {

namespace asio = boost::asio;

namespace {

constexpr std::int64_t prune_after_ms = 3600 * 1000;

}  // namespace

void node_registry::write_lease(redis_connection& conn, const node_info& self) {
  const auto now = clock_.now_ms();
  const std::string key = keys_.node(node_id_);
  const std::string started = std::to_string(self.started_at);
  const std::string conns = std::to_string(self.connections);
  const std::string ttl = std::to_string(lease_ttl_.count());
  const std::string score = std::to_string(now + lease_ttl_.count());
  std::string prune = "(";  // exclusive bound; built by append (g++ 12 warns on "(" + s)
  prune += std::to_string(now - prune_after_ms);
  conn.send({"HSET", key, "address", self.address, "started_at", started, "connections", conns});
  conn.send({"PEXPIRE", key, ttl});
  conn.send({"ZADD", keys_.nodes, score, node_id_});
  conn.send({"ZREMRANGEBYSCORE", keys_.nodes, "-inf", prune});
}

void node_registry::erase_lease(redis_connection& conn) {
  conn.send({"DEL", keys_.node(node_id_)});
  conn.send({"ZREM", keys_.nodes, node_id_});
}

asio::awaitable<std::optional<node_registry::read_result>> node_registry::read(redis_connection& conn) {
  const auto number = ++reads_;
  // Named, not a braced list inside the co_await: g++ 12 rejects that ("array used as
  // initializer").
  command_args list_nodes{"ZRANGE", keys_.nodes, "0", "-1"};
  auto [ec, members] = co_await async_command(conn, std::move(list_nodes), as_result);
  if (ec || !members.is_array()) co_return std::nullopt;
  std::vector<std::string> ids;
  for (auto& e : members.elements) ids.push_back(std::move(e.str));
  // One pipelined round: HGETALL and PTTL per node.
  std::vector<reply> replies;
  if (!ids.empty()) {
    std::vector<command_args> commands;
    for (const auto& id : ids) {
      const std::string key = keys_.node(id);
      commands.push_back(command_args{"HGETALL", key});
      commands.push_back(command_args{"PTTL", key});
    }
    auto [scan_ec, scanned] = co_await async_pipeline(conn, std::move(commands), as_result);
    if (scan_ec) co_return std::nullopt;
    replies = std::move(scanned);
  }
  read_result out{number, {}, {}};
  update(ids, replies, out);
  co_return out;
}

void node_registry::update(const std::vector<std::string>& ids, const std::vector<reply>& replies, read_result& out) {
  const auto now = clock_.now_ms();
  std::vector<node_info> fresh;
  auto& died = out.died;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto& h = replies[2 * i];
    const auto& id = ids[i];
    if (!h.is_array() || h.elements.empty()) {
      // Still in the set, so it never deregistered, but its lease ran out: it died. What
      // it had stored but not routed yet is only in the database.
      const bool was_live = std::any_of(nodes_.begin(), nodes_.end(), [&](const node_info& n) { return n.id == id; });
      if (was_live && id != node_id_) died.push_back(id);
      continue;
    }
    node_info n;
    n.id = id;
    for (std::size_t j = 0; j + 1 < h.elements.size(); j += 2) {
      const auto& f = h.elements[j].str;
      const auto& v = h.elements[j + 1].str;
      if (f == "address") n.address = v;
      else if (f == "started_at") n.started_at = detail::to_int(v);
      else if (f == "connections") n.connections = detail::to_int(v);
    }
    const auto pttl = replies[2 * i + 1].integer;
    n.expires_at = pttl >= 0 ? now + pttl : now + lease_ttl_.count();
    fresh.push_back(std::move(n));
  }
  std::sort(fresh.begin(), fresh.end(), [](const node_info& a, const node_info& b) {
    return a.started_at != b.started_at ? a.started_at < b.started_at : a.id < b.id;
  });
  for (const auto& n : fresh)
    if (std::none_of(nodes_.begin(), nodes_.end(), [&](const node_info& o) { return o.id == n.id; }) && n.id != node_id_)
      spdlog::info("cluster: node {} ({}) is live", n.id, n.address);
  for (const auto& o : nodes_) {
    if (std::any_of(fresh.begin(), fresh.end(), [&](const node_info& n) { return o.id == n.id; }) || o.id == node_id_)
      continue;
    spdlog::info("cluster: node {} ({}) is gone", o.id, o.address);
    if (std::find(died.begin(), died.end(), o.id) == died.end()) out.left.push_back(o.id);
  }
  nodes_ = std::move(fresh);
}

bool node_registry::lease_expired(std::string_view node, unix_ms now) const {
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const node_info& n) { return n.id == node; });
  return it != nodes_.end() && it->expires_at < now;
}

bool node_registry::node_live(std::string_view node, unix_ms now) const {
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const node_info& n) { return n.id == node; });
  return it != nodes_.end() && it->expires_at >= now;
}

std::vector<node_info> node_registry::live_nodes(node_info self) const {
  const auto now = clock_.now_ms();
  std::vector<node_info> out;
  bool self_seen = false;
  for (const auto& n : nodes_) {
    if (n.id == node_id_) {
      auto me = self;
      me.expires_at = n.expires_at;
      out.push_back(std::move(me));
      self_seen = true;
    } else if (n.expires_at >= now) {  // a lease that ran out since the read is gone too
      out.push_back(n);
    }
  }
  if (!self_seen) out.insert(out.begin(), std::move(self));
  return out;
}

}  // namespace chatrix::cluster::redis
