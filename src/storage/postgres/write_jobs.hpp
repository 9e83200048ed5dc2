// The writes the PostgreSQL store's writers run, and how a batch of them becomes the
// statements of one transaction.
//
// Messages and delivery receipts are the bulk of all writes, so consecutive ones are sent
// together, as one call with arrays (chatrix_append_batch, chatrix_mark_delivered_batch);
// everything else is one statement per job.
#pragma once

#include "storage/postgres/job.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace chatrix::storage::postgres_detail {

/// A write the writer sends together with its neighbours of the same kind, as one call with
/// arrays; each takes its rows of the result.
class grouped_job : public job {
 public:
  using job::job;
  /// A row of the group's result that belongs to this job.
  virtual void take_row(const PGresult* r, int row) noexcept = 0;
  /// Every row is distributed.
  virtual void taken() noexcept = 0;
  void take(const PGresult*) noexcept override {}  // always sent as part of a group
};

/// store::append_message, grouped as one chatrix_append_batch call.
class append_job final : public grouped_job {
 public:
  append_job(send_request req, callback<send_result> done)
      : grouped_job(sql::append_batch, params()), req_(std::move(req)), done_(std::move(done)) {}
  const send_request& request() const noexcept { return req_; }

  /// Columns as sql::append_batch's.
  void take_row(const PGresult* r, int row) noexcept override;
  void taken() noexcept override;
  void take_entry(stream_entry e) noexcept override {
    if (outcome_ && outcome_->has_value()) add_entry((*outcome_)->stream, std::move(e));
  }
  void fail(const error& e) noexcept override { outcome_.emplace(failure<send_result>(e)); }
  void complete() noexcept override { deliver(done_, outcome_); }

 private:
  send_request req_;
  callback<send_result> done_;
  std::optional<result<send_result>> outcome_;
};

/// store::mark_delivered, grouped as one chatrix_mark_delivered_batch call.
class receipt_job final : public grouped_job {
 public:
  receipt_job(user_id recipient, std::vector<message_id> ids, unix_ms at, callback<delivered_result> done)
      : grouped_job(sql::mark_delivered_batch, params()),
        recipient_(recipient),
        ids_(std::move(ids)),
        at_(at),
        done_(std::move(done)) {}
  user_id recipient() const noexcept { return recipient_; }
  const std::vector<message_id>& ids() const noexcept { return ids_; }
  unix_ms at() const noexcept { return at_; }

  /// Columns as sql::mark_delivered_batch's.
  void take_row(const PGresult* r, int row) noexcept override;
  void taken() noexcept override;
  void take_entry(stream_entry e) noexcept override {
    if (outcome_ && outcome_->has_value()) add_entry((*outcome_)->stream, std::move(e));
  }
  void fail(const error& e) noexcept override { outcome_.emplace(failure<delivered_result>(e)); }
  void complete() noexcept override { deliver(done_, outcome_); }

 private:
  user_id recipient_;
  std::vector<message_id> ids_;
  unix_ms at_;
  callback<delivered_result> done_;
  std::vector<message_ref> refs_;
  bool failed_ = false;
  std::optional<result<delivered_result>> outcome_;
};

/// What the writer sends as one statement: a single job, or a run of grouped jobs of one
/// kind (appends with the same retry window, or receipts) as one call with arrays, whose
/// rows name their job by its 1-based position (appends) or 0-based index (receipts); or
/// the stream flush that ends a transaction whose writes staged events, whose rows name
/// their job by its tag (`jobs` is then the whole batch, in tag order).
struct write_unit {
  std::vector<job*> jobs;
  params args;                                 // when own_args; a single job brings its own
  bool own_args = false;
  const sql::statement* statement = nullptr;  // nullptr: the jobs' own

  const sql::statement& stmt() const noexcept { return statement ? *statement : jobs.front()->stmt(); }
  const params& arguments() const noexcept { return own_args ? args : jobs.front()->args(); }
  bool is_flush() const noexcept { return statement == &sql::stream_flush; }
  void take(const PGresult* r);
  void fail(const error& e);
};

/// Grouped jobs of one kind as one call (or a single job, with its tag if it stages events).
write_unit group_unit(std::vector<job*> jobs);

/// The batch as units: the appends first, grouped, then every other job in order, runs of
/// receipts grouped, and last the stream flush if any of them stages events (its retention
/// in ms, 0 = keep events forever). Tags each job with its place in that order. Moving the
/// appends ahead changes no outcome: no other write of a batch can refer to a message stored
/// in it (its id is known only once the batch committed), and no append to a user created in
/// it (same reason).
std::vector<write_unit> units_of(const std::vector<std::unique_ptr<job>>& jobs, std::int64_t retention_ms);

}  // namespace chatrix::storage::postgres_detail
