// libpq's asynchronous API on Asio: the socket libpq owns is watched through a
// stream_descriptor for readiness only; libpq does all reading and writing itself.

#include "storage/postgres/connection.hpp"

#include "storage/postgres/conninfo.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <variant>

namespace chatrix::storage::postgres_detail {

namespace {

using wait_type = asio::posix::stream_descriptor::wait_type;

}  // namespace

params& params::add_array(const std::vector<std::int64_t>& values) {
  std::string literal = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) literal += ',';
    literal += std::to_string(values[i]);
  }
  literal += '}';
  return add(std::move(literal));
}

params& params::add_optional_array(const std::vector<std::optional<std::int64_t>>& values) {
  std::string literal = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) literal += ',';
    literal += values[i] ? std::to_string(*values[i]) : "NULL";
  }
  literal += '}';
  return add(std::move(literal));
}

params& params::add_text_array(const std::vector<std::optional<std::string_view>>& values) {
  std::string literal = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) literal += ',';
    if (!values[i]) {
      literal += "NULL";
      continue;
    }
    literal += '"';
    for (const char ch : *values[i]) {
      if (ch == '"' || ch == '\\') literal += '\\';
      literal += ch;
    }
    literal += '"';
  }
  literal += '}';
  return add(std::move(literal));
}

std::vector<const char*> params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
  return out;
}

namespace {

/// The first line: libpq's messages continue with hints, CONTEXT and query text (which may
/// quote user data) that do not belong in a log line.
std::string first_line(std::string text) {
  text.erase(std::min(text.find('\n'), text.size()));
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? "unknown error" : text;
}

}  // namespace

std::string connection::error_text(const PGresult* r) const {
  return scrub(first_line(r ? PQresultErrorMessage(r) : "no result"), secrets_);
}

/// Server notices ("relation already exists, skipping"...) would go to stderr by default.
void connection::on_notice(void* self, const char* message) {
  std::string_view text(message);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  spdlog::debug("postgres: {}", scrub(std::string(text), static_cast<const connection*>(self)->secrets_));
}

connection::connection(asio::any_io_executor ex) : socket_(ex), deadline_(ex), watchdog_(ex) {}

void connection::close() noexcept {
  disarm_deadline();
  // release(), not close(): the descriptor belongs to libpq, and PQfinish closes it. Closing
  // it here too could close an unrelated file that reused the number in between.
  if (socket_.is_open()) socket_.release();
  if (conn_) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
}

void connection::fail(std::string_view what) {
  std::string reason(what);
  if (conn_) reason += ": " + first_line(PQerrorMessage(conn_));
  close();
  throw connection_lost(scrub(std::move(reason), secrets_));
}

void connection::fail_timed_out() {
  // Without libpq's text: whatever it holds is not about this.
  close();
  throw connection_lost("timed out: the server did not answer within the operation timeout");
}

void connection::adopt_socket() {
  // libpq may open a new socket during connection setup (another host of a list, an SSL or
  // GSS fallback), possibly reusing the old number, so the descriptor is re-registered
  // every time instead of compared.
  if (socket_.is_open()) socket_.release();
  const int fd = PQsocket(conn_);
  if (fd < 0) fail("no socket");
  boost::system::error_code ec;
  socket_.assign(fd, ec);
  if (ec) fail("cannot watch the socket (" + ec.message() + ")");
}

asio::awaitable<void> connection::connect(const config::postgres_address& address, std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  close();
  secrets_ = address_secrets(address);
  // A database host that vanishes without a reset must still be noticed: keepalives for
  // idle connections, tcp_user_timeout (ms) for data sent and never acknowledged (else a
  // batch in flight would wait for TCP's own retransmission limit, many minutes). They come
  // first, so that the address's own keywords override them.
  const libpq_parameters parameters(address, {{"keepalives", "1"},
                                              {"keepalives_idle", "30"},
                                              {"keepalives_interval", "10"},
                                              {"keepalives_count", "3"},
                                              {"tcp_user_timeout", "30000"}});
  conn_ = PQconnectStartParams(parameters.keywords(), parameters.values(), 0);
  if (conn_ == nullptr) throw connection_lost("cannot allocate a connection");
  if (PQstatus(conn_) == CONNECTION_BAD) fail("cannot connect");
  deadline_.expires_after(timeout);
  // Before the first PQconnectPoll, libpq's protocol is to wait for writability.
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  for (;;) {
    if (status == PGRES_POLLING_OK) break;
    if (status == PGRES_POLLING_FAILED) fail("cannot connect");
    adopt_socket();
    const wait_type w = status == PGRES_POLLING_READING ? wait_type::wait_read : wait_type::wait_write;
    std::variant<std::monostate, std::monostate> first;
    try {
      first = co_await (socket_.async_wait(w, asio::use_awaitable) || deadline_.async_wait(asio::use_awaitable));
    } catch (const std::exception&) {
      fail("connection attempt cancelled");
    }
    if (first.index() == 1) fail("timed out connecting");
    status = PQconnectPoll(conn_);
  }
  adopt_socket();
  if (PQsetnonblocking(conn_, 1) != 0) fail("cannot switch to nonblocking mode");
  PQsetNoticeProcessor(conn_, &connection::on_notice, this);
}

void connection::send_script(const char* sql) {
  if (!PQsendQuery(conn_, sql)) fail("cannot send");
}

void connection::send_params(const char* sql, const params& p) {
  const auto values = p.pointers();
  if (!PQsendQueryParams(conn_, sql, p.size(), nullptr, values.data(), nullptr, nullptr, 0)) fail("cannot send");
}

void connection::send_prepare(const char* name, const char* sql) {
  if (!PQsendPrepare(conn_, name, sql, 0, nullptr)) fail("cannot send");
}

void connection::send_prepared(const char* name, const params& p) {
  const auto values = p.pointers();
  if (!PQsendQueryPrepared(conn_, name, p.size(), values.data(), nullptr, nullptr, 0)) fail("cannot send");
}

void connection::enter_pipeline() {
  if (!PQenterPipelineMode(conn_)) fail("cannot enter pipeline mode");
}

void connection::exit_pipeline() {
  if (!PQexitPipelineMode(conn_)) fail("cannot leave pipeline mode");
}

void connection::pipeline_sync() {
  if (!PQpipelineSync(conn_)) fail("cannot send a sync");
}

void connection::arm_deadline(std::chrono::milliseconds limit) {
  timed_out_ = false;
  const std::uint64_t generation = ++watchdog_generation_;
  watchdog_.expires_after(limit);
  watchdog_.async_wait([this, generation](const boost::system::error_code& ec) {
    // Checked in this order: after a cancel (or the timer's destruction), `this` may be gone.
    if (ec || generation != watchdog_generation_) return;
    timed_out_ = true;
    boost::system::error_code ignored;
    if (socket_.is_open()) socket_.cancel(ignored);  // wakes the wait in progress
  });
}

void connection::disarm_deadline() noexcept {
  ++watchdog_generation_;
  watchdog_.cancel();
  timed_out_ = false;
}

asio::awaitable<void> connection::wait(wait_type w) {
  if (timed_out_) fail_timed_out();
  auto [ec] = co_await socket_.async_wait(w, asio::as_tuple(asio::use_awaitable));
  if (timed_out_) fail_timed_out();
  if (ec) fail("wait failed (" + ec.message() + ")");
}

asio::awaitable<void> connection::flush() {
  using namespace asio::experimental::awaitable_operators;
  for (;;) {
    const int r = PQflush(conn_);
    if (r == 0) co_return;
    if (r < 0) fail("cannot send");
    // libpq's rule for a partial flush: wait for either readiness; on read readiness,
    // absorb the input first.
    if (timed_out_) fail_timed_out();
    std::variant<std::monostate, std::monostate> ready;
    try {
      ready = co_await (socket_.async_wait(wait_type::wait_read, asio::use_awaitable) ||
                        socket_.async_wait(wait_type::wait_write, asio::use_awaitable));
    } catch (const std::exception&) {
      if (timed_out_) fail_timed_out();
      fail("wait failed");
    }
    if (timed_out_) fail_timed_out();
    if (ready.index() == 0 && !PQconsumeInput(conn_)) fail("connection lost");
  }
}

asio::awaitable<pg_result> connection::next_result() {
  while (PQisBusy(conn_)) {
    co_await wait(wait_type::wait_read);
    if (!PQconsumeInput(conn_)) fail("connection lost");
  }
  pg_result r(PQgetResult(conn_));
  // libpq reports a lost connection as a failed result; everything after it is moot.
  if (PQstatus(conn_) == CONNECTION_BAD) fail("connection lost");
  co_return r;
}

asio::awaitable<pg_result> connection::finish_query() {
  pg_result last;
  std::optional<statement_error> first_error;
  while (pg_result r = co_await next_result()) {
    const ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
      if (classify(r.get()) == failure_kind::connection) fail(error_text(r.get()));
      if (!first_error) {
        const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
        first_error.emplace(state ? state : "", error_text(r.get()));
      }
    }
    last = std::move(r);
  }
  if (first_error) throw *first_error;
  co_return last;
}

asio::awaitable<bool> connection::wait_idle() {
  auto [ec] = co_await socket_.async_wait(wait_type::wait_read, asio::as_tuple(asio::use_awaitable));
  if (ec == asio::error::operation_aborted) co_return true;  // woken by cancel()
  if (ec || !PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK) {
    close();
    co_return false;
  }
  // Nothing is expected while idle except the notice that precedes a server-side close;
  // notifications (none are LISTENed to) are dropped.
  while (PGnotify* n = PQnotifies(conn_)) PQfreemem(n);
  co_return true;
}

void connection::cancel() noexcept {
  boost::system::error_code ignored;
  if (socket_.is_open()) socket_.cancel(ignored);
  deadline_.cancel();
}

failure_kind connection::classify(const PGresult* r) const noexcept {
  if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) return failure_kind::connection;
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) return failure_kind::connection;  // generated by libpq, not the server
  const std::string_view s(state);
  // Class 08: connection exception; 57P01..57P05: the server is shutting down or crashed.
  if (s.starts_with("08") || s.starts_with("57P")) return failure_kind::connection;
  return failure_kind::statement;
}

void connection::check(const PGresult* r, ExecStatusType ok) { check(r, ok, ok); }

void connection::check(const PGresult* r, ExecStatusType ok1, ExecStatusType ok2) {
  const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == ok1 || st == ok2) return;
  if (r == nullptr) fail("missing result");
  if (classify(r) == failure_kind::connection) fail(error_text(r));
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  throw statement_error(state ? state : "", st == PGRES_PIPELINE_ABORTED ? "pipeline aborted" : error_text(r));
}

}  // namespace chatrix::storage::postgres_detail
