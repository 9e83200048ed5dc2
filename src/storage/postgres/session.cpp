#include "storage/postgres/session.hpp"

#include "storage/postgres/rows.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

namespace chatrix::storage::postgres_detail {

asio::awaitable<pg_result> exec(connection& c, const char* text, const params& p) {
  c.send_params(text, p);
  co_await c.flush();
  co_return co_await c.finish_query();
}

asio::awaitable<void> exec_script(connection& c, const char* text) {
  c.send_script(text);
  co_await c.flush();
  co_await c.finish_query();
}

asio::awaitable<void> setup_session(connection& c, std::optional<std::chrono::milliseconds> statement_timeout,
                                    bool& warned) {
  const pg_result shown = co_await exec(c, sql::show_synchronous_commit);
  if (text(shown.get(), 0, 0) == "off") {
    if (!warned) {
      spdlog::warn("postgres store: synchronous_commit is off for this role or database; Chatrix turns it on "
                   "for its own sessions (a commit must be on disk before a message is acknowledged)");
      warned = true;
    }
    const pg_result set = co_await exec(c, sql::synchronous_commit_on);
    if (const std::string now = text(set.get(), 0, 0); now != "on") {
      throw std::runtime_error("synchronous_commit is '" + now + "' and cannot be turned on; refusing to run");
    }
  }
  if (statement_timeout) {
    co_await exec(c, sql::set_statement_timeout, params().add(std::to_string(statement_timeout->count())));
  }
}

}  // namespace chatrix::storage::postgres_detail
