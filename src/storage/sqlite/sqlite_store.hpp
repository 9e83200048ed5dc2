// The embedded storage backend: storage::store over one SQLite file in WAL mode, with a
// single group-committing writer thread and a small pool of reader threads.
#pragma once

#include "storage/store.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <optional>
#include <utility>
#include <vector>

namespace chatrix::metrics {
struct store_metrics;
}

namespace chatrix::storage {

struct sqlite_options {
  /// Threads (each with its own read-only connection) serving lookups, search, history...
  int reader_threads = 2;
  /// Bound of the write queue; a write arriving when it is full fails with errc::overloaded.
  std::size_t max_queued_writes = 100000;
  /// Bound of the read queue; same rule.
  std::size_t max_queued_reads = 100000;
  /// At most this many queued writes share one transaction (one fsync).
  std::size_t max_batch_size = 1024;
  /// How long a connection waits for a lock held by another process before giving up.
  std::chrono::milliseconds busy_timeout{5000};
  /// Test hook: runs on the writer thread when writes are waiting, before it takes them
  /// off the queue. Tests block in it to fill the queue or to form one large batch.
  std::function<void()> before_write_batch;
  /// Stream events older than this are forgotten (SYNC_RETENTION); a `since` before them
  /// has expired.
  std::chrono::milliseconds sync_retention{std::chrono::hours(24 * 30)};
  /// Where the writer reports its commits and the write queue's depth (nullptr: nowhere).
  /// Must outlive the store.
  metrics::store_metrics* metrics = nullptr;
};

/// storage::store on SQLite. See store.hpp for the contract. In addition:
/// - A call rejected at once (errc::overloaded when its queue is full, errc::unavailable
///   after shutdown) runs its callback on the calling thread before returning: there is
///   no store thread to hand it to without queueing, which is what was refused.
/// - shutdown() must not be called from one of the store's callbacks.
class sqlite_store final : public store {
 public:
  /// Opens (creating the file if needed, not its directory) and migrates the database,
  /// then starts the threads. Throws chatrix::error_exception (errc::unavailable) if the
  /// file cannot be opened or migrated; meant for startup.
  explicit sqlite_store(std::filesystem::path db_file, sqlite_options opts = {});
  /// The same, reporting failure as a result instead of an exception.
  static result<std::unique_ptr<sqlite_store>> open(std::filesystem::path db_file, sqlite_options opts = {});

  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;
  /// Calls shutdown().
  ~sqlite_store() override;

  void create_user(new_user u, callback<user> done) override;
  void find_user_by_name(std::string username, callback<std::optional<user_credentials>> done) override;
  void find_user_by_id(user_id id, callback<std::optional<user>> done) override;
  void search_users(std::string fragment, int limit, callback<std::vector<user>> done) override;

  void append_message(send_request req, callback<send_result> done) override;
  void mark_delivered(user_id recipient, std::vector<message_id> ids, unix_ms at,
                      callback<delivered_result> done) override;
  void mark_read(user_id reader, std::vector<message_id> ids, unix_ms at, callback<read_result> done) override;
  void pending_messages(user_id recipient, message_id after, int limit,
                        callback<std::vector<message>> done) override;
  void history(user_id a, user_id b, std::optional<message_id> before, int limit,
               callback<std::vector<message>> done) override;
  void conversation_messages(user_id viewer, conversation_id chat, std::optional<message_id> before,
                             std::optional<message_id> after, int limit,
                             callback<std::vector<message>> done) override;
  void chat_previews(user_id viewer, int limit, callback<std::vector<chat_preview>> done) override;
  void chat_previews_page(user_id viewer, preview_cursor before, int limit,
                          callback<std::vector<chat_preview>> done) override;
  void session_start(user_id viewer, int previews_limit, int pending_limit, callback<session_snapshot> done) override;
  void session_resume(user_id viewer, int previews_limit, stream_pos since, int events_limit, int pending_limit,
                      callback<session_snapshot> done) override;
  void stream_events(user_id viewer, stream_pos since, int limit, callback<stream_page> done) override;

  void edit_message(edit_request req, callback<edit_result> done) override;
  void delete_messages(delete_request req, callback<delete_result> done) override;

  void create_file(stored_file f, callback<bool> done) override;
  void append_file_chunk(std::string id, int index, std::string bytes, callback<bool> done) override;
  void finish_file(std::string id, std::int64_t size, int chunks, callback<bool> done) override;
  void file_for(user_id viewer, std::string id, callback<std::optional<stored_file>> done) override;
  void read_file_chunk(std::string id, int index, callback<std::string> done) override;

  void update_profile(profile_update u, callback<std::optional<user>> done) override;
  void set_last_seen(std::vector<std::pair<user_id, unix_ms>> seen, callback<bool> done) override;
  void block_user(user_id blocker, user_id blocked, unix_ms at, callback<bool> done) override;
  void unblock_user(user_id blocker, user_id blocked, callback<bool> done) override;
  void blocked_users(user_id blocker, callback<std::vector<block_entry>> done) override;
  void block_relations_of(user_id id, callback<block_relations> done) override;
  void conversation_between(user_id a, user_id b, callback<std::optional<conversation_id>> done) override;
  void delete_account(user_id id, unix_ms now, callback<account_deletion> done) override;
  void add_push_device(user_id id, push_device d, callback<bool> done) override;
  void remove_push_device(user_id id, std::string platform, std::string token, callback<bool> done) override;
  void push_devices(user_id id, callback<std::vector<push_device>> done) override;
  void undelivered(std::vector<message_id> ids, callback<std::vector<message_id>> done) override;

  void record_token(token_record t, callback<bool> done) override;
  void revoke_token(token_record t, callback<bool> done) override;
  void revoke_user_tokens(user_id user, std::string keep_jti, std::int64_t now_s,
                          callback<std::vector<token_record>> done) override;
  void revocations(unix_ms now, callback<revocation_snapshot> done) override;
  void set_password_hash(user_id user, std::string hash, callback<bool> done) override;

  /// On a reader thread, like every read.
  void ping(callback<bool> done) override;

  /// Idempotent; concurrent callers wait for the first one to finish.
  void shutdown() override;

  /// Transactions committed by the writer so far (for metrics and group-commit tests).
  std::uint64_t committed_batches() const noexcept;

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace chatrix::storage
