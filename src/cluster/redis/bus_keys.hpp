// The names of redis_bus's keys and channels (layout: redis_bus.hpp), all under one prefix so
// that several deployments can share one Redis.
#pragma once

#include "core/types.hpp"

#include <string>
#include <string_view>
#include <utility>

namespace chatrix::cluster::redis {

struct bus_keys {
  explicit bus_keys(std::string key_prefix) : prefix(std::move(key_prefix)), nodes(prefix + "nodes") {}

  std::string node(std::string_view id) const {
    std::string k = prefix;
    k += "node:";
    k += id;
    return k;
  }
  std::string presence(user_id id) const { return prefix + "presence:" + std::to_string(id); }
  std::string channel(std::string_view node_id) const { return node(node_id) + ":events"; }
  /// The one channel every node subscribes to: token revocations (event_codec.hpp).
  std::string revocations() const { return prefix + "revocations"; }
  /// The other channel every node subscribes to: presence and user changes (event_codec.hpp,
  /// decode_broadcast). Apart from revocations, so that nodes that predate it never hear it.
  std::string broadcast() const { return prefix + "broadcast"; }

  std::string prefix;
  std::string nodes;  // the zset of node ids scored by lease end
};

}  // namespace chatrix::cluster::redis
