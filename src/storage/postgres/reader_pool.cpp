#include "storage/postgres/reader_pool.hpp"

#include "storage/postgres/scope_exit.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

namespace chatrix::storage::postgres_detail {

reader_pool::reader_pool(asio::io_context& ioc, loop_context& ctx) : ioc_(ioc), ctx_(ctx) {
  for (int i = 0; i < ctx_.opts.pool_size; ++i) readers_.emplace_back(ioc_.get_executor());
  for (worker& r : readers_) ctx_.workers.push_back(&r);
}

void reader_pool::read(std::unique_ptr<job> j) {
  if (closed_.load()) {
    j->fail(make_error(errc::unavailable, "store is shut down"));
    j->complete();
    return;
  }
  if (queued_.fetch_add(1, std::memory_order_relaxed) >= ctx_.opts.max_queued_reads) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    j->fail(make_error(errc::overloaded, "too many queued reads"));
    j->complete();
    return;
  }
  asio::post(ioc_, [this, j = std::move(j)]() mutable {
    if (readers_up_ == 0) {
      j->fail(ctx_.stopping ? make_error(errc::unavailable, "store is shut down") : unavailable_error());
      j->complete();
      queued_.fetch_sub(1, std::memory_order_relaxed);
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

asio::awaitable<void> reader_pool::loop(worker& w) {
  for (;;) {
    if (!w.conn.is_open()) {
      if (ctx_.stopping) break;
      if (co_await reconnect(ctx_, w, worker_role::reader)) ++readers_up_;
      continue;
    }
    if (!reads_.empty()) {
      w.state = phase::busy;
      auto j = std::move(reads_.front());
      reads_.pop_front();
      co_await run_read(w, std::move(j));
      continue;
    }
    if (ctx_.stopping) break;
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

asio::awaitable<void> reader_pool::run_read(worker& w, std::unique_ptr<job> j) {
  try {
    w.conn.arm_deadline(ctx_.opts.timeout);
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
  queued_.fetch_sub(1, std::memory_order_relaxed);
}

void reader_pool::reader_down(worker& w) {
  w.conn.close();
  --readers_up_;
  if (readers_up_ > 0) return;
  // No reader left: what is queued would wait for a reconnect; fail it now instead.
  spdlog::warn("postgres store: lost every read connection; reconnecting");
  fail_queued(unavailable_error());
}

void reader_pool::fail_queued(const error& e) {
  while (!reads_.empty()) {
    auto j = std::move(reads_.front());
    reads_.pop_front();
    j->fail(e);
    j->complete();
    queued_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void reader_pool::start(const std::function<void(asio::awaitable<void>)>& spawn) {
  readers_up_ = static_cast<int>(readers_.size());
  for (worker& r : readers_) {
    r.delay = ctx_.opts.reconnect_min;
    spawn(loop(r));
  }
}

void reader_pool::wake_all() {
  for (worker& r : readers_) wake(r);
}

void reader_pool::close_connections() {
  for (worker& r : readers_) r.conn.close();
}

}  // namespace chatrix::storage::postgres_detail
