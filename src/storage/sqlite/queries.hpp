// Every SQL statement the SQLite store runs, as named constants. Values are always bound
// as parameters (?1, ?2, ...), never spliced into the text; each text is prepared once
// per connection and cached.
#pragma once

#include <string_view>

namespace chatrix::storage::sqlite_detail::sql {

// ---- connection setup ----

// WAL: readers run alongside the single writer and never block it.
inline constexpr std::string_view journal_mode_wal = "PRAGMA journal_mode = WAL";
// FULL, not NORMAL: in WAL mode NORMAL skips the fsync of the WAL at commit, so a power
// loss could drop transactions whose callbacks already told clients "stored". FULL syncs
// the WAL on every commit; group commit amortises that cost over a whole batch.
inline constexpr std::string_view synchronous_full = "PRAGMA synchronous = FULL";
inline constexpr std::string_view foreign_keys_on = "PRAGMA foreign_keys = ON";

// ---- transactions ----

// IMMEDIATE takes the write lock at BEGIN, so a conflict shows up there (before any job
// ran) rather than half-way through a batch.
inline constexpr std::string_view begin_immediate = "BEGIN IMMEDIATE";
inline constexpr std::string_view commit = "COMMIT";
inline constexpr std::string_view rollback = "ROLLBACK";
// One savepoint per job, so a job that fails undoes only its own writes.
inline constexpr std::string_view savepoint_job = "SAVEPOINT job";
inline constexpr std::string_view rollback_to_job = "ROLLBACK TO job";
inline constexpr std::string_view release_job = "RELEASE job";

// ---- migrations ----

inline constexpr std::string_view select_schema_version = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
inline constexpr std::string_view insert_schema_version =
    "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)";

// ---- users ----

// DO NOTHING + RETURNING: no row back means the folded username exists, without
// raising (and logging) a constraint error.
inline constexpr std::string_view insert_user =
    "INSERT INTO users (username, username_folded, name, password_hash, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (username_folded) DO NOTHING RETURNING id";
inline constexpr std::string_view select_credentials_by_folded_name =
    "SELECT id, username, name, password_hash FROM users WHERE username_folded = ?1";
inline constexpr std::string_view select_user_by_id = "SELECT id, username, name FROM users WHERE id = ?1";
inline constexpr std::string_view count_users_by_ids = "SELECT COUNT(*) FROM users WHERE id IN (?1, ?2)";

// Search (see sqlite_store::search_users and migration 2): each tier returns user ids in
// its ranking order from an ordered index walk that LIMIT (or the caller) stops early.
// ?1 is the folded fragment; ?2 the smallest string above every string starting with it.
// Tier 1: the exact username (UNIQUE index on username_folded).
inline constexpr std::string_view search_exact_username = "SELECT id FROM users WHERE username_folded = ?1";
// Tier 2: the exact display name, in id order (users_name_folded).
inline constexpr std::string_view search_exact_name =
    "SELECT id FROM users WHERE name_folded = ?1 ORDER BY id LIMIT ?2";
// Tier 3: usernames starting with the fragment, as a range of the UNIQUE index, in order.
inline constexpr std::string_view search_username_prefix =
    "SELECT id FROM users WHERE username_folded >= ?1 AND username_folded < ?2 "
    "ORDER BY username_folded LIMIT ?3";
// Tier 4: display names starting with the fragment, as a range of users_name_folded.
inline constexpr std::string_view search_name_prefix =
    "SELECT id FROM users WHERE name_folded >= ?1 AND name_folded < ?2 ORDER BY name_folded, id LIMIT ?3";
// Tier 5: every user with a suffix starting with the fragment, i.e. containing it, in
// (suffix, id) order. No LIMIT: a user may come once per occurrence, so the caller steps
// until it has enough distinct users.
inline constexpr std::string_view search_substring =
    "SELECT user_id FROM user_suffixes WHERE suffix >= ?1 AND suffix < ?2 ORDER BY suffix, user_id";

// ---- messages ----

// The columns read_message expects, in this order.
#define CHATRIX_SQLITE_MESSAGE_COLUMNS \
  "id, conversation_id, seq, sender_id, recipient_id, content, created_at, delivered_at, read_at"

// Retry detection: the newest message with the same sender, mark, recipient and content
// created at or after ?3 (now - retry window). Uses messages_retry.
inline constexpr std::string_view select_retry =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS " FROM messages "
    "WHERE sender_id = ?1 AND mark = ?2 AND created_at >= ?3 AND recipient_id = ?4 AND content = ?5 "
    "ORDER BY id DESC LIMIT 1";
// Get-or-create the conversation of (lo, hi) and take its next sequence number in one
// statement. Only the writer thread runs it, inside the batch transaction, so creation
// happens exactly once and sequence numbers have no gaps; a rolled back job gives its
// number back with the savepoint.
inline constexpr std::string_view next_conversation_seq =
    "INSERT INTO conversations (user_lo, user_hi, last_seq, updated_at) VALUES (?1, ?2, 1, ?3) "
    "ON CONFLICT (user_lo, user_hi) DO UPDATE "
    "SET last_seq = last_seq + 1, updated_at = max(updated_at, excluded.updated_at) "
    "RETURNING id, last_seq";
inline constexpr std::string_view insert_message =
    "INSERT INTO messages (conversation_id, seq, sender_id, recipient_id, content, mark, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id";
inline constexpr std::string_view set_last_message = "UPDATE conversations SET last_message_id = ?2 WHERE id = ?1";

inline constexpr std::string_view mark_one_delivered =
    "UPDATE messages SET delivered_at = ?3 WHERE id = ?1 AND recipient_id = ?2 AND delivered_at IS NULL "
    "RETURNING id, sender_id, recipient_id";
// mark_read: who may read it, and whether reading it is also its first receipt.
inline constexpr std::string_view select_message_recipient =
    "SELECT recipient_id, delivered_at IS NULL FROM messages WHERE id = ?1";
inline constexpr std::string_view mark_one_read =
    "UPDATE messages SET read_at = ?2, delivered_at = COALESCE(delivered_at, ?2) "
    "WHERE id = ?1 AND read_at IS NULL RETURNING id, sender_id, recipient_id";

inline constexpr std::string_view select_pending =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS " FROM messages "
    "WHERE recipient_id = ?1 AND delivered_at IS NULL AND id > ?2 ORDER BY id LIMIT ?3";

inline constexpr std::string_view select_conversation_by_pair =
    "SELECT id FROM conversations WHERE user_lo = ?1 AND user_hi = ?2";
inline constexpr std::string_view select_message_position = "SELECT conversation_id, seq FROM messages WHERE id = ?1";
// History pages walk UNIQUE (conversation_id, seq) backwards. Within one conversation
// ids and seqs grow together, so "id < before" is "seq < the seq of before" when `before`
// is a message of this conversation (the normal case: the oldest message a client has).
inline constexpr std::string_view select_history_before_seq =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS " FROM messages "
    "WHERE conversation_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";
// Fallback for a `before` that is not a message of this conversation: same order, with
// the id filtered while walking the index (slower, only for odd clients).
inline constexpr std::string_view select_history_before_id =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS " FROM messages "
    "WHERE conversation_id = ?1 AND id < ?2 ORDER BY seq DESC LIMIT ?3";

// The viewer's most recent conversations (limit applied before the per-row work), then
// the peer, the unread count (messages_unread) and the last message for those only.
// The viewer's conversations are sorted in full: that set is per user and small.
inline constexpr std::string_view select_previews =
    "WITH recent AS ("
    "  SELECT id, peer, updated_at, last_message_id FROM ("
    "    SELECT id, user_hi AS peer, updated_at, last_message_id FROM conversations WHERE user_lo = ?1"
    "    UNION ALL"
    "    SELECT id, user_lo AS peer, updated_at, last_message_id FROM conversations"
    "      WHERE user_hi = ?1 AND user_lo <> ?1"
    "  ) ORDER BY updated_at DESC, id DESC LIMIT ?2"
    ") "
    "SELECT c.id, c.updated_at, p.id, p.username, p.name, "
    "  (SELECT COUNT(*) FROM messages AS x WHERE x.recipient_id = ?1 AND x.conversation_id = c.id "
    "     AND x.read_at IS NULL), "
    "  m.id, m.conversation_id, m.seq, m.sender_id, m.recipient_id, m.content, m.created_at, "
    "  m.delivered_at, m.read_at "
    "FROM recent AS c JOIN users AS p ON p.id = c.peer "
    "LEFT JOIN messages AS m ON m.id = c.last_message_id "
    "ORDER BY c.updated_at DESC, c.id DESC";

#undef CHATRIX_SQLITE_MESSAGE_COLUMNS

}  // namespace chatrix::storage::sqlite_detail::sql
