// SQLite connection, statement cache and query guard (see connection.hpp).

#include "storage/sqlite/connection.hpp"

#include "storage/sqlite/wal_write_buffer.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <utility>

namespace chatrix::storage::sqlite_detail {

error to_error(const sqlite_error& e) {
  switch (e.code() & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      return make_error(errc::unavailable, "database unavailable");
    default:
      return make_error(errc::internal, "database error");
  }
}

namespace {

/// Process-wide settings, which SQLite takes only before it initialises.
void configure_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Memory statistics take a global mutex around every allocation; nothing reads them.
    // (SQLITE_MISUSE if the library was initialised already: then it keeps its defaults.)
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
    wal_write_buffer_vfs();
  });
}

}  // namespace

void create_owner_only(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;  // SQLite's own open fails the same way and reports it
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    spdlog::warn("sqlite store: {} (it holds password hashes) is open to other users (mode {:o}); chmod 600 it",
                 file.string(), st.st_mode & 0777);
  }
  ::close(fd);
}

connection connection::open(const std::filesystem::path& file, open_mode mode) {
  configure_library();
  // NOMUTEX: each connection belongs to one thread, so SQLite's own locking is waste.
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= mode == open_mode::read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &db, flags, wal_write_buffer_vfs());
  if (rc != SQLITE_OK) {
    std::string what = "cannot open " + file.string() + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    throw sqlite_error(rc, what);
  }
  // Extended codes tell SQLITE_IOERR_* apart in the log; to_error masks them.
  sqlite3_extended_result_codes(db, 1);
  // Statements allocate their small objects from this per-connection arena instead of
  // malloc: 512 slots of 1200 bytes (SQLite's default is 100).
  sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, nullptr, 1200, 512);
  connection c(db);
  // Deleted messages must leave no trace: SQLite then overwrites freed cells and pages with
  // zeros instead of leaving the old bytes in the file. Per connection, as every PRAGMA.
  c.exec("PRAGMA secure_delete = ON");
  return c;
}

connection::connection(connection&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), cache_(std::move(other.cache_)) {
  other.cache_.clear();
}

connection& connection::operator=(connection&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    cache_ = std::move(other.cache_);
    other.cache_.clear();
  }
  return *this;
}

connection::~connection() { close(); }

void connection::close() noexcept {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  cache_.clear();
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

void connection::fail(int code) const {
  throw sqlite_error(code, std::string(sqlite3_errstr(code)) + ": " + (db_ ? sqlite3_errmsg(db_) : "no connection"));
}

void connection::exec(std::string_view sql) {
  // sqlite3_exec needs a NUL-terminated string; the constants are string_views.
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string what = std::string(sqlite3_errstr(rc)) + ": " + (message ? message : "");
    sqlite3_free(message);
    throw sqlite_error(sqlite3_extended_errcode(db_), what);
  }
}

sqlite3_stmt* connection::statement(std::string_view sql) {
  if (auto it = cache_.find(sql.data()); it != cache_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt, &tail);
  if (rc != SQLITE_OK) fail(rc);
  if (stmt == nullptr) throw sqlite_error(SQLITE_MISUSE, "empty statement");
  cache_.emplace(sql.data(), stmt);
  return stmt;
}

std::int64_t connection::last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }

std::int64_t connection::changes() const noexcept { return sqlite3_changes64(db_); }

bool connection::autocommit() const noexcept { return sqlite3_get_autocommit(db_) != 0; }

query::query(connection& c, std::string_view sql) : conn_(c), stmt_(c.statement(sql)) {
  // A busy statement here means a caller nested two uses of the same SQL: a bug that
  // would silently reset the outer iteration.
  if (sqlite3_stmt_busy(stmt_)) throw sqlite_error(SQLITE_MISUSE, "statement already in use");
}

query::~query() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool query::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  conn_.fail(rc);
}

void query::run() {
  while (step()) {
  }
}

std::int64_t query::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<std::int64_t> query::optional_int64(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt_, column);
}

std::string query::text(int column) const {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  return data ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::optional<std::string> query::optional_text(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return text(column);
}

std::string query::blob_bytes(int column) const {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  return data ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

void query::bind_one(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) conn_.fail(rc);
}

void query::bind_one(int index, std::string_view value) {
  // SQLITE_TRANSIENT copies: the caller's buffer may not outlive the statement use.
  // A null data pointer would bind SQL NULL; an empty string must stay an empty string.
  const char* data = value.data() ? value.data() : "";
  const int rc = sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) conn_.fail(rc);
}

void query::bind_one(int index, blob value) {
  // SQLITE_STATIC: file chunks are large, and the caller keeps them alive (see blob).
  const char* data = value.bytes.data() ? value.bytes.data() : "";
  const int rc = sqlite3_bind_blob64(stmt_, index, data, value.bytes.size(), SQLITE_STATIC);
  if (rc != SQLITE_OK) conn_.fail(rc);
}

void query::bind_one(int index, std::nullopt_t) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) conn_.fail(rc);
}

}  // namespace chatrix::storage::sqlite_detail
