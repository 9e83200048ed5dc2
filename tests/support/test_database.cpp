// SQL on a test server's database with the client libraries (sqlite3, libpq). See
// test_database.hpp.
#include "support/test_database.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <memory>
#include <stdexcept>

namespace chatrix::test {

namespace {

sql_rows query_sqlite(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* raw = nullptr;
  // No CREATE: a missing file means the test is looking in the wrong place.
  const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  if (rc != SQLITE_OK) throw std::runtime_error("cannot open " + file.string() + ": " + sqlite3_errstr(rc));
  // The server's checkpointer may hold the write lock for a moment.
  sqlite3_busy_timeout(db.get(), 5000);
  sql_rows rows;
  const char* next = sql.c_str();
  while (next != nullptr && *next != '\0') {
    sqlite3_stmt* raw_stmt = nullptr;
    if (sqlite3_prepare_v2(db.get(), next, -1, &raw_stmt, &next) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db.get()));
    if (raw_stmt == nullptr) continue;  // only whitespace or a comment was left
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw_stmt, &sqlite3_finalize);
    rows.clear();
    int step = SQLITE_ROW;
    while ((step = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      auto& row = rows.emplace_back();
      for (int i = 0; i < sqlite3_column_count(stmt.get()); ++i) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), i));
        const auto bytes = static_cast<std::size_t>(sqlite3_column_bytes(stmt.get(), i));
        row.emplace_back(text == nullptr ? std::string() : std::string(text, bytes));
      }
    }
    if (step != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db.get()));
  }
  return rows;
}

sql_rows query_postgres(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK)
    throw std::runtime_error("cannot connect to the test database: " + std::string(PQerrorMessage(conn.get())));
  // PQexec runs several statements in one transaction and returns the last one's result.
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), sql.c_str()), &PQclear);
  const auto status = PQresultStatus(res.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(res.get()));
  sql_rows rows;
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    auto& row = rows.emplace_back();
    for (int c = 0; c < PQnfields(res.get()); ++c)
      row.emplace_back(PQgetvalue(res.get(), r, c), static_cast<std::size_t>(PQgetlength(res.get(), r, c)));
  }
  return rows;
}

}  // namespace

sql_rows query_database(const server_process& server, const std::string& sql) {
  const std::string url = server.database_url();
  if (url.empty()) return query_sqlite(server.data_dir() / "chatrix.db", sql);  // the server's default
  if (url.rfind("sqlite:", 0) == 0) return query_sqlite(url.substr(7), sql);
  return query_postgres(url, sql);
}

}  // namespace chatrix::test
