// Thin RAII layer over the SQLite C API for the SQLite store: one connection with its
// cache of prepared statements, and a query guard that binds, steps and resets.
// Internal to src/storage/sqlite; each connection is used by exactly one thread.
#pragma once

#include "core/error.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace chatrix::storage::sqlite_detail {

/// A failed SQLite call: the extended result code and SQLite's own message.
class sqlite_error : public std::runtime_error {
 public:
  sqlite_error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// Maps a SQLite failure onto the store's error vocabulary: conditions that may pass
/// (busy, I/O, disk full, cannot open) are errc::unavailable, everything else internal.
/// The message is generic on purpose: it can reach clients; details go to the log.
error to_error(const sqlite_error& e);

enum class open_mode { read_write_create, read_only };

/// The database holds password hashes: a new file is created readable by its owner only,
/// before SQLite opens it (SQLite would create it 0644, and it would stay so for a moment at
/// least). SQLite's unix VFS gives the -wal and -shm files the database file's mode, so they
/// are 0600 too. An existing file keeps the mode its operator chose, with a warning when
/// others may read it. A file that cannot be created is left for SQLite's open to report.
void create_owner_only(const std::filesystem::path& file);

/// One SQLite connection. Movable, not copyable; not thread-safe (SQLITE_OPEN_NOMUTEX):
/// the store gives every connection to a single thread.
class connection {
 public:
  static connection open(const std::filesystem::path& file, open_mode mode);

  connection(connection&& other) noexcept;
  connection& operator=(connection&& other) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();

  /// Runs constant SQL text (possibly several statements, e.g. a migration). Never pass
  /// text with values in it: values go through query::bind.
  void exec(std::string_view sql);

  /// The cached prepared statement for this SQL text, prepared on first use. The text must
  /// outlive the connection (the constants of queries.hpp do): the cache knows it by address.
  sqlite3_stmt* statement(std::string_view sql);

  /// True outside an explicit transaction (SQLite rolls a transaction back by itself
  /// after some errors, e.g. SQLITE_FULL or SQLITE_IOERR).
  bool autocommit() const noexcept;

  /// The rowid of the last row this connection inserted.
  std::int64_t last_insert_rowid() const noexcept;
  /// Rows changed by the last INSERT, UPDATE or DELETE of this connection.
  std::int64_t changes() const noexcept;

  sqlite3* handle() const noexcept { return db_; }

  [[noreturn]] void fail(int code) const;

 private:
  explicit connection(sqlite3* db) noexcept : db_(db) {}
  void close() noexcept;

  sqlite3* db_ = nullptr;
  // Keyed by where the SQL text lives, not by its content: every text is a constant (or
  // built once and kept, see queries.hpp), and hashing the long multi-row texts on every use
  // cost more than running short statements.
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

/// Bytes to bind as a BLOB. Bound without a copy: they must outlive the query's use.
struct blob {
  std::string_view bytes;
};

/// One use of a cached statement: bind parameters, step through rows, read columns.
/// The destructor resets the statement and clears its bindings so the cache can hand it
/// out again. A statement cannot be used twice at once (checked).
class query {
 public:
  /// `sql` as for connection::statement: a text that outlives the connection.
  query(connection& c, std::string_view sql);
  query(const query&) = delete;
  query& operator=(const query&) = delete;
  ~query();

  /// Binds the parameters ?1, ?2, ... in order.
  template <class... Args>
  query& bind(const Args&... args) {
    int index = 0;
    (bind_one(++index, args), ...);
    return *this;
  }

  /// Binds one parameter ?index (for statements with a computed number of parameters).
  template <class T>
  query& bind_at(int index, const T& value) {
    bind_one(index, value);
    return *this;
  }

  /// Advances to the next row; false when there are no more rows.
  bool step();
  /// Steps a statement that returns no rows (or whose rows are not wanted) to the end.
  void run();

  std::int64_t int64(int column) const;
  std::optional<std::int64_t> optional_int64(int column) const;
  std::string text(int column) const;
  std::optional<std::string> optional_text(int column) const;
  std::string blob_bytes(int column) const;

 private:
  void bind_one(int index, std::int64_t value);
  void bind_one(int index, int value) { bind_one(index, static_cast<std::int64_t>(value)); }
  void bind_one(int index, std::string_view value);
  void bind_one(int index, const std::string& value) { bind_one(index, std::string_view(value)); }
  void bind_one(int index, const char* value) { bind_one(index, std::string_view(value)); }
  void bind_one(int index, std::nullopt_t);
  void bind_one(int index, blob value);
  template <class T>
  void bind_one(int index, const std::optional<T>& value) {
    if (value) {
      bind_one(index, *value);
    } else {
      bind_one(index, std::nullopt);
    }
  }

  connection& conn_;
  sqlite3_stmt* stmt_;
};

}  // namespace chatrix::storage::sqlite_detail
