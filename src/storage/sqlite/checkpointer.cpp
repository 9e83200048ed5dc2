// See checkpointer.hpp.

#include "storage/sqlite/checkpointer.hpp"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

namespace chatrix::storage::sqlite_detail {

checkpointer::checkpointer(const std::filesystem::path& file, int busy_timeout_ms)
    : conn_(connection::open(file, open_mode::read_write_create)) {
  sqlite3_busy_timeout(conn_.handle(), busy_timeout_ms);
  // A connection learns that the database is in WAL mode when it first reads it; until then
  // a checkpoint through it does nothing at all.
  conn_.exec("PRAGMA journal_mode");
  thread_ = std::thread([this] { run(); });
}

bool checkpointer::wal_grew(int pages) {
  if (pages < pages_at_last_pass_) pages_at_last_pass_ = 0;  // the WAL started over
  if (pages >= pages_at_last_pass_ + background_pages) {
    pages_at_last_pass_ = pages;
    {
      std::lock_guard lock(mutex_);
      wanted_ = true;
    }
    cv_.notify_one();
  }
  return pages >= writer_limit;
}

void checkpointer::stop() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void checkpointer::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return wanted_ || stopping_; });
      if (stopping_) return;
      wanted_ = false;
    }
    // PASSIVE: copies what no reader still needs and never waits for the writer. SQLITE_BUSY
    // means another checkpoint (the writer's own) is running; the next commit asks again.
    const int rc = sqlite3_wal_checkpoint_v2(conn_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
      spdlog::warn("sqlite store: checkpoint failed: {}", sqlite3_errmsg(conn_.handle()));
  }
}

}  // namespace chatrix::storage::sqlite_detail
