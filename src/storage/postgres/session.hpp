// What runs on a fresh connection of the PostgreSQL store before it serves anything:
// session settings and prepared statements; and the one-off statements of that setup and
// of migrations, each run alone and waited for.
#pragma once

#include "storage/postgres/connection.hpp"
#include "storage/postgres/queries.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <optional>

namespace chatrix::storage::postgres_detail {

/// Runs one statement (extended protocol, outside pipeline mode) and returns its result.
asio::awaitable<pg_result> exec(connection& c, const char* text, const params& p = {});
/// Runs a script of several statements (simple protocol, outside pipeline mode).
asio::awaitable<void> exec_script(connection& c, const char* text);

/// Session settings every connection needs, before anything else runs on it.
/// synchronous_commit: with 'off' a COMMIT returns before its WAL is flushed, and a crash
/// of the database could lose messages already acknowledged. 'off' (from the role or the
/// database, say) is turned on for the session; every other value flushes locally and is
/// kept (remote_apply, for one, is stronger than on). Read connections also get
/// statement_timeout, so that the server gives up a read the store stopped waiting for.
/// `warned`: log the override once per store, not once per connection.
asio::awaitable<void> setup_session(connection& c, std::optional<std::chrono::milliseconds> statement_timeout,
                                    bool& warned);

/// Prepares `statements` in one pipeline (one round trip). Leaves the connection in
/// pipeline mode if `stay_in_pipeline`.
template <std::size_t N>
asio::awaitable<void> prepare(connection& c, const sql::statement (&statements)[N], bool stay_in_pipeline) {
  c.enter_pipeline();
  for (const auto& s : statements) c.send_prepare(s.name, s.text);
  c.pipeline_sync();
  co_await c.flush();
  for (std::size_t i = 0; i < N; ++i) {
    const pg_result r = co_await c.next_result();
    c.check(r.get(), PGRES_COMMAND_OK);
    co_await c.next_result();  // end of this statement's results
  }
  const pg_result sync = co_await c.next_result();
  c.check(sync.get(), PGRES_PIPELINE_SYNC);
  if (!stay_in_pipeline) c.exit_pipeline();
}

}  // namespace chatrix::storage::postgres_detail
