// The storage interface: everything Chatrix keeps durably. Implemented by SQLite
// (embedded default) and PostgreSQL. The domain sees only this header.
#pragma once

#include "core/error.hpp"
#include "core/types.hpp"

#include <functional>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatrix::storage {

template <class T>
using callback = std::function<void(result<T>)>;

/// Limits every implementation applies the same way.
struct query_limits {
  static constexpr int max_search_results = 50;
  static constexpr int max_history_page = 200;
  static constexpr int max_previews = 200;
  static constexpr int max_blocks = 1000;        // users one user may block (errc::quota_exceeded beyond)
  static constexpr int max_push_devices = 20;    // push tokens per user (the oldest go beyond)
};

/// An issued token, as revocation needs it (docs/security.md, "Token lifecycle").
struct token_record {
  std::string jti;
  user_id user = 0;
  unix_ms expires_at = 0;  // after this the record may be forgotten: the token is dead anyway
};

/// A token id the stores accept: non-empty, no NUL character (PostgreSQL text cannot hold one).
inline bool is_valid_jti(std::string_view jti) noexcept {
  return !jti.empty() && jti.find('\0') == std::string_view::npos;
}

/// What is revoked and not yet expired: loaded by every node at start and after the bus may
/// have lost revocations (a resync).
struct revocation_snapshot {
  std::vector<token_record> tokens;
  /// Per user: tokens without a jti issued at or before this (unix seconds) are revoked.
  std::vector<std::pair<user_id, std::int64_t>> cutoffs;
};

/// See store::session_start.
struct session_snapshot {
  std::vector<chat_preview> previews;
  std::vector<message> pending;  // oldest first (when no `since` was given, or it expired)
  /// With `since`: the first page of the stream after it (pending stays empty), unless expired.
  std::optional<stream_page> stream;
  stream_pos latest = 0;  // the newest position of the viewer's stream, read in the same snapshot
  block_relations blocks;  // the viewer's, read in the same snapshot
};

/// A stored file's bytes are kept in chunks of at most this size (the upload path writes one
/// chunk per store call, the download path reads one per call).
inline constexpr std::size_t file_chunk_bytes = 256 * 1024;

/// A file row, complete or still being uploaded.
struct stored_file {
  file_info info;
  user_id owner = 0;
  unix_ms created_at = 0;
  bool complete = false;
  int chunks = 0;
};

/// Durable store of users, conversations and messages.
///
/// Thread-safety: every method may be called from any thread. Each call returns at once;
/// its callback runs exactly once, on a thread owned by the store, and must only hand the
/// result over (post it) and return. A call refused at once (errc::overloaded with a full
/// queue, errc::unavailable after shutdown) runs its callback on the caller's thread before
/// returning: queueing the refusal would need the very room that was refused. Writes are
/// group-committed: a callback reporting success runs only after its write is durable.
/// Writes whose outcomes depend on each other are applied, and their callbacks run, in the
/// order they were called: appends to one conversation (numbering, retries), one user's
/// receipts and reads, registrations. Unrelated writes may be applied concurrently (the
/// PostgreSQL store spreads them over several connections).
/// Errors: errc::unavailable when the database cannot be reached, errc::overloaded when the
/// store's bounded queue is full, errc::internal otherwise (unless a method says more).
class store {
 public:
  virtual ~store() = default;

  // ---- users ----

  /// errc::username_taken if the username exists without regard to case: held by a user, or
  /// by an account deleted at or after u.reclaim_deleted_before (its quarantine). An account
  /// deleted before it gives the username up (its row stays, under a name no one can
  /// register, for the messages that name it).
  virtual void create_user(new_user u, callback<user> done) = 0;
  /// Case-insensitive lookup by username; never a deleted account.
  virtual void find_user_by_name(std::string username, callback<std::optional<user_credentials>> done) = 0;
  /// Deleted accounts too (user::deleted), so that their messages can be shown as theirs.
  virtual void find_user_by_id(user_id id, callback<std::optional<user>> done) = 0;
  /// Deleted accounts are never found. Case-insensitive substring match on username and display name, fragments of any
  /// length, ranked: exact username, exact display name (by id), username prefix (by
  /// username), display-name prefix (by display name, then id), then any other match (by
  /// the text from the match to the end of the field, then id); each user once. Case is
  /// folded for ASCII letters only (fold_username) and text compares as bytes, so every
  /// implementation returns the same users in the same order. At most `limit` results; the
  /// cost is bounded by `limit`, not by the number of users or matches.
  virtual void search_users(std::string fragment, int limit, callback<std::vector<user>> done) = 0;

  // ---- messages ----

  /// Stores a message, creating the conversation on first use (exactly once, whatever the
  /// concurrency), assigning the next gap-free sequence number. errc::blocked when the sender
  /// has blocked the recipient, errc::unknown_recipient when the recipient's account is
  /// deleted. When the recipient has blocked the sender, the message is stored withheld
  /// (send_result::withheld, for ever, whatever unblocking follows): only the sender's stream
  /// gets its event, and no read on the recipient's behalf ever returns it (pending, stream,
  /// history, conversation_messages, previews and their unread counts, undelivered), nor do
  /// mark_delivered or mark_read by the recipient change it. A request matching a
  /// message from the same sender to the same recipient with the same mark and content
  /// within the retry window is not stored again: the original comes back, duplicate=true.
  virtual void append_message(send_request req, callback<send_result> done) = 0;

  /// Records that `recipient` received these messages. Only messages to `recipient` that
  /// were not yet delivered change; those come back (so each receipt is reported once), with
  /// a `received` event in each sender's stream.
  virtual void mark_delivered(user_id recipient, std::vector<message_id> ids, unix_ms at,
                              callback<delivered_result> done) = 0;

  /// Marks messages read by `reader`. If any id is not a message to `reader`, nothing
  /// changes and the result is errc::forbidden. Returns the messages that were not read
  /// before; they count as delivered from now on, and those that were not delivered before
  /// come back in `delivered` too (each receipt is reported once, as by mark_delivered).
  virtual void mark_read(user_id reader, std::vector<message_id> ids, unix_ms at, callback<read_result> done) = 0;

  /// Messages to `recipient` not yet delivered, with id > after, oldest first.
  virtual void pending_messages(user_id recipient, message_id after, int limit,
                                callback<std::vector<message>> done) = 0;

  /// Messages between a and b, newest first, with id < before (when given).
  virtual void history(user_id a, user_id b, std::optional<message_id> before, int limit,
                       callback<std::vector<message>> done) = 0;

  /// Messages of one conversation, for a participant (errc::not_found for anybody else, and
  /// for a conversation that does not exist): with `after`, the oldest with id > after, oldest
  /// first; otherwise the newest with id < before (when given), newest first.
  virtual void conversation_messages(user_id viewer, conversation_id chat, std::optional<message_id> before,
                                     std::optional<message_id> after, int limit,
                                     callback<std::vector<message>> done) = 0;

  /// The viewer's conversations, most recent first.
  virtual void chat_previews(user_id viewer, int limit, callback<std::vector<chat_preview>> done) = 0;
  /// The next page of them: the conversations after `before` in that order.
  virtual void chat_previews_page(user_id viewer, preview_cursor before, int limit,
                                  callback<std::vector<chat_preview>> done) = 0;

  /// What a device gets when it connects: chat_previews(viewer, previews_limit) and
  /// pending_messages(viewer, 0, pending_limit), read together. The default makes the two
  /// calls in turn; a store that can answer both at once (one queued job, one read
  /// transaction) saves a connecting device a round trip.
  virtual void session_start(user_id viewer, int previews_limit, int pending_limit, callback<session_snapshot> done);
  /// The same for a device that sent `since`: the previews, the stream's first page after
  /// `since` (at most `events_limit` events) and its latest position, in one snapshot. When
  /// `since` has expired (stream_page::expired), the pending messages instead, as without it.
  virtual void session_resume(user_id viewer, int previews_limit, stream_pos since, int events_limit,
                              int pending_limit, callback<session_snapshot> done) = 0;

  // ---- the per-user event stream (docs/storage.md, "Event stream") ----
  // Every write that changes what a user's devices show adds an event to that user's stream
  // in the same transaction (the results above carry them). Events older than the retention
  // given to the store (SYNC_RETENTION) are forgotten a few at a time by later writes.

  /// The events of `viewer` with pos > since, oldest first, at most `limit`.
  virtual void stream_events(user_id viewer, stream_pos since, int limit, callback<stream_page> done) = 0;

  // ---- edits and deletes ----

  /// The sender replaces a message's content. errc::not_found (no such message, or not one
  /// of the editor's conversations), errc::forbidden (not the sender), errc::edit_window_closed,
  /// errc::invalid_field (the message was deleted).
  virtual void edit_message(edit_request req, callback<edit_result> done) = 0;
  /// The sender deletes messages for everyone: content (and attachment) gone from every
  /// table. errc::not_found, errc::forbidden as edit_message; errc::invalid_field when the
  /// ids span several conversations.
  virtual void delete_messages(delete_request req, callback<delete_result> done) = 0;

  // ---- files (uploads are written chunk by chunk, never held whole) ----

  /// Starts a file: an incomplete row, invisible to downloads until finish_file.
  virtual void create_file(stored_file f, callback<bool> done) = 0;
  /// Appends chunk number `index` (0, 1, ...) of an incomplete file of `owner`.
  virtual void append_file_chunk(std::string id, int index, std::string bytes, callback<bool> done) = 0;
  /// Marks the file complete with its final size and chunk count.
  virtual void finish_file(std::string id, std::int64_t size, int chunks, callback<bool> done) = 0;
  /// A complete file `viewer` may download: the uploader, or a participant of a conversation
  /// where a message carries it. nullopt otherwise (the same answer as for no such file).
  virtual void file_for(user_id viewer, std::string id, callback<std::optional<stored_file>> done) = 0;
  /// The bytes of chunk `index` of a complete file.
  virtual void read_file_chunk(std::string id, int index, callback<std::string> done) = 0;

  // ---- people: profiles, presence, blocks, accounts, push devices ----

  /// PATCH /v1/me: changes the given fields. The user as it is now; nullopt when there is no
  /// such user (or the account is deleted).
  virtual void update_profile(profile_update u, callback<std::optional<user>> done) = 0;
  /// Users whose last device went away: last_seen becomes the later of the stored one and
  /// the given one. One write for many users (a node records them in batches).
  virtual void set_last_seen(std::vector<std::pair<user_id, unix_ms>> seen, callback<bool> done) = 0;
  /// `blocker` blocks `blocked` (true when new; blocking again changes nothing).
  /// errc::quota_exceeded beyond query_limits::max_blocks. Messages already stored are as
  /// they were; later ones from `blocked` to `blocker` are withheld (append_message).
  virtual void block_user(user_id blocker, user_id blocked, unix_ms at, callback<bool> done) = 0;
  /// True when there was such a block. Messages withheld meanwhile stay withheld.
  virtual void unblock_user(user_id blocker, user_id blocked, callback<bool> done) = 0;
  /// The users `blocker` blocked, most recently blocked first.
  virtual void blocked_users(user_id blocker, callback<std::vector<block_entry>> done) = 0;
  /// Both directions, for the typing and presence filters (also in session_snapshot::blocks).
  virtual void block_relations_of(user_id id, callback<block_relations> done) = 0;
  /// The conversation of two users, if they have one (typing names its chat_id).
  virtual void conversation_between(user_id a, user_id b, callback<std::optional<conversation_id>> done) = 0;
  /// DELETE /v1/me, in one transaction: the user row stays as a tombstone (deleted, no name,
  /// no password hash, last_seen and show_presence cleared; the username reserved until
  /// create_user reclaims it), the content (and attachment) of every message the user sent
  /// is erased (as delete_messages does, deleted_at = now) while the rows stay for their
  /// partners' conversations, the user's files, stream, blocks (both ways) and push devices
  /// are gone. Messages the user received stay: they are their senders'. Tokens are revoked
  /// by the caller (revoke_user_tokens). errc::not_found when there is no such user (or it
  /// was deleted already).
  virtual void delete_account(user_id id, unix_ms now, callback<account_deletion> done) = 0;
  /// Registers a push token for `id` (true when new). A (platform, token) registered by
  /// another user moves to `id` (a device changed hands); beyond query_limits::
  /// max_push_devices the user's oldest go.
  virtual void add_push_device(user_id id, push_device d, callback<bool> done) = 0;
  /// True when `id` had that (platform, token).
  virtual void remove_push_device(user_id id, std::string platform, std::string token, callback<bool> done) = 0;
  /// The user's push tokens, oldest first.
  virtual void push_devices(user_id id, callback<std::vector<push_device>> done) = 0;
  /// Of `ids`, the messages that no device of their recipient has received yet and that are
  /// not withheld or deleted (a push is due), in the order given.
  virtual void undelivered(std::vector<message_id> ids, callback<std::vector<message_id>> done) = 0;

  // ---- tokens (revocation survives restarts and holds on every node) ----
  // Records live until their token expires: every record_token and revoke_token also
  // forgets up to max_pruned_per_write records whose expires_at has passed (by the store's
  // clock), so the tables hold the unexpired tokens plus a backlog that each new token
  // shrinks. Writes of one user's tokens are applied in call order. A jti is non-empty and
  // holds no NUL character (errc::invalid_field otherwise).

  static constexpr int max_pruned_per_write = 16;

  /// Remembers an issued token, so that revoking all of a user's tokens finds it. True
  /// when the jti was new (recording it again changes nothing).
  virtual void record_token(token_record t, callback<bool> done) = 0;
  /// Revokes one token (logout), recording it first if it was not (a token minted
  /// elsewhere). Idempotent: true when it was not revoked before.
  virtual void revoke_token(token_record t, callback<bool> done) = 0;
  /// Revokes every token of `user` unexpired at `now_s` (unix seconds) except the one with
  /// jti `keep_jti` ("" = none), and raises the user's cutoff for tokens without a jti to
  /// `now_s` (a cutoff never moves back). Returns the records revoked now (not those revoked
  /// before), in no particular order.
  virtual void revoke_user_tokens(user_id user, std::string keep_jti, std::int64_t now_s,
                                  callback<std::vector<token_record>> done) = 0;
  /// Every revoked token with expires_at > now, and every cutoff, read as one snapshot.
  virtual void revocations(unix_ms now, callback<revocation_snapshot> done) = 0;
  /// Replaces a user's password hash (the caller verified the old password). False when
  /// there is no such user.
  virtual void set_password_hash(user_id user, std::string hash, callback<bool> done) = 0;

  // ---- health ----

  /// A round trip to the database through the read path (a trivial query, `SELECT 1`), for
  /// readiness checks: true once the database answered. Queued like any read, so a store
  /// whose reads are stuck or refused fails it too (errc::unavailable, errc::overloaded).
  virtual void ping(callback<bool> done) = 0;

  /// Finishes queued writes (their callbacks run) and stops the store's threads.
  virtual void shutdown() = 0;
};

inline void store::session_start(user_id viewer, int previews_limit, int pending_limit,
                                 callback<session_snapshot> done) {
  chat_previews(viewer, previews_limit,
                [this, viewer, pending_limit, done = std::move(done)](result<std::vector<chat_preview>> previews) mutable {
                  if (!previews) return done(previews.error());
                  auto snapshot = std::make_shared<session_snapshot>();
                  snapshot->previews = std::move(*previews);
                  pending_messages(viewer, 0, pending_limit,
                                   [snapshot, done = std::move(done)](result<std::vector<message>> pending) {
                                     if (!pending) return done(pending.error());
                                     snapshot->pending = std::move(*pending);
                                     done(std::move(*snapshot));
                                   });
                });
}

}  // namespace chatrix::storage
