// Direct access to a test server's own database (its SQLite file or its PostgreSQL
// database), around the server: for states no API can make (an account deleted under a live
// token) and for checking what was stored, byte for byte.
#pragma once

#include "support/server_process.hpp"

#include <string>
#include <vector>

namespace chatrix::test {

using sql_rows = std::vector<std::vector<std::string>>;

/// Runs `sql` (one or more statements) on the database `server` runs with and returns the rows
/// of the last statement, each column as text ("" for NULL). Throws std::runtime_error with
/// the database's message. On SQLite, reads may run while the server does (WAL); writes
/// should wait for server.stop(), since the server does not expect its rows to change
/// under it (its user cache, for one, would not notice).
sql_rows query_database(const server_process& server, const std::string& sql);

}  // namespace chatrix::test
