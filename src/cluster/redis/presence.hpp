// Presence: which users have devices on this node, and their leased fields in Redis that let
// other nodes route those users' events here.
#pragma once

#include "cluster/redis/bus_keys.hpp"
#include "cluster/redis/redis_connection.hpp"
#include "core/clock.hpp"
#include "core/types.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace chatrix::cluster::redis {

/// A presence field's value: "<devices>:<lease end ms>" (a bare count: no lease known).
struct presence_field {
  std::int64_t devices = 0;
  std::optional<unix_ms> lease_end;
};

presence_field parse_presence_field(std::string_view value);

/// Device counts of this node's users, the changes not yet written, and the callers waiting
/// for their presence to be visible. Thread-safety: none (the bus's I/O thread).
class presence {
 public:
  presence(const bus_keys& keys, std::string node_id, std::chrono::milliseconds lease_ttl, const clock& clk)
      : keys_(keys), node_id_(std::move(node_id)), lease_ttl_(lease_ttl), clock_(clk) {}

  void add_device(user_id id);
  /// False when `id` had no device here.
  bool remove_device(user_id id);
  bool has(user_id id) const { return devices_.contains(id); }
  bool empty() const noexcept { return devices_.empty(); }
  std::int64_t connections() const noexcept { return connections_; }
  bool changed() const noexcept { return !changed_.empty(); }

  /// Writes the fields of the users whose devices changed (deleting those now gone).
  void write_changes(redis_connection& conn);
  /// Writes every field again, and deletes those of users who left meanwhile (after a link
  /// loss Redis may have forgotten them).
  void rewrite_all(redis_connection& conn);
  /// Renews every field (rewritten, not just PEXPIREd, so that an entry that expired heals).
  void renew(redis_connection& conn);
  /// Deletes every field of this node (deregistering).
  void erase_all(redis_connection& conn);

  void await_visible(std::function<void()> visible) { waiters_.push_back(std::move(visible)); }
  bool awaiting_visible() const noexcept { return !waiters_.empty(); }
  std::vector<std::function<void()>> take_waiters();

 private:
  void write(redis_connection& conn, user_id id, std::int64_t devices);

  const bus_keys& keys_;
  std::string node_id_;
  std::chrono::milliseconds lease_ttl_;
  const clock& clock_;
  std::unordered_map<user_id, std::int64_t> devices_;  // devices per user on this node
  std::int64_t connections_ = 0;
  std::unordered_set<user_id> changed_;  // fields to write at the end of this turn
  std::vector<std::function<void()>> waiters_;  // device_connected callers awaiting their presence
};

}  // namespace chatrix::cluster::redis
