// Runs the storage contract against sqlite_store, plus what only the SQLite backend
// promises: migrations, WAL, group commit batching, index use by the hot queries.

#include "store_contract.hpp"

#include "storage/sqlite/migrations.hpp"
#include "storage/sqlite/connection.hpp"
#include "storage/sqlite/queries.hpp"
#include "storage/sqlite/sqlite_store.hpp"
#include "metrics/metrics.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace chatrix::storage::testing {
namespace {

namespace fs = std::filesystem;

/// A private directory, removed with everything in it.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "chatrix-sqlite-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class sqlite_factory final : public store_factory {
 public:
  std::unique_ptr<store> make() override { return std::make_unique<sqlite_store>(dir_.path() / "chatrix.db"); }

  std::unique_ptr<store> make_gated(std::size_t max_queued_writes, std::shared_future<void> gate) override {
    sqlite_options opts;
    opts.max_queued_writes = max_queued_writes;
    opts.before_write_batch = [gate] { gate.wait(); };
    return std::make_unique<sqlite_store>(dir_.path() / ("gated-" + std::to_string(++gated_) + ".db"),
                                          std::move(opts));
  }

 private:
  temp_dir dir_;
  int gated_ = 0;
};

INSTANTIATE_TEST_SUITE_P(sqlite, store_contract,
                         ::testing::Values(store_backend{"sqlite", [] { return std::make_unique<sqlite_factory>(); }}),
                         backend_name{});

/// Direct SQLite access, to look at what the store wrote.
class raw_db {
 public:
  explicit raw_db(const fs::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + file.string());
    }
  }
  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;
  ~raw_db() { sqlite3_close_v2(db_); }

  /// Runs a script of several statements.
  void exec(std::string_view script) {
    char* message = nullptr;
    if (sqlite3_exec(db_, std::string(script).c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string what = message ? message : "unknown error";
      sqlite3_free(message);
      throw std::runtime_error("exec failed: " + what);
    }
  }

  /// All rows of a constant statement, each row's columns joined by '|'.
  std::vector<std::string> rows(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("prepare failed: ") + sqlite3_errmsg(db_) + " in " + sql);
    }
    std::vector<std::string> out;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        if (i) row += '|';
        const auto* text = sqlite3_column_text(stmt, i);
        row += text ? reinterpret_cast<const char*>(text) : "NULL";
      }
      out.push_back(row);
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

/// A gate the writer hook waits on, which a test can close and open again.
class reusable_gate {
 public:
  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = true;
};

errc code_of_send(const result<send_result>& r) { return r ? errc{} : r.error().code; }

user make_user(store& s, const std::string& username) {
  return await<user>([&](auto done) { s.create_user(new_user{username, username, "h", 1}, done); }).value();
}

TEST(sqlite_store, applies_each_migration_once_and_uses_wal) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  for (int round = 0; round < 2; ++round) {
    sqlite_store s(file);
    make_user(s, std::string("round").append(std::to_string(round)));
    s.shutdown();
  }
  ASSERT_TRUE(fs::exists(file));
  raw_db db(file);
  EXPECT_EQ(db.rows("SELECT version, name FROM schema_version"),
            (std::vector<std::string>{"1|initial schema", "2|unread counters", "3|search any substring",
                                      "4|token revocation", "5|stream and files",
                                      "6|stream retention per user", "7|people"}));
  EXPECT_EQ(db.rows("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  EXPECT_EQ(db.rows("SELECT username FROM users ORDER BY id"), (std::vector<std::string>{"round0", "round1"}));
  // The suffix index was kept in step by the triggers: every suffix of the folded username
  // and display name (both "round1" here, so each once).
  EXPECT_EQ(db.rows("SELECT suffix FROM user_suffixes WHERE user_id = 2 ORDER BY suffix"),
            (std::vector<std::string>{"1", "d1", "nd1", "ound1", "round1", "und1"}));
}

// Migrations 2 and 3 on a database that already has users: the new search finds them.
TEST(sqlite_store, migration_3_indexes_existing_users_for_search) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  std::ofstream{file};  // an empty file is an empty database; raw_db does not create one
  {
    raw_db db(file);
    db.exec(sqlite_detail::create_schema_version_table);
    db.exec(sqlite_detail::migrations[0].sql);
    db.exec("INSERT INTO schema_version VALUES (1, 'initial schema', 0);"
            "INSERT INTO users (username, username_folded, name, password_hash, created_at) VALUES "
            "('Alice', 'alice', 'Alice Liddell', 'h', 0), ('bob', 'bob', 'Robert', 'h', 0);");
  }
  sqlite_store s(file);
  const auto search = [&](const std::string& fragment) {
    std::vector<std::string> out;
    for (const user& u :
         await<std::vector<user>>([&](auto done) { s.search_users(fragment, 10, done); }).value()) {
      out.push_back(u.username);
    }
    return out;
  };
  EXPECT_EQ(search("li"), std::vector<std::string>{"Alice"});
  EXPECT_EQ(search("RO"), std::vector<std::string>{"bob"});
  make_user(s, "carol");
  EXPECT_EQ(search("ro"), (std::vector<std::string>{"bob", "carol"})) << "new users are indexed by the triggers";
  s.shutdown();
  raw_db db(file);
  EXPECT_TRUE(db.rows("SELECT name FROM sqlite_schema WHERE name LIKE 'users_fts%'").empty()) << "trigram index dropped";
}

TEST(sqlite_store, refuses_a_schema_newer_than_it_knows) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  { sqlite_store s(file); }
  {
    raw_db db(file);
    db.rows("INSERT INTO schema_version (version, name, applied_at) VALUES (99, 'future', 0)");
  }
  auto opened = sqlite_store::open(file);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, errc::unavailable);
  EXPECT_NE(opened.error().message.find("newer"), std::string::npos) << opened.error().message;
}

mode_t mode_of(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + file.string());
  return st.st_mode & 0777;
}

// The database holds password hashes: neither it nor its WAL and shared-memory files may be
// readable by others, whatever the umask (the common 022 would give 0644).
TEST(sqlite_store, creates_the_database_and_its_wal_files_owner_only) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  const mode_t old_umask = ::umask(022);
  sqlite_store s(file);
  ::umask(old_umask);
  make_user(s, "written");  // the WAL exists once something was written
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const fs::path f = file.string() + suffix;
    ASSERT_TRUE(fs::exists(f)) << f;
    EXPECT_EQ(mode_of(f), 0600u) << f;
  }
}

// An operator's choice for an existing file stands (a warning is logged when it is open to others).
TEST(sqlite_store, keeps_the_mode_of_an_existing_database) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  std::ofstream{file};
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  sqlite_store s(file);
  make_user(s, "written");
  EXPECT_EQ(mode_of(file), 0640u);
}

// Pruning is bounded per write: a backlog of expired records goes max_pruned_per_write at a
// time, oldest first, never the record being written.
TEST(sqlite_store, each_token_write_forgets_a_bounded_number_of_expired_records) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  { sqlite_store s(file); }
  constexpr int backlog = 2 * store::max_pruned_per_write + 5;
  {
    raw_db db(file);
    for (int i = 0; i < backlog; ++i) {
      db.exec("INSERT INTO tokens (jti, user_id, expires_at, revoked_at) VALUES ('old-" + std::to_string(i) +
              "', 1, " + std::to_string(1000 + i) + ", 1)");
    }
  }
  sqlite_store s(file);
  const auto remaining = [&] {
    return await<revocation_snapshot>([&](auto done) { s.revocations(0, done); }).value().tokens.size();
  };
  ASSERT_EQ(remaining(), static_cast<std::size_t>(backlog));
  ASSERT_TRUE(await<bool>([&](auto done) { s.record_token({"new-1", 1, 4'000'000'000'000}, done); }).value());
  EXPECT_EQ(remaining(), static_cast<std::size_t>(backlog - store::max_pruned_per_write));
  ASSERT_FALSE(await<bool>([&](auto done) { s.revoke_token({"old-30", 1, 1030}, done); }).value()) << "revoked before";
  EXPECT_EQ(remaining(), static_cast<std::size_t>(backlog - 2 * store::max_pruned_per_write))
      << "revoking prunes too, but not the token it writes";
  s.shutdown();
  raw_db db(file);
  EXPECT_EQ(db.rows("SELECT jti FROM tokens WHERE jti LIKE 'old-%' ORDER BY expires_at"),
            (std::vector<std::string>{"old-30", "old-33", "old-34", "old-35", "old-36"}));
}

TEST(sqlite_store, open_reports_an_unusable_path) {
  temp_dir dir;
  const fs::path file = dir.path() / "no-such-dir" / "chatrix.db";
  auto opened = sqlite_store::open(file);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, errc::unavailable);
  EXPECT_THROW(sqlite_store{file}, error_exception);
  EXPECT_FALSE(fs::exists(file.parent_path())) << "creating directories is the caller's job";
}

// Group commit: writes that queued up while the writer was busy share one transaction.
TEST(sqlite_store, queued_writes_share_one_transaction_up_to_the_batch_size) {
  for (const std::size_t batch_size : {std::size_t{1024}, std::size_t{100}}) {
    temp_dir dir;
    reusable_gate gate;
    sqlite_options opts;
    opts.max_batch_size = batch_size;
    opts.before_write_batch = [&gate] { gate.wait(); };
    sqlite_store s(dir.path() / "chatrix.db", opts);
    const user a = make_user(s, "a");
    const user b = make_user(s, "b");

    gate.close();
    constexpr int count = 300;
    completion_log<send_result> log;
    for (int i = 0; i < count; ++i) s.append_message(send_request{a.id, b.id, "x", std::nullopt, 1, 0}, log.make(i));
    const std::uint64_t before = s.committed_batches();
    gate.open();
    ASSERT_TRUE(log.wait_for(count));
    const auto entries = log.entries();
    for (int i = 0; i < count; ++i) {
      const auto& entry = entries[static_cast<std::size_t>(i)];
      ASSERT_EQ(entry.tag, i);
      ASSERT_TRUE(entry.outcome.has_value());
      // Multi-row inserts of 32 and a remainder: ids and sequence numbers still in call order.
      EXPECT_EQ(entry.outcome->stored.seq, i + 1);
      if (i > 0) {
        EXPECT_EQ(entry.outcome->stored.id, entries[static_cast<std::size_t>(i) - 1].outcome->stored.id + 1);
      }
    }
    const std::uint64_t expected = (count + batch_size - 1) / batch_size;
    EXPECT_EQ(s.committed_batches() - before, expected) << "batch size " << batch_size;
    s.shutdown();
  }
}

// The writer reports the queue it has not taken yet, and each commit's duration and size.
TEST(sqlite_store, the_writer_reports_queue_depth_commit_time_and_batch_size) {
  temp_dir dir;
  reusable_gate gate;
  metrics::store_metrics m;
  sqlite_options opts;
  opts.before_write_batch = [&gate] { gate.wait(); };
  opts.metrics = &m;
  sqlite_store s(dir.path() / "chatrix.db", opts);
  const user a = make_user(s, "a");
  const user b = make_user(s, "b");
  const auto commits_before = m.commit_seconds.read().count();
  EXPECT_EQ(m.commit_writes.read().count(), commits_before) << "one size per commit";
  EXPECT_EQ(m.queued_writes.load(), 0);

  gate.close();
  constexpr int count = 40;
  completion_log<send_result> log;
  for (int i = 0; i < count; ++i) s.append_message(send_request{a.id, b.id, "x", std::nullopt, 1, 0}, log.make(i));
  EXPECT_EQ(m.queued_writes.load(), count) << "the writer waits in the gate with everything still queued";
  gate.open();
  ASSERT_TRUE(log.wait_for(count));
  EXPECT_EQ(m.queued_writes.load(), 0);
  const auto sizes = m.commit_writes.read();
  EXPECT_EQ(sizes.count(), commits_before + 1);
  EXPECT_EQ(sizes.counts[6], 1u) << "one batch of 40: the (32, 64] bucket";
  const auto times = m.commit_seconds.read();
  EXPECT_EQ(times.count(), commits_before + 1);
  EXPECT_GT(times.sum, 0u);
  s.shutdown();
}

// The writer runs consecutive appends and receipts as groups (one lookup per conversation,
// multi-row statements); the outcomes must be those of running them one by one.
TEST(sqlite_store, grouped_appends_and_receipts_match_one_by_one) {
  temp_dir dir;
  reusable_gate gate;
  sqlite_options opts;
  opts.before_write_batch = [&gate] { gate.wait(); };
  sqlite_store s(dir.path() / "chatrix.db", opts);
  const user a = make_user(s, "a");
  const user b = make_user(s, "b");
  const user c = make_user(s, "c");
  constexpr unix_ms window = 60'000;

  gate.close();
  const std::uint64_t before = s.committed_batches();
  completion_log<send_result> sent;
  s.append_message(send_request{a.id, b.id, "one", "1", 1000, window}, sent.make(0));
  s.append_message(send_request{b.id, a.id, "two", "1", 1001, window}, sent.make(1));  // same mark, other sender
  s.append_message(send_request{a.id, b.id, "one", "1", 1002, window}, sent.make(2));  // a retry of 0
  s.append_message(send_request{a.id, b.id, "one!", "1", 1003, window}, sent.make(3));  // same mark, new text
  s.append_message(send_request{a.id, 999999, "lost", "2", 1004, window}, sent.make(4));
  s.append_message(send_request{a.id, c.id, "three", "3", 1005, window}, sent.make(5));  // a new conversation
  s.append_message(send_request{a.id, b.id, "four", std::nullopt, 1006, window}, sent.make(6));
  gate.open();
  ASSERT_TRUE(sent.wait_for(7));
  EXPECT_EQ(s.committed_batches() - before, 1u) << "one transaction for the whole group";
  const auto e = sent.entries();
  for (int i : {0, 1, 2, 3, 5, 6}) ASSERT_TRUE(e[static_cast<std::size_t>(i)].outcome.has_value()) << i;
  const message& one = e[0].outcome->stored;
  const message& two = e[1].outcome->stored;
  const message& one_again = e[3].outcome->stored;
  const message& three = e[5].outcome->stored;
  const message& four = e[6].outcome->stored;
  EXPECT_FALSE(e[0].outcome->duplicate);
  EXPECT_FALSE(e[1].outcome->duplicate);
  EXPECT_TRUE(e[2].outcome->duplicate);
  EXPECT_EQ(e[2].outcome->stored.id, one.id);
  EXPECT_FALSE(e[3].outcome->duplicate) << "other content: not a retry";
  ASSERT_FALSE(e[4].outcome.has_value());
  EXPECT_EQ(e[4].outcome.error().code, errc::unknown_recipient);
  EXPECT_EQ(one.seq, 1);
  EXPECT_EQ(two.seq, 2);
  EXPECT_EQ(one_again.seq, 3);
  EXPECT_EQ(four.seq, 4);
  EXPECT_EQ(two.conversation, one.conversation);
  EXPECT_EQ(three.seq, 1);
  EXPECT_NE(three.conversation, one.conversation);
  EXPECT_LT(one.id, two.id);
  EXPECT_LT(two.id, one_again.id);
  EXPECT_LT(one_again.id, three.id);
  EXPECT_LT(three.id, four.id);

  // Once committed, the same retry is found in the database.
  auto later = await<send_result>(
      [&](auto done) { s.append_message(send_request{a.id, b.id, "one", "1", 2000, window}, done); });
  ASSERT_TRUE(later.has_value());
  EXPECT_TRUE(later->duplicate);
  EXPECT_EQ(later->stored.id, one.id);

  gate.close();
  completion_log<delivered_result> receipts;
  s.mark_delivered(b.id, {one.id, one.id, two.id}, 5000, receipts.make(0));  // two is to a, not to b
  s.mark_delivered(b.id, {one.id, four.id}, 5000, receipts.make(1));         // one is taken already
  s.mark_delivered(a.id, {two.id}, 6000, receipts.make(2));
  gate.open();
  ASSERT_TRUE(receipts.wait_for(3));
  const auto r = receipts.entries();
  auto ids = [](const result<delivered_result>& refs) {
    std::vector<message_id> out;
    for (const auto& ref : refs.value().delivered) out.push_back(ref.id);
    return out;
  };
  EXPECT_EQ(ids(r[0].outcome), std::vector<message_id>{one.id});
  EXPECT_EQ(ids(r[1].outcome), std::vector<message_id>{four.id});
  EXPECT_EQ(ids(r[2].outcome), std::vector<message_id>{two.id});
  EXPECT_EQ(r[0].outcome->delivered.front().sender, a.id);

  auto pending_b = await<std::vector<message>>([&](auto done) { s.pending_messages(b.id, 0, 10, done); });
  ASSERT_TRUE(pending_b.has_value());
  ASSERT_EQ(pending_b->size(), 1u);
  EXPECT_EQ(pending_b->front().id, one_again.id);
  auto previews = await<std::vector<chat_preview>>([&](auto done) { s.chat_previews(b.id, 10, done); });
  ASSERT_TRUE(previews.has_value());
  ASSERT_EQ(previews->size(), 1u);
  EXPECT_EQ(previews->front().unread, 3) << "one, one!, four";
  ASSERT_TRUE(previews->front().last.has_value());
  EXPECT_EQ(previews->front().last->id, four.id);
  s.shutdown();
}

// The store's connections write the WAL through a layer that gathers writes until a sync or
// a read needs them (wal_write_buffer.cpp). A transaction larger than the page cache makes
// SQLite write pages to the WAL before the commit and read them back from it; another
// connection, on the plain VFS, must then see exactly what was committed.
TEST(sqlite_store, the_wal_write_buffer_keeps_what_sqlite_wrote) {
  temp_dir dir;
  const fs::path file = dir.path() / "buffered.db";
  {
    auto c = sqlite_detail::connection::open(file, sqlite_detail::open_mode::read_write_create);
    c.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = 16;"
           "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);");
    c.exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
           "INSERT INTO t (id, v) SELECT i, printf('%.200c', 'x') || i FROM n; COMMIT;");
    // Rewrites pages of the same transaction (SQLite overwrites their frames in place).
    c.exec("BEGIN; UPDATE t SET v = 'y' || id WHERE id % 7 = 0; UPDATE t SET v = 'z' || id WHERE id % 11 = 0; COMMIT;");
    raw_db other(file);
    long total_length = 0;
    for (int i = 1; i <= 20000; ++i) {
      const auto digits = static_cast<long>(std::to_string(i).size());
      total_length += (i % 7 == 0 || i % 11 == 0) ? 1 + digits : 200 + digits;
    }
    EXPECT_EQ(other.rows("SELECT count(*), sum(length(v)) FROM t"),
              std::vector<std::string>{"20000|" + std::to_string(total_length)});
    EXPECT_EQ(other.rows("SELECT v FROM t WHERE id IN (77, 14, 22, 5) ORDER BY id"),
              (std::vector<std::string>{std::string(200, 'x') + "5", "y14", "z22", "z77"}));
  }
}

// Checkpoints run on their own thread: the WAL is copied back into the database file while
// the store keeps running (SQLite's automatic checkpoint, inside the writer's commits, is off).
TEST(sqlite_store, the_wal_is_checkpointed_in_the_background) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  sqlite_store s(file);
  const user a = make_user(s, "a");
  const user b = make_user(s, "b");
  const auto db_size = [&] { return fs::file_size(file); };
  const auto before = db_size();
  // ~24 MiB of messages: several times checkpointer::background_pages of WAL.
  const std::string content(6000, 'x');
  completion_log<send_result> log;
  constexpr int count = 4000;
  for (int i = 0; i < count; ++i) s.append_message(send_request{a.id, b.id, content, std::nullopt, i, 0}, log.make(i));
  ASSERT_TRUE(log.wait_for(count));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  // One background checkpoint copies background_pages (16 MiB) of WAL; the messages share it
  // with their stream events and indexes, so the file grows by a little less than that. Half
  // of it cannot come from anything but a checkpoint (the automatic one is off).
  constexpr std::uintmax_t one_checkpoint = 8 * 1024 * 1024;
  while (db_size() < before + one_checkpoint && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GE(db_size(), before + one_checkpoint) << "the messages are still only in the WAL";
  s.shutdown();
}

// The queries whose cost must not grow with the table: each must walk an index, never
// scan users, messages or conversations.
TEST(sqlite_store, hot_queries_use_indexes) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  {
    sqlite_store s(file);
    s.shutdown();
  }
  raw_db db(file);
  // ANALYZE-free plans are what a fresh database gets; that is the case to check.
  const std::vector<std::pair<const char*, std::string_view>> queries{
      {"search_exact_username", sqlite_detail::sql::search_exact_username},
      {"search_exact_name", sqlite_detail::sql::search_exact_name},
      {"search_username_prefix", sqlite_detail::sql::search_username_prefix},
      {"search_name_prefix", sqlite_detail::sql::search_name_prefix},
      {"search_substring", sqlite_detail::sql::search_substring},
      {"select_credentials_by_folded_name", sqlite_detail::sql::select_credentials_by_folded_name},
      {"select_retry", sqlite_detail::sql::select_retry},
      {"select_pending", sqlite_detail::sql::select_pending},
      {"select_history_before_seq", sqlite_detail::sql::select_history_before_seq},
      {"select_conversation_by_pair", sqlite_detail::sql::select_conversation_by_pair},
      {"select_previews", sqlite_detail::sql::select_previews},
      {"select_conversation_seq", sqlite_detail::sql::select_conversation_seq},
      {"select_undelivered(32)", sqlite_detail::sql::select_undelivered(32)},
      {"select_read_state", sqlite_detail::sql::select_read_state},
      {"prune_expired_tokens", sqlite_detail::sql::prune_expired_tokens},
      {"revoke_user_tokens", sqlite_detail::sql::revoke_user_tokens},
      {"select_revoked_tokens", sqlite_detail::sql::select_revoked_tokens},
      {"select_message_by_id", sqlite_detail::sql::select_message_by_id},
      {"select_stream_state", sqlite_detail::sql::select_stream_state},
      {"select_stream_events", sqlite_detail::sql::select_stream_events},
      {"select_oldest_events", sqlite_detail::sql::select_oldest_events},
      {"select_random_stream_owner", sqlite_detail::sql::select_random_stream_owner},
      {"select_message_pair", sqlite_detail::sql::select_message_pair},
      {"select_complete_file_owner", sqlite_detail::sql::select_complete_file_owner},
      {"select_previews_before", sqlite_detail::sql::select_previews_before},
      {"select_messages_after_seq", sqlite_detail::sql::select_messages_after_seq},
      {"select_conversation_members", sqlite_detail::sql::select_conversation_members},
      {"select_change_state", sqlite_detail::sql::select_change_state},
      {"select_file_for", sqlite_detail::sql::select_file_for},
      {"select_file_chunk", sqlite_detail::sql::select_file_chunk},
      {"select_file_chunk_totals", sqlite_detail::sql::select_file_chunk_totals},
      {"select_abandoned_files", sqlite_detail::sql::select_abandoned_files},
      {"select_search_user", sqlite_detail::sql::select_search_user},
      {"reclaim_username", sqlite_detail::sql::reclaim_username},
      {"select_blocks_between", sqlite_detail::sql::select_blocks_between},
      {"select_blocked_users", sqlite_detail::sql::select_blocked_users},
      {"select_blocked_ids", sqlite_detail::sql::select_blocked_ids},
      {"select_blocker_ids", sqlite_detail::sql::select_blocker_ids},
      {"count_blocks_by", sqlite_detail::sql::count_blocks_by},
      {"select_conversations_of", sqlite_detail::sql::select_conversations_of},
      {"erase_sent_messages", sqlite_detail::sql::erase_sent_messages},
      {"select_files_of", sqlite_detail::sql::select_files_of},
      {"delete_blocks_of", sqlite_detail::sql::delete_blocks_of},
      {"delete_push_devices_of", sqlite_detail::sql::delete_push_devices_of},
      {"select_push_devices", sqlite_detail::sql::select_push_devices},
      {"delete_oldest_push_devices", sqlite_detail::sql::delete_oldest_push_devices},
      {"select_push_due", sqlite_detail::sql::select_push_due},
  };
  for (const auto& [name, sql] : queries) {
    const auto plan = db.rows("EXPLAIN QUERY PLAN " + std::string(sql));
    ASSERT_FALSE(plan.empty()) << name;
    for (const std::string& step : plan) {
      for (const char* table :
           {"users", "u", "p", "messages", "m", "v", "x", "conversations", "tokens", "stream_events", "files", "f",
            "blocks", "b", "push_devices"}) {
        const std::string full_scan = std::string("SCAN ") + table;
        const auto at = step.find(full_scan);
        const bool scans = at != std::string::npos &&
                           (at + full_scan.size() == step.size() || step[at + full_scan.size()] == ' ');
        EXPECT_FALSE(scans) << name << ": " << step;
      }
    }
    if (std::string_view(name).starts_with("search_")) {
      // Search stops walking after `limit` users, which only works if the rows come in
      // ranking order from the index: a sort would read the whole range first.
      for (const std::string& step : plan) {
        EXPECT_EQ(step.find("TEMP B-TREE"), std::string::npos) << name << ": " << step;
        EXPECT_EQ(step.find("SCAN"), std::string::npos) << name << ": " << step;
      }
    }
  }
}

// Every statement the writer runs per message or receipt: none may open a temporary b-tree
// (a RETURNING clause, a sort or an IN list does), which cost more than the rest of a send
// together. (set_delivered's IN list is the exception: one per 32 receipts.)
TEST(sqlite_store, write_path_statements_open_no_temporary_btree) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  {
    sqlite_store s(file);
    s.shutdown();
  }
  raw_db db(file);
  namespace sql = sqlite_detail::sql;
  const std::vector<std::pair<const char*, std::string_view>> statements{
      {"select_retry", sql::select_retry},
      {"select_conversation_seq", sql::select_conversation_seq},
      {"advance_conversation", sql::advance_conversation},
      {"insert_conversation", sql::insert_conversation},
      {"count_users_by_ids", sql::count_users_by_ids},
      {"select_blocks_between", sql::select_blocks_between},
      {"insert_messages(1)", sql::insert_messages(1)},
      {"insert_messages(32)", sql::insert_messages(32)},
      {"select_undelivered(32)", sql::select_undelivered(32)},
      {"set_delivered(1)", sql::set_delivered(1)},
      {"select_read_state", sql::select_read_state},
      {"set_read", sql::set_read},
      {"subtract_unread", sql::subtract_unread},
      {"select_stream_pos", sql::select_stream_pos},
      {"save_stream_positions(1)", sql::save_stream_positions(1)},
      {"save_stream_positions(32)", sql::save_stream_positions(32)},
      {"insert_stream_events(1)", sql::insert_stream_events(1)},
      {"insert_stream_events(32)", sql::insert_stream_events(32)},
      {"select_oldest_events", sql::select_oldest_events},
      {"select_random_stream_owner", sql::select_random_stream_owner},
      {"delete_events_through", sql::delete_events_through},
      {"raise_pruned_through", sql::raise_pruned_through},
  };
  for (const auto& [name, text] : statements) {
    const auto program = db.rows("EXPLAIN " + std::string(text));
    ASSERT_FALSE(program.empty()) << name;
    for (const std::string& op : program) {
      EXPECT_EQ(op.find("|OpenEphemeral|"), std::string::npos) << name << ": " << op;
      EXPECT_EQ(op.find("|SorterOpen|"), std::string::npos) << name << ": " << op;
    }
  }
}

/// Whether the file's bytes contain `text` (false for a file that does not exist).
bool file_contains(const fs::path& file, const std::string& text) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes.find(text) != std::string::npos;
}

// Deleted (and edited-away) text is gone from the database, not only hidden: no row of any
// table holds it, and with secure_delete neither do the freed cells and pages of the file
// once the WAL is checkpointed.
TEST(sqlite_store, deleted_and_edited_text_leaves_no_bytes_in_the_database_file) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  const std::string secret = "secret-7f3a9e";
  std::string long_secret;  // long enough for overflow pages
  while (long_secret.size() < 6000) long_secret += "long-secret-41d8c2;";
  const std::string draft = "draft-91c2eb";
  message_id short_id = 0, long_id = 0, draft_id = 0;
  const auto send_one = [](store& s, user_id from, user_id to, const std::string& text) {
    return await<send_result>([&](auto done) {
             s.append_message(send_request{from, to, text, "\"mark\"", 1000, 60'000}, done);
           })
        .value()
        .stored.id;
  };
  {
    sqlite_store s(file);
    const user ann = make_user(s, "ann"), bob = make_user(s, "bob");
    short_id = send_one(s, ann.id, bob.id, secret);
    long_id = send_one(s, ann.id, bob.id, long_secret);
    draft_id = send_one(s, ann.id, bob.id, draft);
    send_one(s, bob.id, ann.id, "kept-text");
    s.shutdown();
  }
  {
    raw_db db(file);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  ASSERT_TRUE(file_contains(file, secret)) << "the text reached the database file";
  ASSERT_TRUE(file_contains(file, "long-secret-41d8c2")) << "in overflow pages, in pieces";
  ASSERT_TRUE(file_contains(file, draft));
  {
    sqlite_store s(file);
    ASSERT_TRUE(await<delete_result>([&](auto done) {
                  s.delete_messages(delete_request{1, {short_id, long_id}, 2000}, done);
                }).has_value());
    ASSERT_TRUE(await<edit_result>([&](auto done) {
                  s.edit_message(edit_request{1, draft_id, "final", 2000, 60'000}, done);
                }).has_value());
    s.shutdown();
  }
  raw_db db(file);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  for (const std::string& table : db.rows("SELECT name FROM sqlite_schema WHERE type = 'table'")) {
    for (const std::string& row : db.rows("SELECT * FROM \"" + table + "\"")) {
      EXPECT_EQ(row.find("secret"), std::string::npos) << table << ": " << row;
      EXPECT_EQ(row.find(draft), std::string::npos) << table << ": " << row;
    }
  }
  for (const fs::path& f : {file, fs::path(file.string() + "-wal")}) {
    EXPECT_FALSE(file_contains(f, secret)) << f;
    EXPECT_FALSE(file_contains(f, "long-secret")) << f;
    EXPECT_FALSE(file_contains(f, draft)) << f;
  }
  EXPECT_TRUE(file_contains(file, "kept-text")) << "the check can see text that is there";
}

TEST(sqlite_store, refuses_a_file_chunk_over_the_chunk_size) {
  temp_dir dir;
  sqlite_store s(dir.path() / "chatrix.db");
  const user ann = make_user(s, "ann");
  stored_file f;
  f.info = file_info{"big", "big.bin", "application/octet-stream", 0};
  f.owner = ann.id;
  f.created_at = 1;
  ASSERT_TRUE(await<bool>([&](auto done) { s.create_file(f, done); }).value());
  const auto too_big = await<bool>([&](auto done) {
    s.append_file_chunk("big", 0, std::string(file_chunk_bytes + 1, 'x'), done);
  });
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().code, errc::invalid_field);
  EXPECT_TRUE(await<bool>([&](auto done) {
                s.append_file_chunk("big", 0, std::string(file_chunk_bytes, 'x'), done);
              }).value());
}

// Some builds of SQLite turn it on by default (SQLITE_SECURE_DELETE), others do not: the store
// does not rely on the build.
TEST(sqlite_store, every_store_connection_runs_with_secure_delete) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  auto c = sqlite_detail::connection::open(file, sqlite_detail::open_mode::read_write_create);
  sqlite_detail::query q(c, "PRAGMA secure_delete");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.int64(0), 1);
}

// A deleted account's words and files are gone from the file as deleted messages are; what
// stays is the folded username (the reservation during the quarantine) and the rows.
TEST(sqlite_store, a_deleted_account_leaves_no_text_of_its_own_in_the_database_file) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  const std::string said = "said-by-ann-5b1c";
  const std::string display = "Display-Ann-77e0";
  {
    sqlite_store s(file);
    const user ann = await<user>([&](auto done) {
                       s.create_user(new_user{"ann", display, "argon-hash-ann", 1}, done);
                     }).value();
    const user bob = make_user(s, "bob");
    stored_file f;
    f.info = file_info{"file-ann", "file-name-ann-39d2.txt", "text/plain", 0};
    f.owner = ann.id;
    f.created_at = 1;
    ASSERT_TRUE(await<bool>([&](auto done) { s.create_file(f, done); }).value());
    ASSERT_TRUE(await<bool>([&](auto done) { s.append_file_chunk("file-ann", 0, "file-bytes-ann-c4", done); }).value());
    ASSERT_TRUE(await<bool>([&](auto done) { s.finish_file("file-ann", 17, 1, done); }).value());
    send_request with_file{ann.id, bob.id, said, "\"m\"", 1000, 60'000};
    with_file.attachment = "file-ann";
    ASSERT_TRUE(await<send_result>([&](auto done) { s.append_message(with_file, done); }));
    ASSERT_TRUE(await<send_result>([&](auto done) {
      s.append_message(send_request{bob.id, ann.id, "bobs-reply-kept", std::nullopt, 1001, 0}, done);
    }));
    s.shutdown();
    {
      raw_db db(file);
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    ASSERT_TRUE(file_contains(file, said));
    ASSERT_TRUE(file_contains(file, display));
    ASSERT_TRUE(file_contains(file, "file-bytes-ann-c4"));
    sqlite_store again(file);
    const auto gone = await<account_deletion>([&](auto done) { again.delete_account(ann.id, 2000, done); });
    ASSERT_TRUE(gone);
    again.shutdown();
  }
  raw_db db(file);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  for (const fs::path& f : {file, fs::path(file.string() + "-wal")}) {
    for (const std::string& text : {said, display, std::string("argon-hash-ann"), std::string("file-bytes-ann-c4"),
                                    std::string("file-name-ann-39d2")})
      EXPECT_FALSE(file_contains(f, text)) << f << ": " << text;
  }
  EXPECT_TRUE(file_contains(file, "bobs-reply-kept"));
  EXPECT_EQ(db.rows("SELECT username, username_folded, name, password_hash, deleted_at FROM users WHERE id = 1"),
            std::vector<std::string>{"|ann||"
                                     "|2000"});
  EXPECT_TRUE(db.rows("SELECT suffix FROM user_suffixes WHERE user_id = 1").empty());
}

// The writer skips the lookup of blocks while none exists; a block stored before a restart
// must still be seen after it, and one stored after the last was removed too.
TEST(sqlite_store, the_writer_looks_for_blocks_whenever_one_exists) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  user_id ann = 0, bob = 0;
  {
    sqlite_store s(file);
    ann = make_user(s, "ann").id;
    bob = make_user(s, "bob").id;
    ASSERT_TRUE(await<bool>([&](auto done) { s.block_user(ann, bob, 10, done); }).value());
  }
  sqlite_store s(file);
  const auto r = await<send_result>([&](auto done) {
    s.append_message(send_request{bob, ann, "hi", std::nullopt, 1000, 0}, done);
  });
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->withheld);
  EXPECT_EQ(code_of_send(await<send_result>([&](auto done) {
              s.append_message(send_request{ann, bob, "hi", std::nullopt, 1001, 0}, done);
            })),
            errc::blocked);

  // Once no block is left the writer stops looking; a new block makes it look again.
  ASSERT_TRUE(await<bool>([&](auto done) { s.unblock_user(ann, bob, done); }).value());
  const auto free = await<send_result>([&](auto done) {
    s.append_message(send_request{ann, bob, "free", std::nullopt, 1002, 0}, done);
  });
  ASSERT_TRUE(free);
  EXPECT_FALSE(free->withheld);
  ASSERT_TRUE(await<bool>([&](auto done) { s.block_user(bob, ann, 1003, done); }).value());
  const auto again = await<send_result>([&](auto done) {
    s.append_message(send_request{ann, bob, "again", std::nullopt, 1004, 0}, done);
  });
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->withheld);
}

// A deleted account's messages wait for no push (it has no devices any more), and its
// tombstone takes no password.
TEST(sqlite_store, a_deleted_account_gets_no_push_and_no_password) {
  temp_dir dir;
  sqlite_store s(dir.path() / "chatrix.db");
  const user ann = make_user(s, "ann"), bob = make_user(s, "bob");
  const message_id to_ann = await<send_result>([&](auto done) {
                              s.append_message(send_request{bob.id, ann.id, "hi", std::nullopt, 10, 0}, done);
                            }).value().stored.id;
  ASSERT_EQ(await<std::vector<message_id>>([&](auto done) { s.undelivered({to_ann}, done); }).value(),
            std::vector<message_id>{to_ann});
  ASSERT_TRUE(await<account_deletion>([&](auto done) { s.delete_account(ann.id, 20, done); }));
  EXPECT_TRUE(await<std::vector<message_id>>([&](auto done) { s.undelivered({to_ann}, done); }).value().empty());
  EXPECT_FALSE(await<bool>([&](auto done) { s.set_password_hash(ann.id, "new", done); }).value());
}

// Migration 7 on a database with users and messages: the new columns take their defaults, and
// pending messages are still found through the rebuilt pending index.
TEST(sqlite_store, migration_7_keeps_existing_users_and_pending_messages) {
  temp_dir dir;
  const fs::path file = dir.path() / "chatrix.db";
  std::ofstream{file};
  {
    raw_db db(file);
    db.exec(sqlite_detail::create_schema_version_table);
    for (const auto& m : sqlite_detail::migrations) {
      if (m.version > 6) break;
      db.exec(m.sql);
      db.exec("INSERT INTO schema_version VALUES (" + std::to_string(m.version) + ", '" + std::string(m.name) +
              "', 0)");
    }
    db.exec("INSERT INTO users (username, username_folded, name, password_hash, created_at) VALUES "
            "('Ann', 'ann', 'Ann', 'h', 0), ('bob', 'bob', 'Bob', 'h', 0);"
            "INSERT INTO conversations (user_lo, user_hi, last_seq, updated_at, unread_hi) VALUES (1, 2, 1, 5, 1);"
            "INSERT INTO messages (conversation_id, seq, sender_id, recipient_id, content, created_at) "
            "VALUES (1, 1, 1, 2, 'old', 5);");
  }
  sqlite_store s(file);
  const auto bob = await<std::optional<user>>([&](auto done) { s.find_user_by_id(2, done); }).value();
  ASSERT_TRUE(bob);
  EXPECT_TRUE(bob->show_presence);
  EXPECT_FALSE(bob->last_seen);
  EXPECT_FALSE(bob->deleted);
  const auto pending =
      await<std::vector<message>>([&](auto done) { s.pending_messages(2, 0, 10, done); }).value();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].content, "old");
  const auto next = await<send_result>([&](auto done) {
    s.append_message(send_request{1, 2, "new", std::nullopt, 10, 0}, done);
  });
  ASSERT_TRUE(next);
  EXPECT_EQ(next->stored.seq, 2);
}

TEST(sqlite_store, rejected_calls_answer_on_the_calling_thread) {
  temp_dir dir;
  sqlite_store s(dir.path() / "chatrix.db");
  s.shutdown();
  std::thread::id called_on;
  result<user> outcome = make_error(errc::internal, "not called");
  s.create_user(new_user{"late", "L", "h", 1}, [&](result<user> r) {
    called_on = std::this_thread::get_id();
    outcome = std::move(r);
  });
  EXPECT_EQ(called_on, std::this_thread::get_id());
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code, errc::unavailable);
}

}  // namespace
}  // namespace chatrix::storage::testing
