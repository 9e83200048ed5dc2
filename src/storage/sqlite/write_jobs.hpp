// The writes the SQLite store queues for its writer thread, and how the writer runs them
// inside a batch transaction. Internal to src/storage/sqlite.
//
// Messages and delivery receipts are the bulk of all writes, so consecutive ones are run
// together: one lookup per conversation, one multi-row INSERT per 32 messages, one update per
// conversation, and receipts by 32 ids at a time. Everything else runs one job at a time.
#pragma once

#include "storage/sqlite/connection.hpp"
#include "storage/store.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <utility>

namespace chatrix::storage::sqlite_detail {

template <class T>
result<T> failure(const error& e) {
  return result<T>(boost::system::in_place_error, e);
}

/// Callbacks are the caller's code: an exception from one must not kill a store thread nor
/// keep the callbacks after it from running.
template <class T>
void deliver(const callback<T>& done, result<T> r) noexcept {
  try {
    done(std::move(r));
  } catch (const std::exception& e) {
    spdlog::error("sqlite store: a callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("sqlite store: a callback threw");
  }
}

/// The store's error for the exception being handled (call inside a catch block), logged
/// with what failed ("write", "read"). SQLite's own failures keep their kind (unavailable
/// or internal, see to_error); anything else is internal.
inline error current_failure(const char* what) noexcept {
  try {
    throw;
  } catch (const sqlite_error& e) {
    spdlog::error("sqlite store: {} failed: {}", what, e.what());
    return to_error(e);
  } catch (const std::exception& e) {
    spdlog::error("sqlite store: {} failed: {}", what, e.what());
  } catch (...) {
    spdlog::error("sqlite store: {} failed", what);
  }
  return make_error(errc::internal, "database error");
}

/// What running a step did to the batch transaction.
enum class job_run {
  done,     // every job succeeded, or refused with a result of its own having written nothing
  aborted,  // SQLite failed half-way: the transaction must be rolled back
};

/// A queued write. Its step runs inside the batch transaction, and again in a new one if a
/// later step of the batch aborted; complete() reports the outcome once the batch's fate is
/// known.
///
/// A job that refuses (a logical error: a taken username, a forbidden id) must decide so
/// before it writes anything, because there is no savepoint per job to undo its writes: a
/// statement per job for that measurably slowed every batch down.
class write_job {
 public:
  enum class kind : std::uint8_t { single, append, receipt };

  explicit write_job(kind k) noexcept : kind_(k) {}
  virtual ~write_job() = default;
  kind job_kind() const noexcept { return kind_; }
  /// Replaces the outcome by an error (an aborted step, or the transaction did not commit).
  virtual void fail(const error& e) = 0;
  virtual void complete() noexcept = 0;

 private:
  kind kind_;
};

/// Holds a job's outcome until the batch settles.
template <class T>
class outcome_of {
 public:
  explicit outcome_of(callback<T> done) : done_(std::move(done)) {}
  void set(result<T> r) { outcome_.emplace(std::move(r)); }
  void complete() noexcept {
    deliver(done_, outcome_ ? std::move(*outcome_) : failure<T>(make_error(errc::internal, "write not run")));
  }

 private:
  callback<T> done_;
  std::optional<result<T>> outcome_;
};

/// A write that runs on its own: any function of the connection.
class single_job : public write_job {
 public:
  single_job() noexcept : write_job(kind::single) {}
  virtual job_run run(connection& c) = 0;
};

template <class T, class Work>
class typed_write_job final : public single_job {
 public:
  typed_write_job(Work work, callback<T> done) : work_(std::move(work)), outcome_(std::move(done)) {}

  job_run run(connection& c) override {
    try {
      outcome_.set(work_(c));
      return job_run::done;
    } catch (...) {
      outcome_.set(failure<T>(current_failure("write")));
      return job_run::aborted;
    }
  }
  void fail(const error& e) override { outcome_.set(failure<T>(e)); }
  void complete() noexcept override { outcome_.complete(); }

 private:
  Work work_;
  outcome_of<T> outcome_;
};

/// store::append_message.
class append_job final : public write_job {
 public:
  append_job(send_request request, callback<send_result> done)
      : write_job(kind::append), req(std::move(request)), outcome(std::move(done)) {}
  void fail(const error& e) override { outcome.set(failure<send_result>(e)); }
  void complete() noexcept override { outcome.complete(); }

  send_request req;
  outcome_of<send_result> outcome;
};

/// store::mark_delivered.
class receipt_job final : public write_job {
 public:
  receipt_job(user_id for_user, std::vector<message_id> message_ids, unix_ms when, callback<delivered_result> done)
      : write_job(kind::receipt),
        recipient(for_user),
        ids(std::move(message_ids)),
        at(when),
        outcome(std::move(done)) {}
  void fail(const error& e) override { outcome.set(failure<delivered_result>(e)); }
  void complete() noexcept override { outcome.complete(); }

  user_id recipient;
  std::vector<message_id> ids;
  unix_ms at;
  outcome_of<delivered_result> outcome;
};

/// What the writer thread knows across batches.
struct writer_state {
  /// Stream events older than this are forgotten a few at a time by the steps that add events.
  std::chrono::milliseconds retention{0};
  /// False while no block exists: appends skip their lookup of the blocks table. Set by
  /// block_user before it writes (a rolled back block only costs lookups); a write that
  /// removes blocks asks for recheck_blocks, and after its batch the writer reads again
  /// whether any block is left. Appends run first in a batch, so they always see the state
  /// of the batches before.
  bool blocks_possible = true;
  bool recheck_blocks = false;
};

/// Runs one step of a batch: a single job, or a run of consecutive jobs of the same kind.
/// On job_run::aborted every job of the step holds an error.
job_run run_step(connection& c, std::span<write_job* const> jobs, const writer_state& state);

}  // namespace chatrix::storage::sqlite_detail
