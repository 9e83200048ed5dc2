#include "storage/postgres/migrate.hpp"

#include "core/types.hpp"
#include "storage/postgres/migrations.hpp"
#include "storage/postgres/queries.hpp"
#include "storage/postgres/rows.hpp"
#include "storage/postgres/session.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace chatrix::storage::postgres_detail {

namespace {

unix_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

asio::awaitable<int> migrate(connection& c) {
  co_await exec(c, sql::advisory_lock, params().add(migration_lock_key));
  co_await exec_script(c, create_schema_version_table);
  int current = 0;
  for (const auto& m : migrations) {
    // Read inside the transaction, under the lock: another node may have just applied it.
    co_await exec(c, sql::begin_tx);
    try {
      const pg_result r = co_await exec(c, sql::select_schema_version);
      current = static_cast<int>(i64(r.get(), 0, 0));
      if (current > latest_schema_version) {
        throw std::runtime_error("database schema version " + std::to_string(current) +
                                 " is newer than this build supports (" + std::to_string(latest_schema_version) + ")");
      }
      if (current < m.version) {
        spdlog::info("postgres store: applying migration {} ({})", m.version, m.name);
        co_await exec_script(c, m.sql);
        co_await exec(c, sql::insert_schema_version,
                      params().add(std::int64_t{m.version}).add(std::string(m.name)).add(now_ms()));
        current = m.version;
      }
      co_await exec(c, sql::commit_tx);
    } catch (const statement_error& e) {
      throw std::runtime_error("migration " + std::to_string(m.version) + " (" + m.name + ") failed: " + e.what());
    }
  }
  co_await exec(c, sql::advisory_unlock, params().add(migration_lock_key));
  co_return current;
}

}  // namespace chatrix::storage::postgres_detail
