// The production storage backend: storage::store over PostgreSQL through libpq's
// asynchronous API on an Asio event loop, with a group-committing pipelined writer.
#pragma once

#include "config/address.hpp"
#include "storage/store.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace chatrix::metrics {
struct store_metrics;
}

namespace chatrix::storage {

namespace postgres_detail {
class event_loop;
}

struct postgres_options {
  /// Read connections (lookups, search, history, previews); writers have their own.
  int pool_size = 4;
  /// Write connections, each group-committing its own batches, so that PostgreSQL executes
  /// several at once. A conversation's appends go to one of them, and a user's receipts and
  /// reads to one, so call order holds wherever a result depends on it.
  int writers = 2;
  /// Bound of the write queue; a write arriving when it is full fails with errc::overloaded.
  std::size_t max_queued_writes = 100000;
  /// At most this many queued writes share one transaction (one pipeline, one commit).
  std::size_t max_batch = 1024;
  /// Limit for establishing one connection (TCP, authentication, setup).
  std::chrono::milliseconds connect_timeout{5000};
  /// Limit for one write batch (its whole transaction) and for one read. When it passes, the
  /// connection is closed and the calls in flight fail with errc::unavailable (for writes:
  /// outcome unknown, as when the connection is lost during COMMIT); the connection comes
  /// back with the usual backoff. Read connections also get it as statement_timeout.
  std::chrono::milliseconds timeout{10000};
  /// Reconnection backoff: the first retry after reconnect_min, doubling up to reconnect_max.
  std::chrono::milliseconds reconnect_min{100}, reconnect_max{5000};
  /// SYNC_RETENTION: stream events older than this (by the time of the write adding newer
  /// ones) are forgotten, a few per user and write; 0 keeps them forever.
  std::chrono::milliseconds sync_retention{std::chrono::hours(30 * 24)};
  /// Uploads left incomplete for longer than this are forgotten by later uploads.
  std::chrono::milliseconds abandoned_upload{std::chrono::hours(24)};
  /// Bound of the read queue; same rule as for writes.
  std::size_t max_queued_reads = 100000;
  /// Test hook: runs on the store's event-loop thread when writes are waiting, before the
  /// writer takes them off the queue. Blocking in it stalls the whole store (reads too);
  /// tests do so to fill the queue or to form one large batch.
  std::function<void()> before_write_batch;
  /// Where the writers report their commits and the write queues' depth (nullptr: nowhere).
  /// Must outlive the store.
  metrics::store_metrics* metrics = nullptr;
};

/// storage::store on PostgreSQL. See store.hpp for the contract. In addition:
/// - One thread runs an io_context that drives every connection (`writers` writers and
///   `pool_size` readers) by socket readiness; no thread blocks on a query.
/// - Writes are group-committed: each writer's batch is one transaction sent as one
///   pipeline (BEGIN, one statement per write, COMMIT, sync). Callbacks run, in call order
///   per writer, only after COMMIT succeeded; if the batch fails, none of its writes is
///   acknowledged. Appends go to a writer by conversation, receipts and reads by user, and
///   registrations to the first.
///   A write whose COMMIT outcome is unknown (connection lost while committing) reports
///   errc::unavailable; a client retry with the same mark is then recognised as a retry.
/// - While the database is unreachable, calls complete promptly with errc::unavailable;
///   connections come back on their own with exponential backoff. A database that is
///   reachable but stalled fails the calls waiting on it after `timeout`.
/// - Every session runs with synchronous_commit on (turned on if the role or database
///   turns it off), so that an acknowledged write survives a database crash.
/// - A call rejected at once (errc::overloaded when its queue is full, errc::unavailable
///   after shutdown) runs its callback on the calling thread before returning, as in the
///   SQLite store. shutdown() must not be called from one of the store's callbacks.
class postgres_store final : public store {
 public:
  /// Connects, applies pending migrations and opens the pool. Throws chatrix::error_exception
  /// (errc::unavailable, with a reason that never shows the password) when it cannot.
  explicit postgres_store(config::postgres_address address, postgres_options opts = {});
  /// The same from a postgres:// or postgresql:// URL or a libpq key=value string, parsed by
  /// config::parse_postgres_address (malformed: errc::unavailable).
  explicit postgres_store(std::string_view url, postgres_options opts = {});
  /// The same, reporting failure as a result instead of an exception.
  static result<std::unique_ptr<postgres_store>> open(config::postgres_address address, postgres_options opts = {});
  static result<std::unique_ptr<postgres_store>> open(std::string_view url, postgres_options opts = {});

  postgres_store(const postgres_store&) = delete;
  postgres_store& operator=(const postgres_store&) = delete;
  /// Calls shutdown().
  ~postgres_store() override;

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
  void chat_previews(user_id viewer, int limit, callback<std::vector<chat_preview>> done) override;
  void conversation_messages(user_id viewer, conversation_id chat, std::optional<message_id> before,
                             std::optional<message_id> after, int limit,
                             callback<std::vector<message>> done) override;
  void chat_previews_page(user_id viewer, preview_cursor before, int limit,
                          callback<std::vector<chat_preview>> done) override;
  /// One read job, one statement: one round trip and one snapshot for every part.
  void session_start(user_id viewer, int previews_limit, int pending_limit, callback<session_snapshot> done) override;
  void session_resume(user_id viewer, int previews_limit, stream_pos since, int events_limit, int pending_limit,
                      callback<session_snapshot> done) override;
  void stream_events(user_id viewer, stream_pos since, int limit, callback<stream_page> done) override;

  /// On the editor's writer (edits and deletes of one sender apply in call order).
  void edit_message(edit_request req, callback<edit_result> done) override;
  void delete_messages(delete_request req, callback<delete_result> done) override;

  /// On the writer of the file's id (its chunks and finish apply in call order).
  void create_file(stored_file f, callback<bool> done) override;
  void append_file_chunk(std::string id, int index, std::string bytes, callback<bool> done) override;
  void finish_file(std::string id, std::int64_t size, int chunks, callback<bool> done) override;
  void file_for(user_id viewer, std::string id, callback<std::optional<stored_file>> done) override;
  void read_file_chunk(std::string id, int index, callback<std::string> done) override;

  /// People (people.cpp). A user's profile, blocks, devices and deletion go to that user's
  /// writer, so that they apply in call order; set_last_seen is split over the writers of its
  /// users (no two writers of a node then lock one user's row).
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
  /// One statement: one snapshot of tokens and cutoffs.
  void revocations(unix_ms now, callback<revocation_snapshot> done) override;
  void set_password_hash(user_id user, std::string hash, callback<bool> done) override;

  /// On a read connection of the pool, like every read (DB_TIMEOUT applies).
  void ping(callback<bool> done) override;

  /// Finishes queued writes (their callbacks run), closes the connections and joins the
  /// thread. Idempotent; concurrent callers wait for the first one to finish.
  void shutdown() override;

  /// Transactions committed by the writer so far (for metrics and group-commit tests).
  std::uint64_t committed_batches() const noexcept;

 private:
  std::unique_ptr<postgres_detail::event_loop> loop_;
};

/// The connection string with any password replaced by "***", for logs and errors. Handles
/// URLs (postgres://user:secret@host/db, ?password=secret, any case of the scheme) and
/// key=value strings (password=secret, password='se cret').
std::string redact_conninfo(std::string_view url);

/// Connects and applies pending migrations (what the store does at start); returns the
/// schema version. For `chatrix migrate`. Blocks the calling thread.
result<int> run_migrations(const config::postgres_address& address,
                           std::chrono::milliseconds connect_timeout = std::chrono::seconds(10));
/// The same from a connection string, parsed by config::parse_postgres_address.
result<int> run_migrations(std::string_view url, std::chrono::milliseconds connect_timeout = std::chrono::seconds(10));

}  // namespace chatrix::storage
