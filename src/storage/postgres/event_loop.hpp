// The PostgreSQL store's event-loop thread and its life cycle: at start it connects and
// migrates, then it runs the writers' and the readers' loops, and at shutdown it lets them
// finish their queued work and stops them.
#pragma once

#include "config/address.hpp"
#include "storage/postgres/job.hpp"
#include "storage/postgres/postgres_store.hpp"
#include "storage/postgres/reader_pool.hpp"
#include "storage/postgres/worker.hpp"
#include "storage/postgres/writer.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

namespace chatrix::storage::postgres_detail {

class event_loop {
 public:
  /// Connects every connection to `address` and applies pending migrations on the first,
  /// then starts the loops. Rethrows what made that fail, with every connection closed and
  /// the thread joined; its text may quote the password.
  event_loop(config::postgres_address address, postgres_options opts);
  /// Calls shutdown().
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  /// The options as used: counts and durations raised to their minimum.
  const postgres_options& options() const noexcept { return ctx_.opts; }

  // ---- any thread ----

  /// See writer_pool::write.
  void write(std::unique_ptr<job> j, std::uint64_t partition) { writers_.write(std::move(j), partition); }
  /// See reader_pool::read.
  void read(std::unique_ptr<job> j) { readers_.read(std::move(j)); }
  /// Completes a job whose outcome is already known, on the loop thread.
  void finish(std::unique_ptr<job> j);
  /// Finishes queued writes (their callbacks run), closes the connections and joins the
  /// thread. Idempotent; concurrent callers wait for the first one to finish.
  void shutdown();
  std::uint64_t committed_batches() const noexcept { return writers_.committed_batches(); }

 private:
  asio::awaitable<void> start_connections();
  void spawn(asio::awaitable<void> loop);
  void loop_finished();
  void stop_on_loop();

  loop_context ctx_;
  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  writer_pool writers_;
  reader_pool readers_;

  int running_loops_ = 0;  // loop thread
  std::promise<void> loops_done_;
  std::once_flag shutdown_once_;
};

}  // namespace chatrix::storage::postgres_detail
