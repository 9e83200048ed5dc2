#include "storage/postgres/worker.hpp"

#include "storage/postgres/migrations.hpp"
#include "storage/postgres/queries.hpp"
#include "storage/postgres/scope_exit.hpp"
#include "storage/postgres/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

namespace chatrix::storage::postgres_detail {

void wake(worker& w) {
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

asio::awaitable<void> prepare_worker(loop_context& ctx, worker& w, worker_role role) {
  w.conn.arm_deadline(ctx.opts.timeout);
  scope_exit disarm{[&] { w.conn.disarm_deadline(); }};
  if (role == worker_role::writer) {
    co_await setup_session(w.conn, std::nullopt, ctx.warned_synchronous_commit);
    co_await exec_script(w.conn, create_staged_events_table);
    co_await prepare(w.conn, sql::write_statements, true);
  } else {
    co_await setup_session(w.conn, ctx.opts.timeout, ctx.warned_synchronous_commit);
    co_await prepare(w.conn, sql::read_statements, false);
  }
}

asio::awaitable<bool> reconnect(loop_context& ctx, worker& w, worker_role role) {
  w.state = phase::backoff;
  w.backoff.expires_after(w.delay);
  co_await w.backoff.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ctx.stopping) co_return false;
  w.state = phase::connecting;
  try {
    co_await w.conn.connect(ctx.address, ctx.opts.connect_timeout);
    co_await prepare_worker(ctx, w, role);
  } catch (const std::exception& e) {
    w.conn.close();
    if (!w.reported_down) spdlog::warn("postgres store: cannot reconnect, will keep trying: {}", e.what());
    spdlog::debug("postgres store: reconnect failed (next attempt in {} ms): {}", w.delay.count() * 2, e.what());
    w.reported_down = true;
    w.delay = std::min(w.delay * 2, ctx.opts.reconnect_max);
    w.state = phase::busy;
    co_return false;
  }
  w.state = phase::busy;
  w.delay = ctx.opts.reconnect_min;
  w.reported_down = false;
  spdlog::info("postgres store: {} connection re-established", role == worker_role::writer ? "writer" : "reader");
  // The database is back: the other connections retry now rather than at the end of their
  // own backoff, so that reads do not stay unavailable seconds after writes recovered.
  for (worker* other : ctx.workers)
    if (other->state == phase::backoff) other->backoff.cancel();
  co_return true;
}

}  // namespace chatrix::storage::postgres_detail
