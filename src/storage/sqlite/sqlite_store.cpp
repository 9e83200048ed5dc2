// SQLite store: the write queue and group-committing writer thread, the reader pool, and
// each store operation as a job that runs on one of them.

#include "storage/sqlite/sqlite_store.hpp"

#include "core/username.hpp"
#include "metrics/metrics.hpp"
#include "storage/sqlite/checkpointer.hpp"
#include "storage/sqlite/connection.hpp"
#include "storage/sqlite/files.hpp"
#include "storage/sqlite/message_changes.hpp"
#include "storage/sqlite/migrations.hpp"
#include "storage/sqlite/people.hpp"
#include "storage/sqlite/queries.hpp"
#include "storage/sqlite/rows.hpp"
#include "storage/sqlite/stream.hpp"
#include "storage/sqlite/tokens.hpp"
#include "storage/sqlite/write_jobs.hpp"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_set>
#include <utility>

namespace chatrix::storage {

using sqlite_detail::append_job;
using sqlite_detail::connection;
using sqlite_detail::deliver;
using sqlite_detail::failure;
using sqlite_detail::job_run;
using sqlite_detail::open_mode;
using sqlite_detail::query;
using sqlite_detail::read_message;
using sqlite_detail::read_user;
using sqlite_detail::receipt_job;
using sqlite_detail::sqlite_error;
using sqlite_detail::to_error;
using sqlite_detail::typed_write_job;
using sqlite_detail::write_job;
namespace sql = sqlite_detail::sql;

namespace {

unix_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// A queued read: runs on a reader thread and reports at once.
class read_job {
 public:
  virtual ~read_job() = default;
  virtual void run(connection& c) noexcept = 0;
  virtual void reject(const error& e) noexcept = 0;
};

template <class T, class Work>
class typed_read_job final : public read_job {
 public:
  typed_read_job(Work work, callback<T> done) : work_(std::move(work)), done_(std::move(done)) {}

  void run(connection& c) noexcept override {
    std::optional<result<T>> outcome;
    try {
      outcome.emplace(work_(c));
    } catch (...) {
      outcome.emplace(failure<T>(sqlite_detail::current_failure("read")));
    }
    deliver(done_, std::move(*outcome));
  }

  void reject(const error& e) noexcept override { deliver(done_, failure<T>(e)); }

 private:
  Work work_;
  callback<T> done_;
};

// ---- search helpers ----

/// The smallest string greater than every string starting with `prefix` (byte order, as
/// SQLite's BINARY collation compares): the last byte below 0xFF incremented, the rest
/// cut. None if the prefix is all 0xFF bytes (never valid UTF-8).
std::optional<std::string> prefix_upper_bound(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

int clamp_limit(int limit, int max) { return std::clamp(limit, 0, max); }

// ---- reads shared by several calls ----

std::vector<message> read_pending(connection& c, user_id recipient, message_id after, int limit) {
  std::vector<message> out;
  // A negative LIMIT means "no limit" to SQLite.
  const int n = std::max(limit, 0);
  if (n == 0) return out;
  query q(c, sql::select_pending);
  q.bind(recipient, after, n);
  while (q.step()) out.push_back(read_message(q, 0));
  return out;
}

/// The viewer's conversations, most recent first, after `before` when given.
std::vector<chat_preview> read_previews(connection& c, user_id viewer, int limit,
                                        std::optional<preview_cursor> before = std::nullopt) {
  std::vector<chat_preview> out;
  const int n = clamp_limit(limit, query_limits::max_previews);
  if (n == 0) return out;
  query q(c, before ? sql::select_previews_before : sql::select_previews);
  q.bind(viewer, n);
  if (before) q.bind_at(3, before->updated_at).bind_at(4, before->conversation);
  while (q.step()) {
    chat_preview p;
    p.conversation = q.int64(0);
    p.updated_at = q.int64(1);
    p.peer = read_user(q, 2);
    p.unread = q.int64(8);
    p.last = read_message(q, 9);
    out.push_back(std::move(p));
  }
  return out;
}

/// A page of one conversation as `viewer` sees it (without what is withheld from them): with
/// `after`, the oldest messages after it, oldest first; otherwise the newest before `before`
/// (when given), newest first.
std::vector<message> read_conversation_page(connection& c, user_id viewer, conversation_id conversation,
                                            std::optional<message_id> before, std::optional<message_id> after,
                                            int limit) {
  std::vector<message> out;
  const int n = clamp_limit(limit, query_limits::max_history_page);
  if (n == 0) return out;
  // Within one conversation ids and seqs grow together, so "id beyond x" is "seq beyond the
  // seq of x" when x is a message of this conversation (the normal case); otherwise the id is
  // filtered while walking the same index (slower, only for odd clients).
  const auto seq_of = [&](message_id id) -> std::optional<std::int64_t> {
    query q(c, sql::select_message_position);
    q.bind(id);
    if (q.step() && q.int64(0) == conversation) return q.int64(1);
    return std::nullopt;
  };
  const auto read_all = [&](std::string_view text, std::int64_t bound) {
    query q(c, text);
    q.bind(conversation, bound, n, viewer);
    while (q.step()) out.push_back(read_message(q, 0));
  };
  if (after) {
    if (const auto seq = seq_of(*after)) {
      read_all(sql::select_messages_after_seq, *seq);
    } else {
      read_all(sql::select_messages_after_id, *after);
    }
  } else if (!before) {
    read_all(sql::select_history_before_seq, std::numeric_limits<std::int64_t>::max());
  } else if (const auto seq = seq_of(*before)) {
    read_all(sql::select_history_before_seq, *seq);
  } else {
    read_all(sql::select_history_before_id, *before);
  }
  return out;
}

/// Ends a reader's explicit transaction; a reader's COMMIT only releases its snapshot.
void end_read(connection& c) noexcept {
  try {
    query(c, sql::commit).run();
  } catch (const sqlite_error&) {
    // A read-only transaction has nothing to commit; should COMMIT fail anyway, the next
    // BEGIN on this connection reports it to its caller.
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------

class sqlite_store::impl {
 public:
  impl(const std::filesystem::path& file, sqlite_options opts);
  ~impl() { shutdown(); }

  template <class T, class Work>
  void write(callback<T> done, Work work) {
    enqueue(std::make_unique<typed_write_job<T, Work>>(std::move(work), std::move(done)));
  }

  void enqueue(std::unique_ptr<write_job> job) {
    // Allocated by the caller, outside the lock; the lock only guards the queue.
    error rejection;
    {
      std::unique_lock lock(write_mutex_);
      if (!write_stopping_ && writes_.size() < opts_.max_queued_writes) {
        writes_.push_back(std::move(job));
        note_queued_writes();
        // Woken after the unlock, the writer does not block on the mutex still held here.
        lock.unlock();
        write_cv_.notify_one();
        return;
      }
      rejection = write_stopping_ ? make_error(errc::unavailable, "store is shut down")
                                  : make_error(errc::overloaded, "too many queued writes");
    }
    job->fail(rejection);
    job->complete();
  }

  template <class T, class Work>
  void read(callback<T> done, Work work) {
    auto job = std::make_unique<typed_read_job<T, Work>>(std::move(work), std::move(done));
    error rejection;
    {
      std::unique_lock lock(read_mutex_);
      if (!read_stopping_ && reads_.size() < opts_.max_queued_reads) {
        reads_.push_back(std::move(job));
        lock.unlock();
        read_cv_.notify_one();
        return;
      }
      rejection = read_stopping_ ? make_error(errc::unavailable, "store is shut down")
                                 : make_error(errc::overloaded, "too many queued reads");
    }
    job->reject(rejection);
  }

  void shutdown();
  std::chrono::milliseconds retention() const noexcept { return opts_.sync_retention; }
  /// Only for jobs, which run on the writer thread.
  sqlite_detail::writer_state& writer_state() noexcept { return writer_state_; }
  std::uint64_t committed_batches() const noexcept { return batches_.load(std::memory_order_relaxed); }

 private:
  void configure_writer(connection& c);
  void migrate(connection& c);
  void stop_threads() noexcept;
  void writer_loop();
  void run_batch(std::vector<std::unique_ptr<write_job>>& batch);
  /// chatrix_queue_depth{queue="store_writes"}: one relaxed store, under write_mutex_.
  void note_queued_writes() noexcept {
    if (opts_.metrics) opts_.metrics->queued_writes.store(static_cast<std::int64_t>(writes_.size()), std::memory_order_relaxed);
  }
  static void rollback(connection& c) noexcept;
  void reader_loop(connection& c);
  /// sqlite3_wal_hook: after each of the writer's commits, with the WAL's size in pages.
  static int on_commit(void* self, sqlite3*, const char*, int wal_pages);

  sqlite_options opts_;
  std::optional<connection> writer_conn_;
  std::deque<connection> reader_conns_;  // deque: threads hold references into it
  std::optional<sqlite_detail::checkpointer> checkpointer_;
  bool checkpoint_on_writer_ = false;  // the WAL outgrew the checkpointer (writer thread only)
  sqlite_detail::writer_state writer_state_;  // writer thread only, once the threads run

  std::mutex write_mutex_;
  std::condition_variable write_cv_;
  std::deque<std::unique_ptr<write_job>> writes_;
  bool write_stopping_ = false;

  std::mutex read_mutex_;
  std::condition_variable read_cv_;
  std::deque<std::unique_ptr<read_job>> reads_;
  bool read_stopping_ = false;

  std::thread writer_;
  std::vector<std::thread> readers_;
  std::once_flag shutdown_once_;
  std::atomic<std::uint64_t> batches_{0};
};

sqlite_store::impl::impl(const std::filesystem::path& file, sqlite_options opts) : opts_(std::move(opts)) {
  opts_.max_batch_size = std::max<std::size_t>(opts_.max_batch_size, 1);
  const int reader_count = std::max(opts_.reader_threads, 1);
  const auto busy_ms = static_cast<int>(opts_.busy_timeout.count());
  try {
    sqlite_detail::create_owner_only(file);
    writer_conn_.emplace(connection::open(file, open_mode::read_write_create));
    sqlite3_busy_timeout(writer_conn_->handle(), busy_ms);
    configure_writer(*writer_conn_);
    migrate(*writer_conn_);
    writer_state_.retention = opts_.sync_retention;
    writer_state_.blocks_possible = sqlite_detail::any_block(*writer_conn_);
    // Readers open after the writer switched to WAL and created the schema; read-only
    // connections cannot do either.
    for (int i = 0; i < reader_count; ++i) {
      connection& c = reader_conns_.emplace_back(connection::open(file, open_mode::read_only));
      sqlite3_busy_timeout(c.handle(), busy_ms);
      query(c, sql::temp_store_memory).run();
      query(c, sql::reader_cache_size).run();
    }
    checkpointer_.emplace(file, busy_ms);
    // Replaces SQLite's automatic checkpoint, which would run inside the writer's commits.
    sqlite3_wal_hook(writer_conn_->handle(), &impl::on_commit, this);
  } catch (const sqlite_error& e) {
    throw error_exception(make_error(errc::unavailable, "cannot open database " + file.string() + ": " + e.what()));
  }
  try {
    writer_ = std::thread([this] { writer_loop(); });
    for (connection& c : reader_conns_) readers_.emplace_back([this, &c] { reader_loop(c); });
  } catch (...) {
    // The destructor will not run for a half-built object: stop what started.
    stop_threads();
    throw;
  }
}

void sqlite_store::impl::configure_writer(connection& c) {
  {
    query q(c, sql::journal_mode_wal);
    if (!q.step() || q.text(0) != "wal") {
      throw sqlite_error(SQLITE_ERROR, "cannot switch the database to WAL mode");
    }
  }
  query(c, sql::synchronous_full).run();
  query(c, sql::temp_store_memory).run();
  query(c, sql::writer_cache_size).run();
}

int sqlite_store::impl::on_commit(void* self, sqlite3*, const char*, int wal_pages) {
  auto* store = static_cast<impl*>(self);
  if (store->checkpointer_->wal_grew(wal_pages)) {
    // Between batches, not inside this commit: its callbacks should not wait for the copy.
    store->checkpoint_on_writer_ = true;
  }
  return SQLITE_OK;
}

void sqlite_store::impl::migrate(connection& c) {
  using sqlite_detail::migrations;
  c.exec(sqlite_detail::create_schema_version_table);
  const int latest = std::end(migrations)[-1].version;
  for (const auto& m : migrations) {
    // The version is read inside the write transaction so that two processes opening a
    // new file at once cannot both apply a migration.
    query(c, sql::begin_immediate).run();
    try {
      std::int64_t current = 0;
      {
        query q(c, sql::select_schema_version);
        if (q.step()) current = q.int64(0);
      }
      if (current > latest) {
        throw error_exception(make_error(
            errc::unavailable, "database schema version " + std::to_string(current) +
                                   " is newer than this build supports (" + std::to_string(latest) + ")"));
      }
      if (current < m.version) {
        spdlog::info("sqlite store: applying migration {} ({})", m.version, m.name);
        c.exec(m.sql);
        query(c, sql::insert_schema_version).bind(m.version, m.name, now_ms()).run();
      }
      query(c, sql::commit).run();
    } catch (...) {
      try {
        query(c, sql::rollback).run();
      } catch (const sqlite_error&) {
        // Already rolled back by SQLite; the original error is the one to report.
      }
      throw;
    }
  }
}

void sqlite_store::impl::shutdown() {
  std::call_once(shutdown_once_, [this] {
    stop_threads();
    checkpointer_.reset();
    // Readers close first: the last connection to close checkpoints the WAL into the
    // main file, and that must be the read-write one.
    reader_conns_.clear();
    writer_conn_.reset();
  });
}

void sqlite_store::impl::stop_threads() noexcept {
  // Writes first: their callbacks run before the threads stop. Reads keep being served
  // meanwhile, then the readers drain their queue too.
  {
    std::lock_guard lock(write_mutex_);
    write_stopping_ = true;
  }
  write_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(read_mutex_);
    read_stopping_ = true;
  }
  read_cv_.notify_all();
  for (std::thread& t : readers_) {
    if (t.joinable()) t.join();
  }
}

void sqlite_store::impl::writer_loop() {
  std::vector<std::unique_ptr<write_job>> batch;
  for (;;) {
    {
      std::unique_lock lock(write_mutex_);
      write_cv_.wait(lock, [this] { return !writes_.empty() || write_stopping_; });
      if (writes_.empty()) return;  // stopping, and everything queued has been written
    }
    if (opts_.before_write_batch) opts_.before_write_batch();
    {
      // Everything that queued up while the previous batch was being written goes into
      // this one: under load, batches grow and the cost of a commit is shared.
      std::lock_guard lock(write_mutex_);
      const std::size_t n = std::min(opts_.max_batch_size, writes_.size());
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(writes_.front()));
        writes_.pop_front();
      }
      note_queued_writes();
    }
    run_batch(batch);
    batch.clear();
    if (std::exchange(checkpoint_on_writer_, false)) {
      // The checkpointer falls behind: copy the rest here, where no commit can add to it.
      sqlite3_wal_checkpoint_v2(writer_conn_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
  }
}

void sqlite_store::impl::run_batch(std::vector<std::unique_ptr<write_job>>& batch) {
  connection& c = *writer_conn_;
  // The batch as steps: all appends together, first, then each single job alone and
  // consecutive receipts together. Moving the appends ahead changes no outcome: no other
  // write of a batch can refer to a message stored in it (its id is known only once the
  // batch committed), and no append to a user created in it (same reason).
  std::vector<write_job*> jobs;
  jobs.reserve(batch.size());
  for (auto& job : batch) jobs.push_back(job.get());
  std::stable_partition(jobs.begin(), jobs.end(),
                        [](const write_job* j) { return j->job_kind() == write_job::kind::append; });
  std::vector<std::span<write_job* const>> steps;
  for (std::size_t first = 0; first < jobs.size();) {
    const auto kind = jobs[first]->job_kind();
    std::size_t end = first + 1;
    if (kind != write_job::kind::single)
      while (end < jobs.size() && jobs[end]->job_kind() == kind) ++end;
    steps.emplace_back(jobs.data() + first, end - first);
    first = end;
  }
  // A step that aborts is taken out with its error and the others run again in a fresh
  // transaction, so a failure never fails its neighbours; every round removes a step.
  const auto began = std::chrono::steady_clock::now();
  while (!steps.empty()) {
    try {
      query(c, sql::begin_immediate).run();
    } catch (const sqlite_error& e) {
      spdlog::error("sqlite store: cannot begin a write transaction: {}", e.what());
      for (const auto& step : steps)
        for (auto* job : step) job->fail(to_error(e));
      break;
    }
    auto aborted = std::find_if(steps.begin(), steps.end(), [&](const auto& step) {
      return sqlite_detail::run_step(c, step, writer_state_) == job_run::aborted;
    });
    if (aborted != steps.end()) {
      rollback(c);
      steps.erase(aborted);
      continue;
    }
    try {
      query(c, sql::commit).run();
      batches_.fetch_add(1, std::memory_order_relaxed);
      if (opts_.metrics) {
        opts_.metrics->commit_seconds.observe_since(began);
        opts_.metrics->commit_writes.observe(batch.size());
      }
    } catch (const sqlite_error& e) {
      spdlog::error("sqlite store: commit failed: {}", e.what());
      rollback(c);
      // Nothing of this transaction is durable: no job may report success.
      for (const auto& step : steps)
        for (auto* job : step) job->fail(to_error(e));
    }
    break;
  }
  if (std::exchange(writer_state_.recheck_blocks, false)) {
    try {
      writer_state_.blocks_possible = sqlite_detail::any_block(c);
    } catch (const sqlite_error& e) {
      spdlog::error("sqlite store: cannot count blocks: {}", e.what());
      writer_state_.blocks_possible = true;  // looking costs a lookup; not looking could be wrong
    }
  }
  // Only now, with the batch settled, in submission order.
  for (auto& job : batch) job->complete();
}

void sqlite_store::impl::rollback(connection& c) noexcept {
  // SQLite rolls some failures back by itself (SQLITE_FULL, SQLITE_IOERR...).
  if (c.autocommit()) return;
  try {
    query(c, sql::rollback).run();
  } catch (const sqlite_error& e) {
    spdlog::error("sqlite store: rollback failed: {}", e.what());
  }
}

void sqlite_store::impl::reader_loop(connection& c) {
  for (;;) {
    std::unique_ptr<read_job> job;
    {
      std::unique_lock lock(read_mutex_);
      read_cv_.wait(lock, [this] { return !reads_.empty() || read_stopping_; });
      if (reads_.empty()) return;
      job = std::move(reads_.front());
      reads_.pop_front();
    }
    job->run(c);
  }
}

// ---------------------------------------------------------------------------------------

sqlite_store::sqlite_store(std::filesystem::path db_file, sqlite_options opts)
    : impl_(std::make_unique<impl>(db_file, std::move(opts))) {}

result<std::unique_ptr<sqlite_store>> sqlite_store::open(std::filesystem::path db_file, sqlite_options opts) {
  try {
    return std::make_unique<sqlite_store>(std::move(db_file), std::move(opts));
  } catch (const error_exception& e) {
    return e.err;
  }
}

sqlite_store::~sqlite_store() { shutdown(); }

void sqlite_store::shutdown() { impl_->shutdown(); }

std::uint64_t sqlite_store::committed_batches() const noexcept { return impl_->committed_batches(); }

// ---- users ----

void sqlite_store::create_user(new_user u, callback<user> done) {
  impl_->write<user>(std::move(done), [u = std::move(u)](connection& c) -> result<user> {
    const std::string folded = fold_username(u.username);
    // A tombstone past its quarantine gives the name up first. Should the insert still find
    // the name taken, nothing was written: only one row can hold a folded name.
    if (u.reclaim_deleted_before > 0) query(c, sql::reclaim_username).bind(folded, u.reclaim_deleted_before).run();
    query q(c, sql::insert_user);
    q.bind(u.username, folded, u.name, u.password_hash, u.created_at);
    if (!q.step()) return make_error(errc::username_taken, "username already taken");
    return user{q.int64(0), u.username, u.name};
  });
}

void sqlite_store::find_user_by_name(std::string username, callback<std::optional<user_credentials>> done) {
  impl_->read<std::optional<user_credentials>>(
      std::move(done),
      [folded = fold_username(username)](connection& c) -> result<std::optional<user_credentials>> {
        query q(c, sql::select_credentials_by_folded_name);
        q.bind(folded);
        if (!q.step()) return std::optional<user_credentials>();
        return std::optional<user_credentials>(user_credentials{read_user(q, 0), q.text(6)});
      });
}

void sqlite_store::find_user_by_id(user_id id, callback<std::optional<user>> done) {
  impl_->read<std::optional<user>>(std::move(done), [id](connection& c) -> result<std::optional<user>> {
    query q(c, sql::select_user_by_id);
    q.bind(id);
    if (!q.step()) return std::optional<user>();
    return std::optional<user>(read_user(q, 0));
  });
}

void sqlite_store::ping(callback<bool> done) {
  impl_->read<bool>(std::move(done), [](connection& c) -> result<bool> {
    query q(c, sql::ping);
    return q.step();
  });
}

void sqlite_store::set_password_hash(user_id user, std::string hash, callback<bool> done) {
  impl_->write<bool>(std::move(done), [user, hash = std::move(hash)](connection& c) -> result<bool> {
    query q(c, sql::set_password_hash);
    q.bind(user, hash);
    return q.step();
  });
}

// Ranked by filling five tiers in order (see migration 2 for the indexes):
//   1. the exact username,                 2. the exact display name, by id,
//   3. usernames starting with the fragment, in username order,
//   4. display names starting with it, in (display name, id) order,
//   5. every user whose username or display name contains it, in (suffix, id) order: the
//      folded text from the match to the end of the field, then the id.
// Everything is compared folded (fold_username: ASCII case only) and in byte order, like
// the PostgreSQL store, so both return the same users in the same order. A user already
// taken by an earlier tier is skipped, so every tier reads at most `limit` users plus those
// already taken: each is a walk of an index in ranking order stopped early, whose cost does
// not grow with the number of users or of matches. No LIKE, GLOB or MATCH is used, so no
// character of the fragment is special.
void sqlite_store::search_users(std::string fragment, int limit, callback<std::vector<user>> done) {
  impl_->read<std::vector<user>>(
      std::move(done), [fragment = std::move(fragment), limit](connection& c) -> result<std::vector<user>> {
        std::vector<user> out;
        const auto wanted = static_cast<std::size_t>(clamp_limit(limit, query_limits::max_search_results));
        // An empty fragment would match every user: treat it as no search at all.
        if (wanted == 0 || fragment.empty()) return out;
        const std::string folded = fold_username(fragment);
        // None only for a fragment of 0xFF bytes, which is not UTF-8 and matches nothing.
        const auto upper = prefix_upper_bound(folded);
        if (!upper) return out;

        std::vector<user_id> ids;
        // Adds a user unless an earlier tier has it; true once there are enough.
        const auto take = [&](user_id id) {
          if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
          return ids.size() >= wanted;
        };
        const auto per_tier = static_cast<std::int64_t>(wanted);
        // Steps through one tier's rows until there are enough users.
        const auto run_tier = [&](std::string_view sql, const auto&... args) {
          query q(c, sql);
          q.bind(args...);
          while (q.step()) {
            if (take(q.int64(0))) return;
          }
        };
        const auto need_more = [&] { return ids.size() < wanted; };
        run_tier(sql::search_exact_username, folded);
        if (need_more()) run_tier(sql::search_exact_name, folded, per_tier);
        if (need_more()) run_tier(sql::search_username_prefix, folded, *upper, per_tier);
        if (need_more()) run_tier(sql::search_name_prefix, folded, *upper, per_tier);
        if (need_more()) run_tier(sql::search_substring, folded, *upper);
        out.reserve(ids.size());
        for (const user_id id : ids) {
          query q(c, sql::select_search_user);
          q.bind(id);
          if (q.step()) out.push_back(sqlite_detail::read_user_name(q, 0));
        }
        return out;
      });
}

// ---- messages ----

void sqlite_store::append_message(send_request req, callback<send_result> done) {
  impl_->enqueue(std::make_unique<append_job>(std::move(req), std::move(done)));
}

void sqlite_store::mark_delivered(user_id recipient, std::vector<message_id> ids, unix_ms at,
                                  callback<delivered_result> done) {
  impl_->enqueue(std::make_unique<receipt_job>(recipient, std::move(ids), at, std::move(done)));
}

void sqlite_store::mark_read(user_id reader, std::vector<message_id> ids, unix_ms at, callback<read_result> done) {
  impl_->write<read_result>(std::move(done), [reader, ids = std::move(ids), at,
                                               retention = impl_->retention()](connection& c) -> result<read_result> {
    // Every id is checked before anything changes: a refusal must leave no write behind. The
    // same pass notes which messages nobody had received yet: reading delivers them too.
    read_result out;
    std::unordered_set<message_id> seen;
    // The news, in order of first appearance: per (sender, conversation) what was received and
    // read, for the sender's stream; per conversation what was read, for the reader's.
    struct sender_news {
      user_id sender;
      conversation_id conversation;
      std::vector<message_id> received, read;
    };
    std::vector<sender_news> per_sender;
    std::vector<std::pair<conversation_id, std::vector<message_id>>> per_conversation;
    for (const message_id id : ids) {
      query q(c, sql::select_read_state);
      q.bind(id);
      // A message withheld from the reader is, to them, no message at all.
      if (!q.step() || q.int64(1) != reader || q.int64(5) != 0)
        return make_error(errc::forbidden, "not a message to you");
      if (q.int64(3) != 0 || !seen.insert(id).second) continue;  // read before, or a repeated id
      const user_id sender = q.int64(0);
      const conversation_id conversation = q.int64(2);
      const bool first_receipt = q.int64(4) != 0;
      out.read.push_back(message_ref{id, sender, reader});
      if (first_receipt) out.delivered.push_back(out.read.back());
      auto news = std::find_if(per_sender.begin(), per_sender.end(), [&](const sender_news& n) {
        return n.sender == sender && n.conversation == conversation;
      });
      if (news == per_sender.end()) news = per_sender.insert(news, sender_news{sender, conversation, {}, {}});
      if (first_receipt) news->received.push_back(id);
      news->read.push_back(id);
      auto read_here = std::find_if(per_conversation.begin(), per_conversation.end(),
                                    [&](const auto& p) { return p.first == conversation; });
      if (read_here == per_conversation.end()) read_here = per_conversation.insert(read_here, {conversation, {}});
      read_here->second.push_back(id);
    }
    for (const auto& r : out.read) query(c, sql::set_read).bind(r.id, at).run();
    for (const auto& [conversation, read] : per_conversation)
      query(c, sql::subtract_unread).bind(conversation, reader, static_cast<std::int64_t>(read.size())).run();
    sqlite_detail::stream_writer stream(c, retention);
    for (auto& n : per_sender) {
      if (!n.received.empty())
        out.stream.push_back(stream.add(n.sender, stream_kind::received, n.conversation, std::move(n.received), at));
      out.stream.push_back(stream.add(n.sender, stream_kind::read, n.conversation, std::move(n.read), at));
    }
    for (auto& [conversation, read] : per_conversation)
      out.stream.push_back(stream.add(reader, stream_kind::read_self, conversation, std::move(read), at));
    stream.flush();
    return out;
  });
}

void sqlite_store::pending_messages(user_id recipient, message_id after, int limit,
                                    callback<std::vector<message>> done) {
  impl_->read<std::vector<message>>(
      std::move(done), [recipient, after, limit](connection& c) -> result<std::vector<message>> {
        return read_pending(c, recipient, after, limit);
      });
}

void sqlite_store::history(user_id a, user_id b, std::optional<message_id> before, int limit,
                           callback<std::vector<message>> done) {
  impl_->read<std::vector<message>>(
      std::move(done), [a, b, before, limit](connection& c) -> result<std::vector<message>> {
        conversation_id conversation = 0;
        {
          query q(c, sql::select_conversation_by_pair);
          q.bind(std::min(a, b), std::max(a, b));
          if (!q.step()) return std::vector<message>();
          conversation = q.int64(0);
        }
        return read_conversation_page(c, a, conversation, before, std::nullopt, limit);
      });
}

void sqlite_store::conversation_messages(user_id viewer, conversation_id chat, std::optional<message_id> before,
                                         std::optional<message_id> after, int limit,
                                         callback<std::vector<message>> done) {
  impl_->read<std::vector<message>>(
      std::move(done), [viewer, chat, before, after, limit](connection& c) -> result<std::vector<message>> {
        {
          query q(c, sql::select_conversation_members);
          q.bind(chat);
          if (!q.step() || (q.int64(0) != viewer && q.int64(1) != viewer))
            return make_error(errc::not_found, "no such conversation");
        }
        return read_conversation_page(c, viewer, chat, before, after, limit);
      });
}

void sqlite_store::chat_previews_page(user_id viewer, preview_cursor before, int limit,
                                      callback<std::vector<chat_preview>> done) {
  impl_->read<std::vector<chat_preview>>(
      std::move(done), [viewer, before, limit](connection& c) -> result<std::vector<chat_preview>> {
        return read_previews(c, viewer, limit, before);
      });
}

// ---- edits and deletes ----

void sqlite_store::edit_message(edit_request req, callback<edit_result> done) {
  impl_->write<edit_result>(std::move(done), [req = std::move(req), retention = impl_->retention()](connection& c) {
    return sqlite_detail::edit_message(c, req, retention);
  });
}

void sqlite_store::delete_messages(delete_request req, callback<delete_result> done) {
  impl_->write<delete_result>(std::move(done), [req = std::move(req), retention = impl_->retention()](connection& c) {
    return sqlite_detail::delete_messages(c, req, retention);
  });
}

// ---- files ----

void sqlite_store::create_file(stored_file f, callback<bool> done) {
  impl_->write<bool>(std::move(done), [f = std::move(f)](connection& c) { return sqlite_detail::create_file(c, f); });
}

void sqlite_store::append_file_chunk(std::string id, int index, std::string bytes, callback<bool> done) {
  impl_->write<bool>(std::move(done), [id = std::move(id), index, bytes = std::move(bytes)](connection& c) {
    return sqlite_detail::append_file_chunk(c, id, index, bytes);
  });
}

void sqlite_store::finish_file(std::string id, std::int64_t size, int chunks, callback<bool> done) {
  impl_->write<bool>(std::move(done), [id = std::move(id), size, chunks](connection& c) {
    return sqlite_detail::finish_file(c, id, size, chunks);
  });
}

void sqlite_store::file_for(user_id viewer, std::string id, callback<std::optional<stored_file>> done) {
  impl_->read<std::optional<stored_file>>(std::move(done), [viewer, id = std::move(id)](connection& c) {
    return sqlite_detail::file_for(c, viewer, id);
  });
}

void sqlite_store::read_file_chunk(std::string id, int index, callback<std::string> done) {
  impl_->read<std::string>(std::move(done), [id = std::move(id), index](connection& c) {
    return sqlite_detail::read_file_chunk(c, id, index);
  });
}

void sqlite_store::chat_previews(user_id viewer, int limit, callback<std::vector<chat_preview>> done) {
  impl_->read<std::vector<chat_preview>>(
      std::move(done), [viewer, limit](connection& c) -> result<std::vector<chat_preview>> {
        return read_previews(c, viewer, limit);
      });
}

void sqlite_store::session_start(user_id viewer, int previews_limit, int pending_limit,
                                 callback<session_snapshot> done) {
  impl_->read<session_snapshot>(
      std::move(done), [viewer, previews_limit, pending_limit](connection& c) -> result<session_snapshot> {
        // One read transaction for both: its locks are taken and released once, and the two
        // parts are a consistent view.
        query(c, sql::begin_deferred).run();
        session_snapshot out;
        try {
          out.previews = read_previews(c, viewer, previews_limit);
          out.pending = read_pending(c, viewer, 0, pending_limit);
          out.latest = sqlite_detail::read_stream_latest(c, viewer);
          out.blocks = sqlite_detail::read_block_relations(c, viewer);
        } catch (...) {
          end_read(c);
          throw;
        }
        end_read(c);
        return out;
      });
}

void sqlite_store::session_resume(user_id viewer, int previews_limit, stream_pos since, int events_limit,
                                  int pending_limit, callback<session_snapshot> done) {
  impl_->read<session_snapshot>(
      std::move(done),
      [viewer, previews_limit, since, events_limit, pending_limit](connection& c) -> result<session_snapshot> {
        // One snapshot: no event can fall between the stream page and `latest`, or between
        // the previews and the events that follow them.
        query(c, sql::begin_deferred).run();
        session_snapshot out;
        try {
          out.previews = read_previews(c, viewer, previews_limit);
          auto page = sqlite_detail::read_stream_page(c, viewer, since, std::max(events_limit, 0));
          out.latest = page.latest;
          if (page.expired) out.pending = read_pending(c, viewer, 0, pending_limit);
          out.stream = std::move(page);
          out.blocks = sqlite_detail::read_block_relations(c, viewer);
        } catch (...) {
          end_read(c);
          throw;
        }
        end_read(c);
        return out;
      });
}

void sqlite_store::stream_events(user_id viewer, stream_pos since, int limit, callback<stream_page> done) {
  impl_->read<stream_page>(std::move(done), [viewer, since, limit](connection& c) -> result<stream_page> {
    // The events and the messages they name, read as one snapshot.
    query(c, sql::begin_deferred).run();
    try {
      auto page = sqlite_detail::read_stream_page(c, viewer, since, limit);
      end_read(c);
      return page;
    } catch (...) {
      end_read(c);
      throw;
    }
  });
}

// ---- people ----

void sqlite_store::update_profile(profile_update u, callback<std::optional<user>> done) {
  impl_->write<std::optional<user>>(std::move(done), [u = std::move(u)](connection& c) {
    return sqlite_detail::update_profile(c, u);
  });
}

void sqlite_store::set_last_seen(std::vector<std::pair<user_id, unix_ms>> seen, callback<bool> done) {
  impl_->write<bool>(std::move(done), [seen = std::move(seen)](connection& c) {
    return sqlite_detail::set_last_seen(c, seen);
  });
}

void sqlite_store::block_user(user_id blocker, user_id blocked, unix_ms at, callback<bool> done) {
  impl_->write<bool>(std::move(done), [blocker, blocked, at, writer = &impl_->writer_state()](connection& c) {
    // Before the block can be committed: from the next append step on, appends look.
    writer->blocks_possible = true;
    return sqlite_detail::block_user(c, blocker, blocked, at);
  });
}

void sqlite_store::unblock_user(user_id blocker, user_id blocked, callback<bool> done) {
  impl_->write<bool>(std::move(done), [blocker, blocked, writer = &impl_->writer_state()](connection& c) {
    writer->recheck_blocks = true;
    return sqlite_detail::unblock_user(c, blocker, blocked);
  });
}

void sqlite_store::blocked_users(user_id blocker, callback<std::vector<block_entry>> done) {
  impl_->read<std::vector<block_entry>>(std::move(done), [blocker](connection& c) -> result<std::vector<block_entry>> {
    return sqlite_detail::read_blocked_users(c, blocker);
  });
}

void sqlite_store::block_relations_of(user_id id, callback<block_relations> done) {
  impl_->read<block_relations>(std::move(done), [id](connection& c) -> result<block_relations> {
    return sqlite_detail::read_block_relations(c, id);
  });
}

void sqlite_store::conversation_between(user_id a, user_id b, callback<std::optional<conversation_id>> done) {
  impl_->read<std::optional<conversation_id>>(
      std::move(done), [a, b](connection& c) -> result<std::optional<conversation_id>> {
        query q(c, sql::select_conversation_by_pair);
        q.bind(std::min(a, b), std::max(a, b));
        if (!q.step()) return std::optional<conversation_id>();
        return std::optional<conversation_id>(q.int64(0));
      });
}

void sqlite_store::delete_account(user_id id, unix_ms now, callback<account_deletion> done) {
  impl_->write<account_deletion>(std::move(done), [id, now, writer = &impl_->writer_state()](connection& c) {
    writer->recheck_blocks = true;  // the account's blocks go with it
    return sqlite_detail::delete_account(c, id, now);
  });
}

void sqlite_store::add_push_device(user_id id, push_device d, callback<bool> done) {
  impl_->write<bool>(std::move(done),
                     [id, d = std::move(d)](connection& c) { return sqlite_detail::add_push_device(c, id, d); });
}

void sqlite_store::remove_push_device(user_id id, std::string platform, std::string token, callback<bool> done) {
  impl_->write<bool>(std::move(done), [id, platform = std::move(platform), token = std::move(token)](connection& c) {
    return sqlite_detail::remove_push_device(c, id, platform, token);
  });
}

void sqlite_store::push_devices(user_id id, callback<std::vector<push_device>> done) {
  impl_->read<std::vector<push_device>>(std::move(done), [id](connection& c) -> result<std::vector<push_device>> {
    return sqlite_detail::read_push_devices(c, id);
  });
}

void sqlite_store::undelivered(std::vector<message_id> ids, callback<std::vector<message_id>> done) {
  impl_->read<std::vector<message_id>>(std::move(done),
                                       [ids = std::move(ids)](connection& c) -> result<std::vector<message_id>> {
                                         return sqlite_detail::read_undelivered(c, ids);
                                       });
}

// ---- tokens ----

namespace {

/// Calls with a bad jti answer at once, like any call refused before it was queued.
template <class T>
bool refuse_jti(std::string_view jti, const callback<T>& done) {
  if (is_valid_jti(jti)) return false;
  deliver(done, failure<T>(make_error(errc::invalid_field, "jti must be non-empty without NUL")));
  return true;
}

}  // namespace

void sqlite_store::record_token(token_record t, callback<bool> done) {
  if (refuse_jti(t.jti, done)) return;
  impl_->write<bool>(std::move(done), [t = std::move(t)](connection& c) {
    return sqlite_detail::record_token(c, t, now_ms());
  });
}

void sqlite_store::revoke_token(token_record t, callback<bool> done) {
  if (refuse_jti(t.jti, done)) return;
  impl_->write<bool>(std::move(done), [t = std::move(t)](connection& c) {
    return sqlite_detail::revoke_token(c, t, now_ms());
  });
}

void sqlite_store::revoke_user_tokens(user_id user, std::string keep_jti, std::int64_t now_s,
                                      callback<std::vector<token_record>> done) {
  if (!keep_jti.empty() && refuse_jti(keep_jti, done)) return;
  impl_->write<std::vector<token_record>>(
      std::move(done), [user, keep_jti = std::move(keep_jti), now_s](connection& c) {
        return sqlite_detail::revoke_user_tokens(c, user, keep_jti, now_s);
      });
}

void sqlite_store::revocations(unix_ms now, callback<revocation_snapshot> done) {
  impl_->read<revocation_snapshot>(std::move(done), [now](connection& c) -> result<revocation_snapshot> {
    // One read transaction: a revoke_user_tokens committed between the two reads would
    // otherwise show its cutoff without its tokens.
    query(c, sql::begin_deferred).run();
    try {
      auto out = sqlite_detail::read_revocations(c, now);
      end_read(c);
      return out;
    } catch (...) {
      end_read(c);
      throw;
    }
  });
}

}  // namespace chatrix::storage
