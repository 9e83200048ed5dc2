// PostgreSQL store: the event-loop thread, the group-committing pipelined writer, the
// reader pool, reconnection with backoff, and each store operation as a job.

#include "storage/postgres/postgres_store.hpp"

#include "core/username.hpp"

#include "storage/postgres/connection.hpp"
#include "storage/postgres/conninfo.hpp"
#include "storage/postgres/job.hpp"
#include "storage/postgres/migrate.hpp"
#include "storage/postgres/partitions.hpp"
#include "storage/postgres/queries.hpp"
#include "storage/postgres/rows.hpp"
#include "storage/postgres/scope_exit.hpp"
#include "storage/postgres/session.hpp"
#include "storage/postgres/write_jobs.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

namespace chatrix::storage {

namespace sql = postgres_detail::sql;
using postgres_detail::connection;
using postgres_detail::connection_lost;
using postgres_detail::params;
using postgres_detail::pg_result;
using postgres_detail::statement_error;
using postgres_detail::append_job;
using postgres_detail::i64;
using postgres_detail::job;
using postgres_detail::make_job;
using postgres_detail::partition_of_pair;
using postgres_detail::partition_of_user;
using postgres_detail::read_message;
using postgres_detail::read_messages;
using postgres_detail::read_user;
using postgres_detail::receipt_job;
using postgres_detail::scope_exit;
using postgres_detail::text;
using postgres_detail::unavailable_error;
using postgres_detail::write_unit;
using postgres_detail::group_unit;
using postgres_detail::migrate;
using postgres_detail::prepare;
using postgres_detail::setup_session;
using postgres_detail::units_of;
namespace asio = boost::asio;
using asio::awaitable;

namespace {

int clamp_limit(int limit, int max) { return std::clamp(limit, 0, max); }

/// Where a connection's loop is, so that a wake-up or a stop knows what to cancel.
enum class phase { busy, idle, backoff, connecting };

}  // namespace

// ---------------------------------------------------------------------------------------

class postgres_store::impl {
 public:
  impl(std::string url, postgres_options opts);
  ~impl() { shutdown(); }

  /// Queues a write for the writer of `partition`: writes of one partition are applied in
  /// call order; see postgres_options::writers.
  void write(std::unique_ptr<job> j, std::uint64_t partition);
  void read(std::unique_ptr<job> j);
  /// Completes a job whose outcome is already known, on the store's thread.
  void finish(std::unique_ptr<job> j);
  void shutdown();
  std::uint64_t committed_batches() const noexcept { return batches_.load(std::memory_order_relaxed); }

 private:
  /// A connection with its loop's state. Only touched on the event-loop thread.
  struct worker {
    explicit worker(const asio::any_io_executor& ex) : conn(ex), backoff(ex) {}
    connection conn;
    asio::steady_timer backoff;
    phase state = phase::busy;
    std::chrono::milliseconds delay{0};
    bool reported_down = false;  // log an outage once, not every retry
  };

  /// A writer connection and its queue. The queue and `up` are guarded by write_mutex_.
  struct writer_state {
    explicit writer_state(const asio::any_io_executor& ex) : w(ex) {}
    worker w;
    std::deque<std::unique_ptr<job>> queue;
    bool up = false;  // writes for it are refused while it is down
  };

  awaitable<void> start_connections();
  awaitable<void> writer_loop(writer_state& ws);
  awaitable<void> reader_loop(worker& w);
  awaitable<bool> reconnect(worker& w, bool writer);
  awaitable<void> run_batch(writer_state& ws, std::vector<std::unique_ptr<job>>& batch);
  awaitable<void> run_read(worker& w, std::unique_ptr<job> j);
  /// Session setup and prepared statements on a freshly connected worker, within the
  /// operation timeout.
  awaitable<void> prepare_worker(worker& w, bool is_writer);
  void writer_down(writer_state& ws);
  void reader_down(worker& w);
  void wake(worker& w);
  void stop_on_loop();
  void loop_finished();
  void spawn(awaitable<void> loop);

  std::string url_;
  std::string redacted_url_;
  std::vector<std::string> secrets_;  // the password's forms: scrubbed from every message
  postgres_options opts_;
  bool warned_synchronous_commit_ = false;  // loop thread

  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::deque<writer_state> writers_;  // deque: loops hold references
  std::deque<worker> readers_;

  // The write queues: filled by any thread, each drained by its writer loop.
  std::mutex write_mutex_;
  std::size_t writes_queued_ = 0;  // in all queues, guarded by write_mutex_
  bool writes_closed_ = false;

  // The read queue lives on the loop thread; only the bound is counted from outside.
  std::atomic<bool> reads_closed_{false};
  std::atomic<std::size_t> reads_queued_{0};
  std::deque<std::unique_ptr<job>> reads_;
  int readers_up_ = 0;

  bool stopping_ = false;  // loop thread
  int running_loops_ = 0;  // loop thread
  std::promise<void> loops_done_;
  std::once_flag shutdown_once_;
  std::atomic<std::uint64_t> batches_{0};
};

postgres_store::impl::impl(std::string url, postgres_options opts)
    : url_(postgres_detail::normalize_conninfo(std::move(url))),
      redacted_url_(redact_conninfo(url_)),
      secrets_(postgres_detail::conninfo_secrets(url_)),
      opts_(std::move(opts)),
      work_(ioc_.get_executor()) {
  opts_.max_batch = std::max<std::size_t>(opts_.max_batch, 1);
  opts_.writers = std::max(opts_.writers, 1);
  for (int i = 0; i < opts_.writers; ++i) writers_.emplace_back(ioc_.get_executor());
  opts_.pool_size = std::max(opts_.pool_size, 1);
  opts_.reconnect_min = std::max(opts_.reconnect_min, std::chrono::milliseconds(1));
  opts_.reconnect_max = std::max(opts_.reconnect_max, opts_.reconnect_min);
  opts_.timeout = std::max(opts_.timeout, std::chrono::milliseconds(1));
  for (int i = 0; i < opts_.pool_size; ++i) readers_.emplace_back(ioc_.get_executor());

  std::promise<void> started;
  auto started_future = started.get_future();
  asio::co_spawn(ioc_, start_connections(), [&started](std::exception_ptr e) {
    if (e) {
      started.set_exception(e);
    } else {
      started.set_value();
    }
  });
  thread_ = std::thread([this] { ioc_.run(); });
  try {
    started_future.get();
  } catch (const std::exception& e) {
    // Nothing else runs on the loop yet: closing from here, after it stopped, is safe.
    work_.reset();
    ioc_.stop();
    thread_.join();
    for (writer_state& ws : writers_) ws.w.conn.close();
    for (worker& r : readers_) r.conn.close();
    throw error_exception(make_error(errc::unavailable, "cannot open PostgreSQL database " + redacted_url_ + ": " +
                                                            postgres_detail::scrub(e.what(), secrets_)));
  }
  spdlog::info("postgres store: connected to {} ({} write and {} read connections)", redacted_url_, opts_.writers,
               opts_.pool_size);
}

awaitable<void> postgres_store::impl::start_connections() {
  connection& first = writers_.front().w.conn;
  co_await first.connect(url_, opts_.connect_timeout);
  // Migrations are not bounded by opts_.timeout: they may wait for another node's, and a
  // large one may take long.
  co_await setup_session(first, std::nullopt, warned_synchronous_commit_);
  const int version = co_await migrate(first);
  spdlog::info("postgres store: schema version {}", version);
  co_await prepare(first, sql::write_statements, true);
  for (std::size_t i = 1; i < writers_.size(); ++i) {
    co_await writers_[i].w.conn.connect(url_, opts_.connect_timeout);
    co_await prepare_worker(writers_[i].w, true);
  }
  for (worker& r : readers_) {
    co_await r.conn.connect(url_, opts_.connect_timeout);
    co_await prepare_worker(r, false);
  }
  {
    std::lock_guard lock(write_mutex_);
    for (writer_state& ws : writers_) ws.up = true;
  }
  readers_up_ = static_cast<int>(readers_.size());
  for (writer_state& ws : writers_) {
    ws.w.delay = opts_.reconnect_min;
    spawn(writer_loop(ws));
  }
  for (worker& r : readers_) {
    r.delay = opts_.reconnect_min;
    spawn(reader_loop(r));
  }
}

void postgres_store::impl::spawn(awaitable<void> loop) {
  ++running_loops_;
  asio::co_spawn(ioc_, std::move(loop), [this](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::critical("postgres store: a connection loop failed: {}", ex.what());
      } catch (...) {
        spdlog::critical("postgres store: a connection loop failed");
      }
    }
    loop_finished();
  });
}

void postgres_store::impl::loop_finished() {
  if (--running_loops_ > 0) return;
  // Everything has stopped: whatever is still queued can only fail.
  while (!reads_.empty()) {
    auto j = std::move(reads_.front());
    reads_.pop_front();
    j->fail(make_error(errc::unavailable, "store is shut down"));
    j->complete();
    reads_queued_.fetch_sub(1, std::memory_order_relaxed);
  }
  for (writer_state& ws : writers_) ws.w.conn.close();
  for (worker& r : readers_) r.conn.close();
  loops_done_.set_value();
}

// ---- entry points (any thread) ----

void postgres_store::impl::write(std::unique_ptr<job> j, std::uint64_t partition) {
  writer_state& ws = writers_[partition % writers_.size()];
  bool wake_writer = false;
  std::optional<error> rejection;
  {
    std::lock_guard lock(write_mutex_);
    if (writes_closed_) {
      rejection = make_error(errc::unavailable, "store is shut down");
    } else if (writes_queued_ >= opts_.max_queued_writes) {
      rejection = make_error(errc::overloaded, "too many queued writes");
    } else if (ws.up) {
      wake_writer = ws.queue.empty();
      ws.queue.push_back(std::move(j));
      ++writes_queued_;
    }
  }
  if (rejection) {
    j->fail(*rejection);
    j->complete();
    return;
  }
  if (j) {
    // The writer is down: fail at once, but on the store's thread like any outcome.
    asio::post(ioc_, [j = std::move(j)] {
      j->fail(unavailable_error());
      j->complete();
    });
    return;
  }
  // Only the first write into an empty queue needs to wake the writer: it drains the
  // queue before it goes idle again, and both happen on the loop thread.
  if (wake_writer) {
    asio::post(ioc_, [&ws] {
      if (ws.w.state == phase::idle) ws.w.conn.cancel();
    });
  }
}

void postgres_store::impl::read(std::unique_ptr<job> j) {
  if (reads_closed_.load()) {
    j->fail(make_error(errc::unavailable, "store is shut down"));
    j->complete();
    return;
  }
  if (reads_queued_.fetch_add(1, std::memory_order_relaxed) >= opts_.max_queued_reads) {
    reads_queued_.fetch_sub(1, std::memory_order_relaxed);
    j->fail(make_error(errc::overloaded, "too many queued reads"));
    j->complete();
    return;
  }
  asio::post(ioc_, [this, j = std::move(j)]() mutable {
    if (readers_up_ == 0) {
      j->fail(stopping_ ? make_error(errc::unavailable, "store is shut down") : unavailable_error());
      j->complete();
      reads_queued_.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    reads_.push_back(std::move(j));
    for (worker& r : readers_) {
      if (r.state == phase::idle) {
        r.state = phase::busy;  // claimed: the next read wakes another one
        r.conn.cancel();
        break;
      }
    }
  });
}

void postgres_store::impl::finish(std::unique_ptr<job> j) {
  if (reads_closed_.load()) {
    j->complete();  // no loop thread to hand it to any more
    return;
  }
  asio::post(ioc_, [j = std::move(j)] { j->complete(); });
}

// ---- shutdown ----

void postgres_store::impl::shutdown() {
  std::call_once(shutdown_once_, [this] {
    {
      std::lock_guard lock(write_mutex_);
      writes_closed_ = true;
    }
    reads_closed_.store(true);
    auto done = loops_done_.get_future();
    asio::post(ioc_, [this] { stop_on_loop(); });
    done.wait();
    work_.reset();
    thread_.join();
    spdlog::info("postgres store: shut down");
  });
}

void postgres_store::impl::stop_on_loop() {
  stopping_ = true;
  // Busy loops notice stopping_ when their current work is done: queued writes still go
  // to the database and their callbacks run.
  for (writer_state& ws : writers_) wake(ws.w);
  for (worker& r : readers_) wake(r);
}

void postgres_store::impl::wake(worker& w) {
  switch (w.state) {
    case phase::idle:
    case phase::connecting:
      w.conn.cancel();
      break;
    case phase::backoff:
      w.backoff.cancel();
      break;
    case phase::busy:
      break;
  }
}

// ---- connection loops (event-loop thread) ----

awaitable<bool> postgres_store::impl::reconnect(worker& w, bool is_writer) {
  w.state = phase::backoff;
  w.backoff.expires_after(w.delay);
  co_await w.backoff.async_wait(asio::as_tuple(asio::use_awaitable));
  if (stopping_) co_return false;
  w.state = phase::connecting;
  try {
    co_await w.conn.connect(url_, opts_.connect_timeout);
    co_await prepare_worker(w, is_writer);
  } catch (const std::exception& e) {
    w.conn.close();
    if (!w.reported_down) spdlog::warn("postgres store: cannot reconnect, will keep trying: {}", e.what());
    spdlog::debug("postgres store: reconnect failed (next attempt in {} ms): {}", w.delay.count() * 2, e.what());
    w.reported_down = true;
    w.delay = std::min(w.delay * 2, opts_.reconnect_max);
    w.state = phase::busy;
    co_return false;
  }
  w.state = phase::busy;
  w.delay = opts_.reconnect_min;
  w.reported_down = false;
  spdlog::info("postgres store: {} connection re-established", is_writer ? "writer" : "reader");
  // The database is back: the other connections retry now rather than at the end of their
  // own backoff, so that reads do not stay unavailable seconds after writes recovered.
  for (writer_state& other : writers_)
    if (other.w.state == phase::backoff) other.w.backoff.cancel();
  for (worker& other : readers_)
    if (other.state == phase::backoff) other.backoff.cancel();
  co_return true;
}

awaitable<void> postgres_store::impl::prepare_worker(worker& w, bool is_writer) {
  w.conn.arm_deadline(opts_.timeout);
  scope_exit disarm{[&] { w.conn.disarm_deadline(); }};
  if (is_writer) {
    co_await setup_session(w.conn, std::nullopt, warned_synchronous_commit_);
    co_await prepare(w.conn, sql::write_statements, true);
  } else {
    co_await setup_session(w.conn, opts_.timeout, warned_synchronous_commit_);
    co_await prepare(w.conn, sql::read_statements, false);
  }
}

awaitable<void> postgres_store::impl::writer_loop(writer_state& ws) {
  std::vector<std::unique_ptr<job>> batch;
  worker& w = ws.w;
  for (;;) {
    if (!w.conn.is_open()) {
      if (stopping_) break;
      if (co_await reconnect(w, true)) {
        std::lock_guard lock(write_mutex_);
        ws.up = true;
      }
      continue;
    }
    bool empty = false;
    {
      std::lock_guard lock(write_mutex_);
      empty = ws.queue.empty();
    }
    if (empty) {
      if (stopping_) break;
      w.state = phase::idle;
      const bool alive = co_await w.conn.wait_idle();
      w.state = phase::busy;
      if (!alive) writer_down(ws);
      continue;
    }
    if (opts_.before_write_batch) opts_.before_write_batch();
    {
      // Everything that queued up while the previous batch was being written goes into
      // this one: under load batches grow, and one commit's cost is shared by all of them.
      std::lock_guard lock(write_mutex_);
      const std::size_t n = std::min(opts_.max_batch, ws.queue.size());
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(ws.queue.front()));
        ws.queue.pop_front();
      }
      writes_queued_ -= n;
    }
    co_await run_batch(ws, batch);
    // Only now, with the transaction's fate known, in call order.
    for (auto& j : batch) j->complete();
    batch.clear();
  }
  w.conn.close();
}

void postgres_store::impl::writer_down(writer_state& ws) {
  ws.w.conn.close();
  std::deque<std::unique_ptr<job>> orphans;
  {
    std::lock_guard lock(write_mutex_);
    ws.up = false;
    orphans.swap(ws.queue);
    writes_queued_ -= orphans.size();
  }
  if (!ws.w.reported_down) spdlog::warn("postgres store: lost a writer connection; reconnecting");
  for (auto& j : orphans) {
    j->fail(unavailable_error());
    j->complete();
  }
}

awaitable<void> postgres_store::impl::run_batch(writer_state& ws, std::vector<std::unique_ptr<job>>& batch) {
  // The units still to be committed. A unit whose statement fails (an SQL error, not a
  // logical failure) aborts the whole transaction; it is dropped and the others go again
  // in a new transaction, so one bad write cannot fail its neighbours.
  std::vector<write_unit> pending = units_of(batch);
  const auto fail_pending = [&](const error& e) {
    for (auto& u : pending) u.fail(e);
  };
  int conflicts = 0;
  connection& c = ws.w.conn;
  // The whole batch, retries included, gets one deadline: a stalled server (or a lock held
  // elsewhere) otherwise holds every sender in it, and everything queued behind it, forever.
  // Its expiry closes the connection: connection_lost below, outcome unknown.
  c.arm_deadline(opts_.timeout);
  scope_exit disarm{[&] { c.disarm_deadline(); }};
  try {
    while (!pending.empty()) {
      c.send_prepared(sql::begin.name, params());
      for (const auto& u : pending) c.send_prepared(u.stmt().name, u.arguments());
      c.send_prepared(sql::commit.name, params());
      c.pipeline_sync();
      co_await c.flush();

      std::optional<std::size_t> failed;
      std::string failed_state;
      std::string failed_message;
      bool committed = false;
      pg_result r = co_await c.next_result();  // BEGIN
      const bool began = r && PQresultStatus(r.get()) == PGRES_COMMAND_OK;
      if (!began) c.check(r.get(), PGRES_COMMAND_OK);  // throws connection_lost / statement_error
      co_await c.next_result();
      for (std::size_t i = 0; i < pending.size(); ++i) {
        r = co_await c.next_result();
        const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
          pending[i].take(r.get());
        } else if (st != PGRES_PIPELINE_ABORTED && !failed) {
          if (c.classify(r.get()) == postgres_detail::failure_kind::connection) c.check(r.get(), PGRES_TUPLES_OK);
          failed = i;
          const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
          failed_state = state ? state : "";
          failed_message = c.error_text(r.get());
        }
        if (r) co_await c.next_result();
      }
      r = co_await c.next_result();  // COMMIT
      committed = r && PQresultStatus(r.get()) == PGRES_COMMAND_OK;
      std::string commit_message = committed ? "" : c.error_text(r.get());
      if (!committed && r && PQresultStatus(r.get()) != PGRES_PIPELINE_ABORTED) {
        if (c.classify(r.get()) == postgres_detail::failure_kind::connection) c.check(r.get(), PGRES_COMMAND_OK);
      }
      if (committed && !failed) {
        // COMMIT's own success means the transaction is durable, whatever happens to the
        // connection now. A fast shutdown of PostgreSQL ends the session right after the
        // COMMIT, before the sync's result: that must not turn an acknowledged-on-disk batch
        // into "unavailable" (the senders would be told it failed while it is in history).
        batches_.fetch_add(1, std::memory_order_relaxed);
        try {
          if (r) co_await c.next_result();
          const pg_result sync = co_await c.next_result();
          c.check(sync.get(), PGRES_PIPELINE_SYNC);
        } catch (const std::exception& e) {
          spdlog::warn("postgres store: writer connection lost after a commit: {}", e.what());
          writer_down(ws);
        }
        co_return;
      }
      if (r) co_await c.next_result();
      const pg_result sync = co_await c.next_result();
      c.check(sync.get(), PGRES_PIPELINE_SYNC);
      if (PQtransactionStatus(c.native()) != PQTRANS_IDLE) {
        // After an error inside BEGIN ... the sync leaves the transaction aborted, not
        // ended: roll it back before anything else runs on this connection.
        c.send_prepared(sql::rollback.name, params());
        c.pipeline_sync();
        co_await c.flush();
        const pg_result rb = co_await c.next_result();
        if (rb) co_await c.next_result();
        const pg_result rb_sync = co_await c.next_result();
        c.check(rb_sync.get(), PGRES_PIPELINE_SYNC);
      }

      if (failed) {
        // Class 40 (serialization failure, deadlock with another node's batch): nobody's
        // fault; the same transaction may well succeed again.
        if (failed_state.starts_with("40") && ++conflicts <= 3) continue;
        if (pending[*failed].jobs.size() > 1) {
          // A group failed as a whole (one bad message fails its statement): its jobs go
          // again one per statement, so that only the bad one fails.
          const auto at = pending.begin() + static_cast<std::ptrdiff_t>(*failed);
          std::vector<write_unit> singles;
          for (job* j : at->jobs) singles.push_back(group_unit({j}));
          pending.insert(pending.erase(at), std::make_move_iterator(singles.begin()),
                         std::make_move_iterator(singles.end()));
          continue;
        }
        spdlog::error("postgres store: {} failed: {} (SQLSTATE {})", pending[*failed].stmt().name, failed_message,
                      failed_state);
        pending[*failed].fail(make_error(errc::internal, "database error"));
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(*failed));
        continue;
      }
      // COMMIT itself failed: nothing of this transaction is durable.
      spdlog::error("postgres store: commit failed: {}", commit_message);
      fail_pending(make_error(errc::internal, "database error"));
      co_return;
    }
  } catch (const connection_lost& e) {
    // The outcome of a COMMIT in flight is unknown: report unavailable (a client retry
    // carries the same mark and is recognised if the first attempt did commit).
    spdlog::warn("postgres store: write batch of {} lost: {}", batch.size(), e.what());
    fail_pending(unavailable_error());
    writer_down(ws);
  } catch (const std::exception& e) {
    spdlog::error("postgres store: write batch failed: {}", e.what());
    fail_pending(make_error(errc::internal, "database error"));
    // The connection's protocol state is unknown: start afresh.
    writer_down(ws);
  }
}

awaitable<void> postgres_store::impl::reader_loop(worker& w) {
  for (;;) {
    if (!w.conn.is_open()) {
      if (stopping_) break;
      if (co_await reconnect(w, false)) ++readers_up_;
      continue;
    }
    if (!reads_.empty()) {
      w.state = phase::busy;
      auto j = std::move(reads_.front());
      reads_.pop_front();
      co_await run_read(w, std::move(j));
      continue;
    }
    if (stopping_) break;
    w.state = phase::idle;
    const bool alive = co_await w.conn.wait_idle();
    w.state = phase::busy;
    if (!alive) reader_down(w);
  }
  if (w.conn.is_open()) {
    w.conn.close();
    --readers_up_;
  }
}

awaitable<void> postgres_store::impl::run_read(worker& w, std::unique_ptr<job> j) {
  try {
    w.conn.arm_deadline(opts_.timeout);
    scope_exit disarm{[&] { w.conn.disarm_deadline(); }};
    w.conn.send_prepared(j->stmt().name, j->args());
    co_await w.conn.flush();
    const pg_result r = co_await w.conn.finish_query();
    w.conn.check(r.get(), PGRES_TUPLES_OK);
    j->take(r.get());
  } catch (const connection_lost& e) {
    spdlog::warn("postgres store: {} lost: {}", j->stmt().name, e.what());
    j->fail(unavailable_error());
    reader_down(w);
  } catch (const statement_error& e) {
    if (e.sqlstate() == "57014") {
      // statement_timeout (or a cancel by an administrator): the database is too slow or
      // blocked right now; the connection itself is fine.
      spdlog::warn("postgres store: {} cancelled: {}", j->stmt().name, e.what());
      j->fail(unavailable_error());
    } else {
      spdlog::error("postgres store: {} failed: {}", j->stmt().name, e.what());
      j->fail(make_error(errc::internal, "database error"));
    }
  } catch (const std::exception& e) {
    spdlog::error("postgres store: {} failed: {}", j->stmt().name, e.what());
    j->fail(make_error(errc::internal, "database error"));
  }
  j->complete();
  reads_queued_.fetch_sub(1, std::memory_order_relaxed);
}

void postgres_store::impl::reader_down(worker& w) {
  w.conn.close();
  --readers_up_;
  if (readers_up_ > 0) return;
  // No reader left: what is queued would wait for a reconnect; fail it now instead.
  spdlog::warn("postgres store: lost every read connection; reconnecting");
  while (!reads_.empty()) {
    auto j = std::move(reads_.front());
    reads_.pop_front();
    j->fail(unavailable_error());
    j->complete();
    reads_queued_.fetch_sub(1, std::memory_order_relaxed);
  }
}

// ---------------------------------------------------------------------------------------

postgres_store::postgres_store(std::string url, postgres_options opts)
    : impl_(std::make_unique<impl>(std::move(url), std::move(opts))) {}

result<std::unique_ptr<postgres_store>> postgres_store::open(std::string url, postgres_options opts) {
  try {
    return std::make_unique<postgres_store>(std::move(url), std::move(opts));
  } catch (const error_exception& e) {
    return e.err;
  }
}

postgres_store::~postgres_store() { shutdown(); }

void postgres_store::shutdown() { impl_->shutdown(); }

std::uint64_t postgres_store::committed_batches() const noexcept { return impl_->committed_batches(); }

// ---- users ----

void postgres_store::create_user(new_user u, callback<user> done) {
  params p;
  p.add(u.username).add(fold_username(u.username)).add(u.name).add(u.password_hash).add(u.created_at);
  impl_->write(make_job<user>(sql::insert_user, std::move(p), std::move(done),
                              [username = u.username, name = u.name](const PGresult* r) -> result<user> {
                                if (PQntuples(r) == 0) return make_error(errc::username_taken, "username already taken");
                                return user{i64(r, 0, 0), username, name};
                              }),
               0);
}

void postgres_store::find_user_by_name(std::string username, callback<std::optional<user_credentials>> done) {
  impl_->read(make_job<std::optional<user_credentials>>(
      sql::select_credentials, params().add(fold_username(username)), std::move(done),
      [](const PGresult* r) -> result<std::optional<user_credentials>> {
        if (PQntuples(r) == 0) return std::optional<user_credentials>();
        return std::optional<user_credentials>(user_credentials{read_user(r, 0, 0), text(r, 0, 3)});
      }));
}

void postgres_store::find_user_by_id(user_id id, callback<std::optional<user>> done) {
  impl_->read(make_job<std::optional<user>>(sql::select_user, params().add(id), std::move(done),
                                            [](const PGresult* r) -> result<std::optional<user>> {
                                              if (PQntuples(r) == 0) return std::optional<user>();
                                              return std::optional<user>(read_user(r, 0, 0));
                                            }));
}

// One statement, five tiers (see chatrix_search); the same ranking as the SQLite store.
// The fragment is only compared, never a pattern, so no character in it is special.
void postgres_store::search_users(std::string fragment, int limit, callback<std::vector<user>> done) {
  const int wanted = clamp_limit(limit, query_limits::max_search_results);
  // An empty fragment would match every user: treat it as no search at all.
  if (wanted == 0 || fragment.empty() || fragment.find('\0') != std::string::npos) {
    auto j = make_job<std::vector<user>>(sql::search_users, params(), std::move(done),
                                         [](const PGresult*) -> result<std::vector<user>> { return {}; });
    j->take(nullptr);
    impl_->finish(std::move(j));
    return;
  }
  const std::string folded = fold_username(fragment);
  params p;
  p.add(folded).add(std::int64_t{wanted});
  impl_->read(make_job<std::vector<user>>(sql::search_users, std::move(p), std::move(done),
                                          [](const PGresult* r) -> result<std::vector<user>> {
                                            std::vector<user> out;
                                            for (int i = 0; i < PQntuples(r); ++i) out.push_back(read_user(r, i, 0));
                                            return out;
                                          }));
}

// ---- messages ----

void postgres_store::append_message(send_request req, callback<send_result> done) {
  if (req.content.find('\0') != std::string::npos) {
    // PostgreSQL text cannot hold NUL; storing a truncated message would be worse.
    auto j = std::make_unique<append_job>(std::move(req), std::move(done));
    j->fail(make_error(errc::invalid_field, "content contains a NUL character"));
    impl_->finish(std::move(j));
    return;
  }
  const auto partition = partition_of_pair(req.sender, req.recipient);
  impl_->write(std::make_unique<append_job>(std::move(req), std::move(done)), partition);
}

void postgres_store::mark_delivered(user_id recipient, std::vector<message_id> ids, unix_ms at,
                                    callback<std::vector<message_ref>> done) {
  impl_->write(std::make_unique<receipt_job>(recipient, std::move(ids), at, std::move(done)),
               partition_of_user(recipient));
}

void postgres_store::mark_read(user_id reader, std::vector<message_id> ids, unix_ms at, callback<read_result> done) {
  params p;
  p.add(reader).add_array(ids).add(at);
  impl_->write(make_job<read_result>(sql::mark_read, std::move(p), std::move(done),
                                     [](const PGresult* r) -> result<read_result> {
                                       read_result out;
                                       for (int i = 0; i < PQntuples(r); ++i) {
                                         if (text(r, i, 0) != "ok")
                                           return make_error(errc::forbidden, "not a message to you");
                                         out.read.push_back({i64(r, i, 1), i64(r, i, 2), i64(r, i, 3)});
                                         if (text(r, i, 4) == "t") out.delivered.push_back(out.read.back());
                                       }
                                       return out;
                                     }),
               partition_of_user(reader));
}

void postgres_store::pending_messages(user_id recipient, message_id after, int limit,
                                      callback<std::vector<message>> done) {
  params p;
  p.add(recipient).add(after).add(std::int64_t{std::max(limit, 0)});
  impl_->read(make_job<std::vector<message>>(sql::select_pending, std::move(p), std::move(done),
                                             [](const PGresult* r) -> result<std::vector<message>> {
                                               return read_messages(r);
                                             }));
}

void postgres_store::history(user_id a, user_id b, std::optional<message_id> before, int limit,
                             callback<std::vector<message>> done) {
  params p;
  p.add(std::min(a, b)).add(std::max(a, b));
  p.add(before ? std::optional<std::string>(std::to_string(*before)) : std::nullopt);
  p.add(std::int64_t{clamp_limit(limit, query_limits::max_history_page)});
  impl_->read(make_job<std::vector<message>>(sql::select_history, std::move(p), std::move(done),
                                             [](const PGresult* r) -> result<std::vector<message>> {
                                               return read_messages(r);
                                             }));
}

void postgres_store::chat_previews(user_id viewer, int limit, callback<std::vector<chat_preview>> done) {
  params p;
  p.add(viewer).add(std::int64_t{clamp_limit(limit, query_limits::max_previews)});
  impl_->read(make_job<std::vector<chat_preview>>(sql::select_previews, std::move(p), std::move(done),
                                                  [](const PGresult* r) -> result<std::vector<chat_preview>> {
                                                    std::vector<chat_preview> out;
                                                    for (int i = 0; i < PQntuples(r); ++i) {
                                                      chat_preview pv;
                                                      pv.conversation = i64(r, i, 0);
                                                      pv.updated_at = i64(r, i, 1);
                                                      pv.peer = read_user(r, i, 2);
                                                      pv.unread = i64(r, i, 5);
                                                      if (!PQgetisnull(r, i, 6)) pv.last = read_message(r, i, 6);
                                                      out.push_back(std::move(pv));
                                                    }
                                                    return out;
                                                  }));
}

// ---- migrations by hand ----

result<int> run_migrations(std::string url, std::chrono::milliseconds connect_timeout) {
  url = postgres_detail::normalize_conninfo(std::move(url));
  asio::io_context ioc{1};
  connection c(ioc.get_executor());
  int version = 0;
  std::exception_ptr failed;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        co_await c.connect(url, connect_timeout);
        bool warned = false;
        co_await setup_session(c, std::nullopt, warned);
        version = co_await migrate(c);
      },
      [&](std::exception_ptr e) { failed = e; });
  ioc.run();
  c.close();
  if (!failed) return version;
  try {
    std::rethrow_exception(failed);
  } catch (const std::exception& e) {
    return make_error(errc::unavailable, "cannot migrate PostgreSQL database " + redact_conninfo(url) + ": " +
                                             postgres_detail::scrub(e.what(), postgres_detail::conninfo_secrets(url)));
  }
  return make_error(errc::internal, "unreachable");
}

}  // namespace chatrix::storage
