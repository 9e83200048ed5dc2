// The per-user event stream of the SQLite store (store.hpp, "the per-user event stream";
// migration 5): how a write transaction adds events, and how a reader pages them back.
// Internal to src/storage/sqlite.
#pragma once

#include "storage/sqlite/connection.hpp"
#include "storage/store.hpp"

#include <chrono>
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

  /// Writes the events added and the counters they moved, then forgets a few expired events
  /// (more than were added, so a backlog only shrinks). Call once, inside the transaction.
  void flush();

 private:
  void prune_expired(unix_ms now, std::size_t at_most);

  connection& c_;
  std::chrono::milliseconds retention_;
  std::unordered_map<user_id, stream_pos> last_pos_;
  std::vector<stream_entry> added_;
};

/// The page of `viewer`'s stream after `since` (store::stream_events); the caller holds a read
/// transaction when it needs this consistent with other reads.
stream_page read_stream_page(connection& c, user_id viewer, stream_pos since, int limit);

/// The newest position of `viewer`'s stream (0: none yet).
stream_pos read_stream_latest(connection& c, user_id viewer);

}  // namespace chatrix::storage::sqlite_detail
