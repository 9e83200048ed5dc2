// One libpq connection driven by an Asio event loop: nonblocking connect, send, flush and
// result reading as C++20 coroutines, waiting on socket readiness so that no thread ever
// blocks on the database. Not thread-safe: one coroutine at a time, on one io_context.
#pragma once

#include "config/address.hpp"

#include <libpq-fe.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::storage::postgres_detail {

namespace asio = boost::asio;

struct result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using pg_result = std::unique_ptr<PGresult, result_deleter>;

/// The connection is unusable (refused, lost, timed out, cancelled): whatever was in
/// flight has an unknown outcome and the connection has been closed.
class connection_lost : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The server rejected a statement; the connection itself is fine.
class statement_error : public std::runtime_error {
 public:
  statement_error(std::string sqlstate, const std::string& message)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const noexcept { return sqlstate_; }

 private:
  std::string sqlstate_;
};

/// The parameters of one statement, in libpq's text format; nullopt is SQL NULL. Values
/// travel separately from the SQL text, so nothing a user typed can change a statement.
class params {
 public:
  params& add(std::int64_t v) { return add(std::optional<std::string>(std::to_string(v))); }
  params& add(std::string v) { return add(std::optional<std::string>(std::move(v))); }
  params& add(std::optional<std::string> v) {
    values_.push_back(std::move(v));
    return *this;
  }
  /// A bigint[] literal, e.g. {1,2,3}: the array is still one bound value.
  params& add_array(const std::vector<std::int64_t>& values);
  /// The same with NULL elements.
  params& add_optional_array(const std::vector<std::optional<std::int64_t>>& values);
  /// A text[] literal: every element quoted (backslash and double quote escaped), a null
  /// element as NULL.
  params& add_text_array(const std::vector<std::optional<std::string_view>>& values);

  int size() const noexcept { return static_cast<int>(values_.size()); }
  /// Pointers into this object, valid until it changes; libpq copies the data when sending.
  std::vector<const char*> pointers() const;

 private:
  std::vector<std::optional<std::string>> values_;
};

/// How a failed result is to be read.
enum class failure_kind { connection, statement };

class connection {
 public:
  explicit connection(asio::any_io_executor ex);
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { close(); }

  /// Connects to `address` without blocking. Throws connection_lost, with a reason that never
  /// contains the password, on failure or after `timeout`.
  asio::awaitable<void> connect(const config::postgres_address& address, std::chrono::milliseconds timeout);
  bool is_open() const noexcept { return conn_ != nullptr; }
  /// Gives the socket back to libpq (release, not close: PQfinish closes it) and finishes.
  void close() noexcept;

  // Each send_* queues one message in libpq's output buffer; flush() sends it.
  /// Simple protocol: may hold several statements; not allowed in pipeline mode.
  void send_script(const char* sql);
  /// Extended protocol with the unnamed statement.
  void send_params(const char* sql, const params& p);
  void send_prepare(const char* name, const char* sql);
  void send_prepared(const char* name, const params& p);
  void enter_pipeline();
  void exit_pipeline();
  void pipeline_sync();

  /// Sends everything queued, reading meanwhile so that a server blocked on writing its
  /// results to us cannot deadlock against us blocked on writing queries to it.
  asio::awaitable<void> flush();
  /// The next result of the current query; nullptr once it has no more (in pipeline mode:
  /// between queries, not after a sync result).
  asio::awaitable<pg_result> next_result();
  /// Reads every result of the current query (outside pipeline mode). Throws
  /// statement_error for the first failed one (after draining the rest) or
  /// connection_lost; returns the last result.
  asio::awaitable<pg_result> finish_query();

  /// While idle: waits until the server sends something (a shutdown notice, EOF) or
  /// cancel() is called. False if the connection turned out to be broken (it is closed).
  asio::awaitable<bool> wait_idle();
  /// Cancels a pending wait_idle() or connect() (they return / throw promptly).
  void cancel() noexcept;

  /// Bounds what follows until disarm_deadline(): once `limit` has passed, the wait in
  /// progress (or the next one) closes the connection and throws connection_lost ("timed
  /// out"). A stalled server (stopped, or a lock never released) must not hold a batch, and
  /// every call queued behind it, forever. One timer per operation, not per wait.
  void arm_deadline(std::chrono::milliseconds limit);
  void disarm_deadline() noexcept;

  /// Whether a failed result means the connection is gone or only the statement failed.
  failure_kind classify(const PGresult* r) const noexcept;
  /// Throws statement_error or connection_lost (closing) for a result that is not `ok`.
  void check(const PGresult* r, ExecStatusType ok);
  void check(const PGresult* r, ExecStatusType ok1, ExecStatusType ok2);
  /// The first line of a result's error message, with the password scrubbed: every text
  /// from libpq goes through this (or fail()) before it may reach a log line.
  std::string error_text(const PGresult* r) const;

  PGconn* native() const noexcept { return conn_; }

 private:
  void adopt_socket();
  [[noreturn]] void fail(std::string_view what);
  [[noreturn]] void fail_timed_out();
  asio::awaitable<void> wait(asio::posix::stream_descriptor::wait_type w);
  static void on_notice(void* self, const char* message);

  PGconn* conn_ = nullptr;
  asio::posix::stream_descriptor socket_;
  asio::steady_timer deadline_;
  asio::steady_timer watchdog_;              // arm_deadline()
  std::uint64_t watchdog_generation_ = 0;    // a stale expiry must not hit a later operation
  bool timed_out_ = false;
  std::vector<std::string> secrets_;         // the password's forms, for scrub()
};

}  // namespace chatrix::storage::postgres_detail
