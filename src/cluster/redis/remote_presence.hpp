// What this node knows of the other nodes' online users, as heard on the broadcast channel:
// enough to turn a node's snapshot (every user it holds) into the changes it implies, and to
// forget a node that left. Pure: no Redis and no Asio.
#pragma once

#include "cluster/bus.hpp"
#include "core/types.hpp"

#include <cstddef>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatrix::cluster::redis {

/// Thread-safety: none (the bus's I/O thread).
///
/// Memory: one entry per user online on another node (the chat layer's board holds the same
/// users), plus a snapshot being received.
class remote_presence {
 public:
  /// Records an update `node` published (handed on to the sink as it is).
  void apply(const std::string& node, const presence_update& u);

  /// A snapshot of `node` starts: until end_snapshot, add_to_snapshot collects its users.
  void begin_snapshot(const std::string& node);
  bool in_snapshot(const std::string& node) const { return snapshots_.contains(node); }
  void add_to_snapshot(const std::string& node, const presence_update& u);
  /// The snapshot of `node` is whole: returns what it changes, offline first (at `now`, for
  /// users it no longer lists), then online for users not known online there. Empty when no
  /// snapshot of `node` was begun.
  std::vector<presence_update> end_snapshot(const std::string& node, unix_ms now);

  /// `node` left: forgets it. True when it was known to hold anyone.
  bool forget(const std::string& node);
  std::size_t online_on(const std::string& node) const;

 private:
  std::unordered_map<std::string, std::unordered_set<user_id>> online_;  // node -> its users
  std::unordered_map<std::string, std::vector<presence_update>> snapshots_;  // being received
};

}  // namespace chatrix::cluster::redis
