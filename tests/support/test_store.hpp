// Which store the integration tests' servers run on: SQLite in the server's data dir (the
// default) or, with CHATRIX_TEST_STORE=postgres, a fresh database on a throwaway PostgreSQL;
// CHATRIX_TEST_STORE=cluster is PostgreSQL plus cluster mode (REDISADDR) on a throwaway Redis.
#pragma once

#include <string>

namespace chatrix::test {

/// True when CHATRIX_TEST_STORE=postgres or cluster (anything else, or unset, means SQLite).
bool testing_postgres();

/// True when CHATRIX_TEST_STORE=cluster: every server runs in cluster mode, on PostgreSQL and
/// the test process's own redis-server (started on first use, stopped at exit), so that the
/// suites registered that way run through the Redis bus and the shared login limits.
bool testing_cluster();

/// The REDISADDR of that redis-server.
std::string test_redis_address();

/// Creates an empty database on the test PostgreSQL and returns its URL (for
/// DB_CONNECTION_URL). The server is, in this order of preference:
/// - the one named by the file CHATRIX_TEST_PG_URL_FILE (a base URL written by the ctest
///   fixture `pg_shared_server_start`, shared by every test process of a ctest run), when
///   that file exists and the server answers;
/// - otherwise one private pg_instance per test process, started on first use and stopped
///   at exit (running a test binary by hand needs nothing else).
/// Throws std::runtime_error when no server can be had.
std::string create_test_database();

/// Drops a database made by create_test_database() once no server uses it any more. A
/// no-op for the private instance (its whole cluster is removed at exit); on the shared one
/// it keeps a long ctest run from filling the disk. Never throws.
void drop_test_database(const std::string& url) noexcept;

}  // namespace chatrix::test
