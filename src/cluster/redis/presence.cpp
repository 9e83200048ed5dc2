// presence: the local device table and its leased fields in Redis.
#include "cluster/redis/presence.hpp"

#include "cluster/redis/bus_detail.hpp"

#include <utility>

namespace chatrix::cluster::redis {

presence_field parse_presence_field(std::string_view v) {
  const auto colon = v.find(':');
  if (colon == std::string_view::npos) return {detail::to_int(v), std::nullopt};
  return {detail::to_int(v.substr(0, colon)), detail::to_int(v.substr(colon + 1))};
}

void presence::add_device(user_id id) {
  ++devices_[id];
  ++connections_;
  changed_.insert(id);
}

bool presence::remove_device(user_id id) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return false;
  --connections_;
  if (--it->second <= 0) devices_.erase(it);
  changed_.insert(id);
  return true;
}

void presence::write(redis_connection& conn, user_id id, std::int64_t devices) {
  // The key's TTL is renewed by every node with devices of the user, so each field carries
  // its own lease: a crashed node's field is recognised as stale by its value alone.
  const std::string key = keys_.presence(id);
  std::string value = std::to_string(devices);
  value += ':';
  value += std::to_string(clock_.now_ms() + lease_ttl_.count());
  const std::string ttl = std::to_string(lease_ttl_.count());
  conn.send({"HSET", key, node_id_, value});
  conn.send({"PEXPIRE", key, ttl});
}

void presence::write_changes(redis_connection& conn) {
  for (user_id uid : changed_) {
    auto it = devices_.find(uid);
    if (it != devices_.end())
      write(conn, uid, it->second);
    else
      conn.send({"HDEL", keys_.presence(uid), node_id_});
  }
  changed_.clear();
}

void presence::rewrite_all(redis_connection& conn) {
  for (user_id uid : changed_)  // users who left meanwhile: their entries would outlive them
    if (!devices_.contains(uid)) conn.send({"HDEL", keys_.presence(uid), node_id_});
  changed_.clear();
  renew(conn);
}

void presence::renew(redis_connection& conn) {
  for (const auto& [uid, n] : devices_) write(conn, uid, n);
}

void presence::erase_all(redis_connection& conn) {
  for (const auto& [uid, n] : devices_) conn.send({"HDEL", keys_.presence(uid), node_id_});
}

std::vector<std::function<void()>> presence::take_waiters() {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  return waiters;
}

}  // namespace chatrix::cluster::redis
