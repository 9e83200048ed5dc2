// The node registry: this node's lease in Redis, the periodic read of every node's lease,
// and dead-node detection (a node whose lease ran out without deregistering).
#pragma once

#include "cluster/bus.hpp"
#include "cluster/redis/bus_keys.hpp"
#include "cluster/redis/redis_connection.hpp"
#include "core/clock.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatrix::cluster::redis {

/// Thread-safety: none (the bus's I/O thread).
class node_registry {
 public:
  node_registry(const bus_keys& keys, std::string node_id, std::chrono::milliseconds lease_ttl, const clock& clk)
      : keys_(keys), node_id_(std::move(node_id)), lease_ttl_(lease_ttl), clock_(clk) {}

  /// Writes (renews) this node's lease, and prunes members whose lease ended long ago.
  void write_lease(redis_connection& conn, const node_info& self);
  /// Deletes this node's lease (deregistering).
  void erase_lease(redis_connection& conn);

  /// What one registry read found.
  struct read_result {
    std::uint64_t number = 0;         // reads are numbered in the order they were issued
    std::vector<std::string> died;    // listed before, lease gone without deregistering
    std::vector<std::string> left;    // listed before, deregistered since
  };
  /// Reads every node's lease and replaces the list; nullopt when the read failed (the list
  /// is then unchanged). Never completes if `conn` is closed meanwhile.
  boost::asio::awaitable<std::optional<read_result>> read(redis_connection& conn);
  /// Reads issued so far: a read numbered at least this sees every write made before now.
  std::uint64_t reads_issued() const noexcept { return reads_; }

  /// As of the last read: `node` is listed with a lease that ran out / that still runs at `now`.
  bool lease_expired(std::string_view node, unix_ms now) const;
  bool node_live(std::string_view node, unix_ms now) const;
  const std::vector<node_info>& last_read() const noexcept { return nodes_; }
  /// Live nodes as last read, with `self` (this node, current figures) first if not listed.
  std::vector<node_info> live_nodes(node_info self) const;

 private:
  /// Replaces the list with what a read found; fills in the nodes that died and left.
  void update(const std::vector<std::string>& ids, const std::vector<reply>& replies, read_result& out);

  const bus_keys& keys_;
  std::string node_id_;
  std::chrono::milliseconds lease_ttl_;
  const clock& clock_;
  std::vector<node_info> nodes_;  // as of the last read
  std::uint64_t reads_ = 0;
};

}  // namespace chatrix::cluster::redis
