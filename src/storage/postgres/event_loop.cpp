#include "storage/postgres/event_loop.hpp"

#include "storage/postgres/migrate.hpp"
#include "storage/postgres/migrations.hpp"
#include "storage/postgres/queries.hpp"
#include "storage/postgres/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <utility>

namespace chatrix::storage::postgres_detail {

namespace {

/// The options with every value the loops divide by, double or wait on made usable.
postgres_options usable(postgres_options opts) {
  opts.max_batch = std::max<std::size_t>(opts.max_batch, 1);
  opts.writers = std::max(opts.writers, 1);
  opts.pool_size = std::max(opts.pool_size, 1);
  opts.reconnect_min = std::max(opts.reconnect_min, std::chrono::milliseconds(1));
  opts.reconnect_max = std::max(opts.reconnect_max, opts.reconnect_min);
  opts.timeout = std::max(opts.timeout, std::chrono::milliseconds(1));
  return opts;
}

}  // namespace

event_loop::event_loop(config::postgres_address address, postgres_options opts)
    : ctx_{std::move(address), usable(std::move(opts))},
      work_(ioc_.get_executor()),
      writers_(ioc_, ctx_),
      readers_(ioc_, ctx_) {
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
  } catch (...) {
    // Nothing else runs on the loop yet: closing from here, after it stopped, is safe.
    work_.reset();
    ioc_.stop();
    thread_.join();
    writers_.close_connections();
    readers_.close_connections();
    throw;
  }
}

event_loop::~event_loop() { shutdown(); }

asio::awaitable<void> event_loop::start_connections() {
  connection& first = writers_.at(0).conn;
  co_await first.connect(ctx_.address, ctx_.opts.connect_timeout);
  // Migrations are not bounded by opts.timeout: they may wait for another node's, and a
  // large one may take long.
  co_await setup_session(first, std::nullopt, ctx_.warned_synchronous_commit);
  const int version = co_await migrate(first);
  spdlog::info("postgres store: schema version {}", version);
  co_await exec_script(first, create_staged_events_table);
  co_await prepare(first, sql::write_statements, true);
  for (std::size_t i = 1; i < writers_.size(); ++i) {
    co_await writers_.at(i).conn.connect(ctx_.address, ctx_.opts.connect_timeout);
    co_await prepare_worker(ctx_, writers_.at(i), worker_role::writer);
  }
  for (worker& r : readers_.workers()) {
    co_await r.conn.connect(ctx_.address, ctx_.opts.connect_timeout);
    co_await prepare_worker(ctx_, r, worker_role::reader);
  }
  const auto spawn_loop = [this](asio::awaitable<void> loop) { spawn(std::move(loop)); };
  writers_.start(spawn_loop);
  readers_.start(spawn_loop);
}

void event_loop::spawn(asio::awaitable<void> loop) {
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

void event_loop::loop_finished() {
  if (--running_loops_ > 0) return;
  // Everything has stopped: whatever is still queued can only fail.
  readers_.fail_queued(make_error(errc::unavailable, "store is shut down"));
  writers_.close_connections();
  readers_.close_connections();
  loops_done_.set_value();
}

void event_loop::finish(std::unique_ptr<job> j) {
  if (readers_.closed()) {
    j->complete();  // no loop thread to hand it to any more
    return;
  }
  asio::post(ioc_, [j = std::move(j)] { j->complete(); });
}

void event_loop::shutdown() {
  std::call_once(shutdown_once_, [this] {
    writers_.close();
    readers_.close();
    auto done = loops_done_.get_future();
    asio::post(ioc_, [this] { stop_on_loop(); });
    done.wait();
    work_.reset();
    thread_.join();
    spdlog::info("postgres store: shut down");
  });
}

void event_loop::stop_on_loop() {
  ctx_.stopping = true;
  // Busy loops notice `stopping` when their current work is done: queued writes still go
  // to the database and their callbacks run.
  writers_.wake_all();
  readers_.wake_all();
}

}  // namespace chatrix::storage::postgres_detail
