// The per-user event stream of the SQLite store (store.hpp, "the per-user event stream";
// migration 5): how a write transaction adds events, and how a reader pages them back.
// Internal to src/storage/sqlite.
#pragma once

#include "storage/sqlite/connection.hpp"
#include "storage/store.hpp"

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace chatrix::storage::sqlite_detail {

/// Collects the events of one step of a write batch and writes them with the step: each
/// owner's counter is read once and saved once, the events go in multi-row INSERTs.
class stream_writer {
 public:
  stream_writer(connection& c, std::chrono::milliseconds retention) : c_(c), retention_(retention) {}

  /// The next event of `owner`'s stream (written by flush()).
  stream_entry add(user_id owner, stream_kind kind, conversation_id conversation, std::vector<message_id> ids,
                   unix_ms at);

  /// Writes the events added and the counters they moved, then forgets expired events: of
  /// each stream written to, up to twice as many as were added to it plus
  /// store::max_pruned_per_write (so a backlog only shrinks), and of one stream drawn at
  /// random, up to max_pruned_per_write (so idle streams shrink too). Call once, inside the
  /// transaction.
  void flush();

 private:
  struct owner_state {
    stream_pos last = 0;
    std::int64_t added = 0;
  };
  /// Forgets the oldest events of `owner` older than `cutoff`, up to `at_most`, stopping at
  /// the first younger one: what remains is every event after pruned_through.
  void prune(user_id owner, unix_ms cutoff, std::int64_t at_most);

  connection& c_;
  std::chrono::milliseconds retention_;
  std::unordered_map<user_id, owner_state> owners_;
  std::vector<stream_entry> added_;
};

/// The page of `viewer`'s stream after `since` (store::stream_events); the caller holds a read
/// transaction when it needs this consistent with other reads.
stream_page read_stream_page(connection& c, user_id viewer, stream_pos since, int limit);

/// The newest position of `viewer`'s stream (0: none yet).
stream_pos read_stream_latest(connection& c, user_id viewer);

}  // namespace chatrix::storage::sqlite_detail
