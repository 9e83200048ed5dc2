// Checkpoints of the SQLite store's WAL on a thread of their own.
//
// SQLite's automatic checkpoint runs inside the commit that crossed its threshold, on the
// writer thread: under load that was a stall of 100 ms and more every few hundred ms (copying
// thousands of pages into the database file and syncing it), which every message queued
// behind it waited out. Here the writer only reports the WAL's size after each commit; this
// thread copies the WAL back (a PASSIVE checkpoint, which never blocks the writer) whenever
// it has grown enough. While the writer keeps committing, each pass has only the frames of the
// previous pass's duration left to copy, so passes shrink until one catches up between two
// commits and SQLite starts the WAL over. If the writer outpaces the copying anyway, the WAL
// is bounded by a checkpoint on the writer thread itself (writer_limit).
#pragma once

#include "storage/sqlite/connection.hpp"

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

namespace chatrix::storage::sqlite_detail {

class checkpointer {
 public:
  /// A pass starts once the WAL has grown by this many pages since the last one started: a
  /// pass copies each page once however often the WAL holds it, so passes over a longer
  /// stretch of the WAL copy fewer pages in all.
  static constexpr int background_pages = 4096;
  /// Beyond this, the writer checkpoints itself after its commit.
  static constexpr int writer_limit = 16384;

  /// Opens a connection of its own to `file` (which the writer created) and starts.
  checkpointer(const std::filesystem::path& file, int busy_timeout_ms);
  ~checkpointer() { stop(); }
  checkpointer(const checkpointer&) = delete;
  checkpointer& operator=(const checkpointer&) = delete;

  /// From the writer thread, after a commit: the WAL now holds `pages` pages. True when the
  /// writer should checkpoint itself.
  bool wal_grew(int pages);
  /// Finishes a pass in progress and stops the thread. Idempotent.
  void stop() noexcept;

 private:
  void run();

  connection conn_;
  int pages_at_last_pass_ = 0;  // writer thread only
  std::mutex mutex_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace chatrix::storage::sqlite_detail
