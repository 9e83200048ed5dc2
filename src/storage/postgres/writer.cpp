#include "storage/postgres/writer.hpp"

#include "metrics/metrics.hpp"
#include "storage/postgres/scope_exit.hpp"
#include "storage/postgres/write_jobs.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

namespace chatrix::storage::postgres_detail {

writer_pool::writer_pool(asio::io_context& ioc, loop_context& ctx) : ioc_(ioc), ctx_(ctx) {
  for (int i = 0; i < ctx_.opts.writers; ++i) writers_.emplace_back(ioc_.get_executor());
  for (writer_state& ws : writers_) ctx_.workers.push_back(&ws.w);
}

void writer_pool::write(std::unique_ptr<job> j, std::uint64_t partition) {
  writer_state& ws = writers_[partition % writers_.size()];
  bool wake_writer = false;
  std::optional<error> rejection;
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      rejection = make_error(errc::unavailable, "store is shut down");
    } else if (queued_ >= ctx_.opts.max_queued_writes) {
      rejection = make_error(errc::overloaded, "too many queued writes");
    } else if (ws.up) {
      wake_writer = ws.queue.empty();
      ws.queue.push_back(std::move(j));
      ++queued_;
      note_queued();
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

asio::awaitable<void> writer_pool::loop(writer_state& ws) {
  std::vector<std::unique_ptr<job>> batch;
  worker& w = ws.w;
  for (;;) {
    if (!w.conn.is_open()) {
      if (ctx_.stopping) break;
      if (co_await reconnect(ctx_, w, worker_role::writer)) {
        std::lock_guard lock(mutex_);
        ws.up = true;
      }
      continue;
    }
    bool empty = false;
    {
      std::lock_guard lock(mutex_);
      empty = ws.queue.empty();
    }
    if (empty) {
      if (ctx_.stopping) break;
      w.state = phase::idle;
      const bool alive = co_await w.conn.wait_idle();
      w.state = phase::busy;
      if (!alive) writer_down(ws);
      continue;
    }
    if (ctx_.opts.before_write_batch) ctx_.opts.before_write_batch();
    {
      // Everything that queued up while the previous batch was being written goes into
      // this one: under load batches grow, and one commit's cost is shared by all of them.
      std::lock_guard lock(mutex_);
      const std::size_t n = std::min(ctx_.opts.max_batch, ws.queue.size());
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(ws.queue.front()));
        ws.queue.pop_front();
      }
      queued_ -= n;
      note_queued();
    }
    co_await run_batch(ws, batch);
    // Only now, with the transaction's fate known, in call order.
    for (auto& j : batch) j->complete();
    batch.clear();
  }
  w.conn.close();
}

void writer_pool::writer_down(writer_state& ws) {
  ws.w.conn.close();
  std::deque<std::unique_ptr<job>> orphans;
  {
    std::lock_guard lock(mutex_);
    ws.up = false;
    orphans.swap(ws.queue);
    queued_ -= orphans.size();
    note_queued();
  }
  if (!ws.w.reported_down) spdlog::warn("postgres store: lost a writer connection; reconnecting");
  for (auto& j : orphans) {
    j->fail(unavailable_error());
    j->complete();
  }
}

asio::awaitable<void> writer_pool::run_batch(writer_state& ws, std::vector<std::unique_ptr<job>>& batch) {
  // The units still to be committed. A unit whose statement fails (an SQL error, not a
  // logical failure) aborts the whole transaction; it is dropped and the others go again
  // in a new transaction, so one bad write cannot fail its neighbours.
  std::vector<write_unit> pending = units_of(batch, ctx_.opts.sync_retention.count());
  const auto fail_pending = [&](const error& e) {
    for (auto& u : pending) u.fail(e);
  };
  int conflicts = 0;
  connection& c = ws.w.conn;
  // The whole batch, retries included, gets one deadline: a stalled server (or a lock held
  // elsewhere) otherwise holds every sender in it, and everything queued behind it, forever.
  // Its expiry closes the connection: connection_lost below, outcome unknown.
  c.arm_deadline(ctx_.opts.timeout);
  scope_exit disarm{[&] { c.disarm_deadline(); }};
  const auto batch_began = std::chrono::steady_clock::now();
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
          if (c.classify(r.get()) == failure_kind::connection) c.check(r.get(), PGRES_TUPLES_OK);
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
        if (c.classify(r.get()) == failure_kind::connection) c.check(r.get(), PGRES_COMMAND_OK);
      }
      if (committed && !failed) {
        // COMMIT's own success means the transaction is durable, whatever happens to the
        // connection now. A fast shutdown of PostgreSQL ends the session right after the
        // COMMIT, before the sync's result: that must not turn an acknowledged-on-disk batch
        // into "unavailable" (the senders would be told it failed while it is in history).
        batches_.fetch_add(1, std::memory_order_relaxed);
        if (auto* m = ctx_.opts.metrics) {
          m->commit_seconds.observe_since(batch_began);
          m->commit_writes.observe(batch.size());
        }
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
        if (pending[*failed].is_flush()) {
          // Without positions no write of the batch may commit: its events would be lost.
          spdlog::error("postgres store: {} failed: {} (SQLSTATE {})", pending[*failed].stmt().name, failed_message,
                        failed_state);
          fail_pending(make_error(errc::internal, "database error"));
          co_return;
        }
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

void writer_pool::note_queued() noexcept {
  if (auto* m = ctx_.opts.metrics) m->queued_writes.store(static_cast<std::int64_t>(queued_), std::memory_order_relaxed);
}

void writer_pool::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

void writer_pool::start(const std::function<void(asio::awaitable<void>)>& spawn) {
  {
    std::lock_guard lock(mutex_);
    for (writer_state& ws : writers_) ws.up = true;
  }
  for (writer_state& ws : writers_) {
    ws.w.delay = ctx_.opts.reconnect_min;
    spawn(loop(ws));
  }
}

void writer_pool::wake_all() {
  for (writer_state& ws : writers_) wake(ws.w);
}

void writer_pool::close_connections() {
  for (writer_state& ws : writers_) ws.w.conn.close();
}

}  // namespace chatrix::storage::postgres_detail
