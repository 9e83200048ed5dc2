// Notices whose routing failed, held to be sent again when Redis, or the node that missed
// them, is back; and the receiving side's filter that hands each replayed notice over once.
// Pure: no Redis and no Asio; the caller passes the time and publishes the payloads.
#pragma once

#include "cluster/bus.hpp"
#include "cluster/redis/redis_bus_stats.hpp"
#include "core/types.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatrix::cluster::redis {

/// Thread-safety: none (the bus's I/O thread).
class notice_replay {
 public:
  struct limits {
    std::size_t max_held = 10'000;                      // the oldest go first beyond it
    std::chrono::milliseconds retention{std::chrono::minutes(5)};
    std::size_t max_payload_bytes = 512 * 1024;          // a replay payload is cut at about this
  };

  /// Counts notices_held, notices_held_dropped and notices_replayed into `stats`.
  notice_replay(limits lim, redis_bus_stats& stats) : limits_(lim), stats_(stats) {}

  /// Keeps a copy of `ev` if it is a notice (messages are pending in the database until
  /// delivered, and a resync finds them) for `node`, or for every node when `node` is empty.
  void hold(const user_event& ev, std::string node, unix_ms now);
  /// Drops what is older than the retention.
  void prune(unix_ms now);
  /// `node` died: nothing held for it alone will ever be asked for.
  void forget(std::string_view node);
  std::size_t held() const noexcept { return held_.size(); }

  /// The payloads (from `origin`, this node) carrying every held notice `node` may have
  /// missed, oldest first; with `hello`, the last one also asks `node` for its own.
  std::vector<std::string> payloads_for(std::string_view node, std::string_view origin, bool hello);

  /// A node asked for our notices before we could answer: answered at the next announcement.
  void defer_hello(std::string origin) { hellos_.insert(std::move(origin)); }
  std::unordered_set<std::string> take_deferred_hellos();

  /// Receiving: true the first time `origin`'s notice `seq` is seen (origins number their
  /// notices in increasing order, and may replay one several times).
  bool first_sight(std::string_view origin, std::uint64_t seq);

 private:
  struct held_notice {
    std::uint64_t seq = 0;
    std::string node;  // the node that missed it; empty: every node (it was routed nowhere)
    unix_ms at = 0;
    user_event ev;
  };

  limits limits_;
  redis_bus_stats& stats_;
  std::deque<held_notice> held_;  // in seq (and time) order
  std::uint64_t next_seq_ = 1;
  std::unordered_map<std::string, std::uint64_t> seen_;  // origin node -> highest seq handed over
  std::unordered_set<std::string> hellos_;
};

}  // namespace chatrix::cluster::redis
