// The PostgreSQL store's read connections: one queue of reads, served by whichever
// connection is idle, one read at a time each.
#pragma once

#include "storage/postgres/job.hpp"
#include "storage/postgres/worker.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>

namespace chatrix::storage::postgres_detail {

/// The read connections (loop_context::opts.pool_size of them) and the read queue.
class reader_pool {
 public:
  /// Adds its connections to ctx.workers.
  reader_pool(asio::io_context& ioc, loop_context& ctx);

  // ---- any thread ----

  /// Queues a read. One refused at once (queue full, pool closed) completes on the calling
  /// thread; one arriving while every connection is down completes on the loop thread.
  void read(std::unique_ptr<job> j);
  /// Later reads fail with errc::unavailable.
  void close() noexcept { closed_.store(true); }
  bool closed() const noexcept { return closed_.load(); }

  // ---- the loop thread ----

  std::deque<worker>& workers() noexcept { return readers_; }
  /// Once every connection is set up: serves reads and runs each connection's loop through
  /// `spawn`. A loop ends once the store is stopping and the queue is empty.
  void start(const std::function<void(asio::awaitable<void>)>& spawn);
  void wake_all();
  void close_connections();
  /// Completes every queued read with `e`.
  void fail_queued(const error& e);

 private:
  asio::awaitable<void> loop(worker& w);
  asio::awaitable<void> run_read(worker& w, std::unique_ptr<job> j);
  void reader_down(worker& w);

  asio::io_context& ioc_;
  loop_context& ctx_;
  std::deque<worker> readers_;  // deque: loops hold references

  // The queue lives on the loop thread; only the bound is counted from outside.
  std::atomic<bool> closed_{false};
  std::atomic<std::size_t> queued_{0};
  std::deque<std::unique_ptr<job>> reads_;
  int readers_up_ = 0;
};

}  // namespace chatrix::storage::postgres_detail
