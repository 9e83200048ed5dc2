// One call of the PostgreSQL store as a job: the statement it runs, how its result becomes
// the caller's outcome, and the callback that reports it. Queued for a writer or a reader.
#pragma once

#include "storage/postgres/connection.hpp"
#include "storage/postgres/queries.hpp"
#include "storage/store.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace chatrix::storage::postgres_detail {

template <class T>
result<T> failure(const error& e) {
  return result<T>(boost::system::in_place_error, e);
}

inline const error& unavailable_error() {
  static const error e = make_error(errc::unavailable, "database temporarily unavailable");
  return e;
}

/// Runs the caller's callback; an exception must not kill the store's thread nor keep the
/// callbacks after it from running.
template <class T>
void deliver(const callback<T>& done, std::optional<result<T>>& outcome) noexcept {
  try {
    done(outcome ? std::move(*outcome) : failure<T>(make_error(errc::internal, "write not run")));
  } catch (const std::exception& e) {
    spdlog::error("postgres store: a callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("postgres store: a callback threw");
  }
}

/// Appends a stream entry to a result; running out of memory here is as fatal as anywhere.
inline void add_entry(std::vector<stream_entry>& to, stream_entry e) noexcept { to.push_back(std::move(e)); }

/// One statement of the store, queued for the writer or a reader. take() reads its result
/// (a logical failure comes back as a row, never as an SQL error); fail() replaces the
/// outcome; complete() runs the callback once the outcome is final.
class job {
 public:
  job(const sql::statement& stmt, params args) : stmt_(stmt), args_(std::move(args)) {}
  virtual ~job() = default;
  const sql::statement& stmt() const noexcept { return stmt_; }
  const params& args() const noexcept { return args_; }
  virtual void take(const PGresult* r) noexcept = 0;
  /// One stream event this write added, once positions are known (sql::stream_flush runs
  /// after every statement of the transaction).
  virtual void take_entry(stream_entry) noexcept {}
  virtual void fail(const error& e) noexcept = 0;
  virtual void complete() noexcept = 0;

  /// Its index in the batch being written, which names its staged events.
  int tag = 0;

 private:
  const sql::statement& stmt_;
  params args_;
};

template <class T, class Parse>
class typed_job final : public job {
 public:
  typed_job(const sql::statement& stmt, params args, Parse parse, callback<T> done)
      : job(stmt, std::move(args)), parse_(std::move(parse)), done_(std::move(done)) {}

  void take(const PGresult* r) noexcept override {
    try {
      outcome_.emplace(parse_(r));
    } catch (const std::exception& e) {
      spdlog::error("postgres store: unexpected result of {}: {}", stmt().name, e.what());
      outcome_.emplace(failure<T>(make_error(errc::internal, "database error")));
    }
  }

  void take_entry(stream_entry e) noexcept override {
    if constexpr (requires(T& t) { t.stream.push_back(std::move(e)); }) {
      if (outcome_ && outcome_->has_value()) add_entry((*outcome_)->stream, std::move(e));
    }
  }

  void fail(const error& e) noexcept override { outcome_.emplace(failure<T>(e)); }

  void complete() noexcept override { deliver(done_, outcome_); }

 private:
  Parse parse_;
  callback<T> done_;
  std::optional<result<T>> outcome_;
};

template <class T, class Parse>
std::unique_ptr<job> make_job(const sql::statement& stmt, params args, callback<T> done, Parse parse) {
  return std::make_unique<typed_job<T, Parse>>(stmt, std::move(args), std::move(parse), std::move(done));
}

}  // namespace chatrix::storage::postgres_detail
