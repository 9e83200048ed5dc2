// Who is online on which node, as this node learns it from the bus (presence_changed from
// every node, this one included; node_gone for a node that left). A user is online while any
// node holds them. Pure; the chat service feeds it and tells watchers of what changed.
#pragma once

#include "cluster/bus.hpp"
#include "core/types.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace chatrix::chat {

/// A user's presence across the cluster.
struct presence_state {
  bool online = false;
  unix_ms at = 0;  // online: when they came online; offline: when the last node lost them
};

/// Thread-safety: none; owned by the chat service, used on the I/O thread.
class presence_board {
 public:
  /// Users seen going offline are remembered (their last_seen may not be in the store yet)
  /// up to this many; past it they are forgotten together, the store having had time to
  /// record them.
  explicit presence_board(std::size_t max_offline = 100'000) : max_offline_(max_offline) {}

  /// Node `node` holds (or no longer holds) `u.user`. The user's state when it changed
  /// (online to offline or back), nullopt when it did not.
  std::optional<presence_state> apply(const std::string& node, const cluster::presence_update& u);
  /// Node `node` left at `at`: the users that are offline now, having been held only there.
  std::vector<user_id> node_gone(const std::string& node, unix_ms at);
  /// What the board knows of `id`: nullopt when it never saw them (offline, last seen as stored).
  std::optional<presence_state> state(user_id id) const;

 private:
  struct entry {
    std::vector<std::pair<std::string, unix_ms>> nodes;  // holding them, with since when (few)
    unix_ms offline_at = 0;                              // when `nodes` last became empty
  };

  void went_offline(user_id id, entry& e, unix_ms at);

  std::size_t max_offline_;
  std::size_t offline_ = 0;  // entries with no node
  std::unordered_map<user_id, entry> users_;
  std::unordered_map<std::string, std::unordered_set<user_id>> by_node_;
};

}  // namespace chatrix::chat
