// redis_bus's counters, in a header of their own so that the parts of the bus can count too.
#pragma once

#include <cstdint>

namespace chatrix::cluster::redis {

/// Counters for metrics and tests; monotonically increasing.
struct redis_bus_stats {
  std::uint64_t published = 0;           // publish() calls
  std::uint64_t delivered_local = 0;     // handed at once to this node's sink
  std::uint64_t routed_remote = 0;       // event copies published to other nodes
  std::uint64_t received_remote = 0;     // events from other nodes handed to the sink
  std::uint64_t dropped_redis_down = 0;  // not routed: Redis unreachable or the round failed
  std::uint64_t dropped_overflow = 0;    // not routed: the queue was full
  std::uint64_t publishes_unheard = 0;   // PUBLISH reached no subscriber (that node is down)
  std::uint64_t resyncs = 0;             // sink.resync() calls
  std::uint64_t reconnects = 0;          // a link (commands or subscription) up again after a loss
  std::uint64_t resync_signals_sent = 0; // "resync" records sent after we dropped routing
  std::uint64_t decode_errors = 0;
  std::uint64_t node_deaths = 0;         // leases that ran out without deregistering (resync)
  std::uint64_t notices_held = 0;        // notices kept for replay after their routing failed
  std::uint64_t notices_held_dropped = 0;  // ... and dropped again: buffer full or too old
  std::uint64_t notices_replayed = 0;    // replayed notice copies sent
  std::uint64_t replays_received = 0;    // replayed notices handed to the sink (repeats not counted)
  std::uint64_t early_dropped = 0;       // events received before a sync that did not fit the buffer
  std::uint64_t revocations_published = 0;  // publish_revocation() calls
  std::uint64_t revocations_received = 0;   // revocations from other nodes handed to the sink
  std::uint64_t presence_published = 0;     // presence updates broadcast (snapshots included)
  std::uint64_t presence_received = 0;      // presence updates from other nodes handed to the sink
  std::uint64_t user_changes_received = 0;  // user changes from other nodes handed to the sink
  std::uint64_t snapshots_sent = 0;         // presence snapshots published
  std::uint64_t nodes_gone = 0;             // sink.node_gone calls
  std::uint64_t ephemeral_dropped = 0;      // ephemeral events not routed: queue half full, or no Redis
};

}  // namespace chatrix::cluster::redis
