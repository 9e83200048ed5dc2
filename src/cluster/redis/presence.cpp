// redis_bus, presence: which users have devices on this node, written to Redis as leased
// hash fields so that other nodes route those users' events here.
#include "cluster/redis/redis_bus.hpp"

#include "cluster/redis/bus_detail.hpp"
#include <utility>

namespace chatrix::cluster::redis {

using detail::now_ms;

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

}  // namespace chatrix::cluster::redis
