// The PostgreSQL store's writers: each a connection with a queue, group-committing what
// queued up while its previous batch was written as one pipelined transaction.
#pragma once

#include "storage/postgres/job.hpp"
#include "storage/postgres/worker.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace chatrix::storage::postgres_detail {

/// The writer connections (loop_context::opts.writers of them) and their queues.
class writer_pool {
 public:
  /// Adds its connections to ctx.workers.
  writer_pool(asio::io_context& ioc, loop_context& ctx);

  // ---- any thread ----

  /// Queues a write for the writer of `partition`: writes of one partition are applied in
  /// call order; see postgres_options::writers. A write refused at once (queues full, pool
  /// closed) completes on the calling thread; one for a writer that is down completes on
  /// the loop thread.
  void write(std::unique_ptr<job> j, std::uint64_t partition);
  /// Later writes fail with errc::unavailable; queued ones are still written.
  void close();
  /// Transactions committed so far.
  std::uint64_t committed_batches() const noexcept { return batches_.load(std::memory_order_relaxed); }

  // ---- the loop thread ----

  std::size_t size() const noexcept { return writers_.size(); }
  worker& at(std::size_t i) noexcept { return writers_[i].w; }
  /// Once every connection is set up: accepts writes and runs each writer's loop through
  /// `spawn`. A loop ends once the store is stopping and its queue is empty.
  void start(const std::function<void(asio::awaitable<void>)>& spawn);
  void wake_all();
  void close_connections();

 private:
  /// A writer connection and its queue. The queue and `up` are guarded by mutex_.
  struct writer_state {
    explicit writer_state(const asio::any_io_executor& ex) : w(ex) {}
    worker w;
    std::deque<std::unique_ptr<job>> queue;
    bool up = false;  // writes for it are refused while it is down
  };

  asio::awaitable<void> loop(writer_state& ws);
  asio::awaitable<void> run_batch(writer_state& ws, std::vector<std::unique_ptr<job>>& batch);
  void writer_down(writer_state& ws);
  /// chatrix_queue_depth{queue="store_writes"}: one relaxed store, under mutex_.
  void note_queued() noexcept;

  asio::io_context& ioc_;
  loop_context& ctx_;
  std::deque<writer_state> writers_;  // deque: loops hold references

  // The write queues: filled by any thread, each drained by its writer loop.
  std::mutex mutex_;
  std::size_t queued_ = 0;  // in all queues, guarded by mutex_
  bool closed_ = false;     // guarded by mutex_
  std::atomic<std::uint64_t> batches_{0};
};

}  // namespace chatrix::storage::postgres_detail
