// A connection of the PostgreSQL store with its loop's state, what the store's connection
// loops share, and how a connection is set up and, after a loss, re-established with
// exponential backoff. Everything here runs on the store's event-loop thread.
#pragma once

#include "config/address.hpp"
#include "storage/postgres/connection.hpp"
#include "storage/postgres/postgres_store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <vector>

namespace chatrix::storage::postgres_detail {

/// Where a connection's loop is, so that a wake-up or a stop knows what to cancel.
enum class phase { busy, idle, backoff, connecting };

/// A connection with its loop's state.
struct worker {
  explicit worker(const asio::any_io_executor& ex) : conn(ex), backoff(ex) {}
  connection conn;
  asio::steady_timer backoff;
  phase state = phase::busy;
  std::chrono::milliseconds delay{0};
  bool reported_down = false;  // log an outage once, not every retry
};

/// Cuts short what the worker's loop is waiting for (new work, a reconnect, its backoff), so
/// that it looks at its queue and at loop_context::stopping again. A busy loop does so by
/// itself once its current work is done.
void wake(worker& w);

enum class worker_role { writer, reader };

/// What every connection loop of one store shares. Filled before the loops start; after
/// that only the loop thread changes it, and other threads only read `opts`.
struct loop_context {
  config::postgres_address address;
  postgres_options opts;
  bool stopping = false;
  bool warned_synchronous_commit = false;  // see setup_session
  std::vector<worker*> workers;            // every connection of the store, writers first
};

/// Session setup and prepared statements on a freshly connected worker, within the
/// operation timeout.
asio::awaitable<void> prepare_worker(loop_context& ctx, worker& w, worker_role role);

/// Waits out the worker's backoff, then connects and prepares it. False if that failed (the
/// next delay is doubled, up to reconnect_max) or the store is stopping.
asio::awaitable<bool> reconnect(loop_context& ctx, worker& w, worker_role role);

}  // namespace chatrix::storage::postgres_detail
