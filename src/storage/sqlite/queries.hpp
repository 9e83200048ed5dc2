// Every SQL statement the SQLite store runs, as named constants. Values are always bound
// as parameters (?1, ?2, ...), never spliced into the text; each text is prepared once
// per connection and cached.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace chatrix::storage::sqlite_detail::sql {

// ---- connection setup ----

// WAL: readers run alongside the single writer and never block it.
inline constexpr std::string_view journal_mode_wal = "PRAGMA journal_mode = WAL";
// FULL, not NORMAL: in WAL mode NORMAL skips the fsync of the WAL at commit, so a power
// loss could drop transactions whose callbacks already told clients "stored". FULL syncs
// the WAL on every commit; group commit amortises that cost over a whole batch.
inline constexpr std::string_view synchronous_full = "PRAGMA synchronous = FULL";
// Statement journals and sorts stay in memory instead of temporary files.
inline constexpr std::string_view temp_store_memory = "PRAGMA temp_store = MEMORY";
// The writer's page cache holds the hot pages of every index the messages touch (negative:
// KiB). At the default 2 MiB, pages were evicted between batches and read back.
inline constexpr std::string_view writer_cache_size = "PRAGMA cache_size = -32768";
inline constexpr std::string_view reader_cache_size = "PRAGMA cache_size = -8192";

// ---- transactions ----

// IMMEDIATE takes the write lock at BEGIN, so a conflict shows up there (before any job
// ran) rather than half-way through a batch.
inline constexpr std::string_view begin_immediate = "BEGIN IMMEDIATE";
inline constexpr std::string_view begin_deferred = "BEGIN";
inline constexpr std::string_view commit = "COMMIT";
inline constexpr std::string_view rollback = "ROLLBACK";

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
// A deleted account's row keeps its folded username until reclaimed (migration 7), so the
// lookups by name skip tombstones.
inline constexpr std::string_view select_credentials_by_folded_name =
    "SELECT id, username, name, show_presence, last_seen, deleted_at, password_hash FROM users "
    "WHERE username_folded = ?1 AND deleted_at IS NULL";
// A username held by an account deleted before ?2 (its quarantine is over) is given up: the
// tombstone takes a name no one can register.
inline constexpr std::string_view reclaim_username =
    "UPDATE users SET username_folded = '#' || id WHERE username_folded = ?1 AND deleted_at < ?2";
inline constexpr std::string_view ping = "SELECT 1";
inline constexpr std::string_view select_user_by_id =
    "SELECT id, username, name, show_presence, last_seen, deleted_at FROM users WHERE id = ?1";
// Search results: names only, never a deleted account.
inline constexpr std::string_view select_search_user =
    "SELECT id, username, name FROM users WHERE id = ?1 AND deleted_at IS NULL";

inline constexpr std::string_view set_password_hash =
    "UPDATE users SET password_hash = ?2 WHERE id = ?1 AND deleted_at IS NULL RETURNING id";

// Search (see sqlite_store::search_users and migration 2): each tier returns user ids in
// its ranking order from an ordered index walk that LIMIT (or the caller) stops early.
// ?1 is the folded fragment; ?2 the smallest string above every string starting with it.
// Tier 1: the exact username (UNIQUE index on username_folded).
// Tiers 1 and 3 skip tombstones, which keep their folded username during the quarantine;
// tiers 2, 4 and 5 cannot meet one (its name is empty, it has no suffixes).
inline constexpr std::string_view search_exact_username =
    "SELECT id FROM users WHERE username_folded = ?1 AND deleted_at IS NULL";
// Tier 2: the exact display name, in id order (users_name_folded).
inline constexpr std::string_view search_exact_name =
    "SELECT id FROM users WHERE name_folded = ?1 ORDER BY id LIMIT ?2";
// Tier 3: usernames starting with the fragment, as a range of the UNIQUE index, in order.
inline constexpr std::string_view search_username_prefix =
    "SELECT id FROM users WHERE username_folded >= ?1 AND username_folded < ?2 AND deleted_at IS NULL "
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

// The columns read_message expects, in this order, from CHATRIX_SQLITE_MESSAGES (a message
// and the file it carries, if any).
#define CHATRIX_SQLITE_MESSAGE_COLUMNS                                                                     \
  "m.id, m.conversation_id, m.seq, m.sender_id, m.recipient_id, m.content, m.created_at, m.delivered_at, " \
  "m.read_at, m.reply_to, m.edited_at, m.deleted_at, f.id, f.name, f.type, f.size"
#define CHATRIX_SQLITE_MESSAGES "messages AS m LEFT JOIN files AS f ON f.id = m.attachment_id"

// Retry detection: the newest message with the same sender, mark, recipient and content
// created at or after ?3 (now - retry window), and whether it was withheld. The order is messages_retry's own (rowid is
// its last key column), walked backwards: "ORDER BY id" alone made SQLite sort through a
// temporary b-tree on every send.
inline constexpr std::string_view select_retry =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS ", m.withheld FROM " CHATRIX_SQLITE_MESSAGES " "
    "WHERE m.sender_id = ?1 AND m.mark = ?2 AND m.created_at >= ?3 AND m.recipient_id = ?4 AND m.content = ?5 "
    "ORDER BY m.created_at DESC, m.id DESC LIMIT 1";
// No statement on the write path has a RETURNING clause: SQLite runs RETURNING through a
// temporary b-tree opened and closed for every execution, which cost more than the rest of
// the insert. Ids come from sqlite3_last_insert_rowid instead, rows to report from a SELECT.
// Statements over many rows take up to max_rows_per_statement of them (see write_jobs.hpp).
inline constexpr std::size_t max_rows_per_statement = 32;

// The conversation of (lo, hi); a new one starts at last_seq 0, and advance_conversation
// records each batch's messages at once. Only the writer thread runs these, inside the batch
// transaction, so creation happens exactly once and sequence numbers have no gaps; a rolled
// back batch gives its numbers back. ?4 and ?5 are the messages unread by lo and by hi.
inline constexpr std::string_view select_conversation_seq =
    "SELECT id, last_seq, closed FROM conversations WHERE user_lo = ?1 AND user_hi = ?2";
inline constexpr std::string_view insert_conversation =
    "INSERT INTO conversations (user_lo, user_hi, last_seq, updated_at) VALUES (?1, ?2, 0, ?3)";
inline constexpr std::string_view advance_conversation =
    "UPDATE conversations SET last_seq = ?2, updated_at = max(updated_at, ?3), "
    "unread_lo = unread_lo + ?4, unread_hi = unread_hi + ?5 WHERE id = ?1";
// append_message's checks of a reply and an attachment: the pair of the conversation the
// replied-to message belongs to; the owner of a complete file.
inline constexpr std::string_view select_message_pair =
    "SELECT c.user_lo, c.user_hi FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id "
    "WHERE m.id = ?1";
inline constexpr std::string_view select_complete_file_owner =
    "SELECT owner_id FROM files WHERE id = ?1 AND complete = 1";
// The writer runs without foreign key enforcement (three index lookups per message); the
// one place a bad user id could enter, a new conversation, checks both users with this.
// A deleted account counts as no user.
inline constexpr std::string_view count_users_by_ids =
    "SELECT (SELECT COUNT(*) FROM users WHERE id = ?1 AND deleted_at IS NULL) + "
    "(SELECT COUNT(*) FROM users WHERE id = ?2 AND ?2 <> ?1 AND deleted_at IS NULL)";
// The blocks between sender ?1 and recipient ?2: 1 when the sender blocked the recipient, 2
// when the recipient blocked the sender. Two lookups of the primary key.
inline constexpr std::string_view select_blocks_between =
    "SELECT 1 FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2 "
    "UNION ALL SELECT 2 FROM blocks WHERE blocker_id = ?2 AND blocked_id = ?1";

namespace detail {

/// `head` followed by `rows` groups of `columns` numbered parameters, ?first_param on:
/// "(?1, ?2), (?3, ?4)" for 2 rows of 2 columns.
inline std::string numbered_rows(std::string_view head, std::size_t rows, std::size_t columns, std::size_t first_param) {
  std::string out(head);
  std::size_t param = first_param;
  for (std::size_t r = 0; r < rows; ++r) {
    out += r ? ", (" : "(";
    for (std::size_t k = 0; k < columns; ++k) {
      if (k) out += ", ";
      out += '?';
      out += std::to_string(param++);
    }
    out += ')';
  }
  return out;
}

/// The texts for 1 to max_rows_per_statement rows, built once and kept for the process (the
/// statement cache refers to them).
template <class Build>
std::string_view by_row_count(std::size_t rows, Build build) {
  static const auto texts = [&] {
    std::array<std::string, max_rows_per_statement + 1> all;
    for (std::size_t n = 1; n <= max_rows_per_statement; ++n) all[n] = build(n);
    return all;
  }();
  return texts.at(rows);
}

}  // namespace detail

/// Inserts `rows` messages, 10 parameters each in the column order below; their ids are
/// consecutive, ending at last_insert_rowid (AUTOINCREMENT, one writer).
inline constexpr std::size_t message_insert_columns = 10;
inline std::string_view insert_messages(std::size_t rows) {
  return detail::by_row_count(rows, [](std::size_t n) {
    return detail::numbered_rows(
        "INSERT INTO messages (conversation_id, seq, sender_id, recipient_id, content, mark, created_at, reply_to, "
        "attachment_id, withheld) VALUES ",
        n, message_insert_columns, 1);
  });
}

/// The messages among ?1..?rows not yet delivered (a withheld one never is): id, sender_id,
/// recipient_id, conversation_id. One lookup per id, joined by UNION ALL: an IN list of
/// parameters would first be copied into a temporary b-tree.
inline std::string_view select_undelivered(std::size_t rows) {
  return detail::by_row_count(rows, [](std::size_t n) {
    std::string out;
    for (std::size_t i = 1; i <= n; ++i) {
      if (i > 1) out += " UNION ALL ";
      out += "SELECT id, sender_id, recipient_id, conversation_id FROM messages WHERE id = ?" + std::to_string(i) +
             " AND delivered_at IS NULL AND withheld = 0";
    }
    return out;
  });
}

/// Sets delivered_at = ?1 on the messages ?2..?(rows + 1). The IN list costs one temporary
/// b-tree per statement, far less than a statement per id.
inline std::string_view set_delivered(std::size_t rows) {
  return detail::by_row_count(rows, [](std::size_t n) {
    return detail::numbered_rows("UPDATE messages SET delivered_at = ?1 WHERE id IN ", 1, n, 2);
  });
}

// mark_read: who may read it, whether it was read before, whether reading it is also its
// first receipt, and whether it is withheld (then, to its recipient, no message at all).
inline constexpr std::string_view select_read_state =
    "SELECT sender_id, recipient_id, conversation_id, read_at IS NOT NULL, delivered_at IS NULL, withheld "
    "FROM messages WHERE id = ?1";
inline constexpr std::string_view set_read =
    "UPDATE messages SET read_at = ?2, delivered_at = COALESCE(delivered_at, ?2) WHERE id = ?1";
// ?3 messages of conversation ?1 to user ?2 were read.
inline constexpr std::string_view subtract_unread =
    "UPDATE conversations SET "
    "unread_lo = unread_lo - (CASE WHEN ?2 = user_lo THEN ?3 ELSE 0 END), "
    "unread_hi = unread_hi - (CASE WHEN ?2 = user_lo THEN 0 ELSE ?3 END) WHERE id = ?1";

inline constexpr std::string_view select_pending =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS " FROM " CHATRIX_SQLITE_MESSAGES " "
    "WHERE m.recipient_id = ?1 AND m.delivered_at IS NULL AND m.withheld = 0 AND m.id > ?2 ORDER BY m.id LIMIT ?3";
inline constexpr std::string_view select_message_by_id =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS " FROM " CHATRIX_SQLITE_MESSAGES " WHERE m.id = ?1";

inline constexpr std::string_view select_conversation_by_pair =
    "SELECT id FROM conversations WHERE user_lo = ?1 AND user_hi = ?2";
inline constexpr std::string_view select_message_position = "SELECT conversation_id, seq FROM messages WHERE id = ?1";
// History pages walk UNIQUE (conversation_id, seq) backwards, for viewer ?4: messages withheld
// from the viewer are skipped (their sender sees them). Within one conversation
// ids and seqs grow together, so "id < before" is "seq < the seq of before" when `before`
// is a message of this conversation (the normal case: the oldest message a client has).
inline constexpr std::string_view select_history_before_seq =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS " FROM " CHATRIX_SQLITE_MESSAGES " "
    "WHERE m.conversation_id = ?1 AND m.seq < ?2 AND (m.withheld = 0 OR m.recipient_id <> ?4) "
    "ORDER BY m.seq DESC LIMIT ?3";
// Fallback for a `before` that is not a message of this conversation: same order, with
// the id filtered while walking the index (slower, only for odd clients).
inline constexpr std::string_view select_history_before_id =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS " FROM " CHATRIX_SQLITE_MESSAGES " "
    "WHERE m.conversation_id = ?1 AND m.id < ?2 AND (m.withheld = 0 OR m.recipient_id <> ?4) "
    "ORDER BY m.seq DESC LIMIT ?3";

// The viewer's most recent conversations (limit applied before the per-row work), then the
// peer and the last message (through UNIQUE (conversation_id, seq)) for those only. The
// viewer's conversations are sorted in full: that set is per user and small. The last
// message is the newest one the viewer may see: normally the conversation's last (one step
// of the index), else the walk back skips what is withheld from the viewer; a conversation
// with nothing but withheld messages (started by someone the viewer blocked) is left out.
#define CHATRIX_SQLITE_PEER_COLUMNS "p.id, p.username, p.name, p.show_presence, p.last_seen, p.deleted_at"
#define CHATRIX_SQLITE_VISIBLE_LAST_SEQ                                                                   \
  "(SELECT v.seq FROM messages AS v WHERE v.conversation_id = c.id AND v.seq <= c.last_seq "              \
  "AND (v.withheld = 0 OR v.recipient_id <> ?1) ORDER BY v.seq DESC LIMIT 1)"
inline constexpr std::string_view select_previews =
    "WITH recent AS ("
    "  SELECT id, peer, updated_at, last_seq, unread FROM ("
    "    SELECT id, user_hi AS peer, updated_at, last_seq, unread_lo AS unread FROM conversations"
    "      WHERE user_lo = ?1"
    "    UNION ALL"
    "    SELECT id, user_lo AS peer, updated_at, last_seq, unread_hi AS unread FROM conversations"
    "      WHERE user_hi = ?1 AND user_lo <> ?1"
    "  ) ORDER BY updated_at DESC, id DESC LIMIT ?2"
    ") "
    "SELECT c.id, c.updated_at, " CHATRIX_SQLITE_PEER_COLUMNS ", c.unread, " CHATRIX_SQLITE_MESSAGE_COLUMNS " "
    "FROM recent AS c JOIN users AS p ON p.id = c.peer "
    "JOIN messages AS m ON m.conversation_id = c.id AND m.seq = " CHATRIX_SQLITE_VISIBLE_LAST_SEQ " "
    "LEFT JOIN files AS f ON f.id = m.attachment_id "
    "ORDER BY c.updated_at DESC, c.id DESC";

// The next page of them: the viewer's conversations after (?3 updated_at, ?4 id) in the same
// most-recent-first order.
inline constexpr std::string_view select_previews_before =
    "WITH recent AS ("
    "  SELECT id, peer, updated_at, last_seq, unread FROM ("
    "    SELECT id, user_hi AS peer, updated_at, last_seq, unread_lo AS unread FROM conversations"
    "      WHERE user_lo = ?1 AND (updated_at, id) < (?3, ?4)"
    "    UNION ALL"
    "    SELECT id, user_lo AS peer, updated_at, last_seq, unread_hi AS unread FROM conversations"
    "      WHERE user_hi = ?1 AND user_lo <> ?1 AND (updated_at, id) < (?3, ?4)"
    "  ) ORDER BY updated_at DESC, id DESC LIMIT ?2"
    ") "
    "SELECT c.id, c.updated_at, " CHATRIX_SQLITE_PEER_COLUMNS ", c.unread, " CHATRIX_SQLITE_MESSAGE_COLUMNS " "
    "FROM recent AS c JOIN users AS p ON p.id = c.peer "
    "JOIN messages AS m ON m.conversation_id = c.id AND m.seq = " CHATRIX_SQLITE_VISIBLE_LAST_SEQ " "
    "LEFT JOIN files AS f ON f.id = m.attachment_id "
    "ORDER BY c.updated_at DESC, c.id DESC";

// conversation_messages with `after`: the oldest messages after seq ?2, or (fallback, for an
// `after` of another conversation) after id ?2, oldest first.
inline constexpr std::string_view select_messages_after_seq =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS " FROM " CHATRIX_SQLITE_MESSAGES " "
    "WHERE m.conversation_id = ?1 AND m.seq > ?2 AND (m.withheld = 0 OR m.recipient_id <> ?4) "
    "ORDER BY m.seq LIMIT ?3";
inline constexpr std::string_view select_messages_after_id =
    "SELECT " CHATRIX_SQLITE_MESSAGE_COLUMNS " FROM " CHATRIX_SQLITE_MESSAGES " "
    "WHERE m.conversation_id = ?1 AND m.id > ?2 AND (m.withheld = 0 OR m.recipient_id <> ?4) "
    "ORDER BY m.seq LIMIT ?3";

#undef CHATRIX_SQLITE_MESSAGE_COLUMNS
#undef CHATRIX_SQLITE_MESSAGES
#undef CHATRIX_SQLITE_PEER_COLUMNS
#undef CHATRIX_SQLITE_VISIBLE_LAST_SEQ

inline constexpr std::string_view select_conversation_members =
    "SELECT user_lo, user_hi FROM conversations WHERE id = ?1";

// ---- edits and deletes (see message_changes.hpp) ----

inline constexpr std::string_view select_change_state =
    "SELECT sender_id, recipient_id, conversation_id, created_at, deleted_at IS NOT NULL, withheld FROM messages "
    "WHERE id = ?1";
inline constexpr std::string_view edit_message = "UPDATE messages SET content = ?2, edited_at = ?3 WHERE id = ?1";
// Everything a deleted message said goes: its text, its file, and the client's mark (which
// the retry index holds).
inline constexpr std::string_view delete_message =
    "UPDATE messages SET content = '', attachment_id = NULL, mark = NULL, deleted_at = ?2 WHERE id = ?1";

// ---- files (see files.hpp) ----

inline constexpr std::string_view insert_file =
    "INSERT INTO files (id, owner_id, name, type, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (id) DO NOTHING";
inline constexpr std::string_view select_incomplete_file = "SELECT 1 FROM files WHERE id = ?1 AND complete = 0";
inline constexpr std::string_view insert_file_chunk =
    "INSERT INTO file_chunks (file_id, idx, bytes) VALUES (?1, ?2, ?3) ON CONFLICT (file_id, idx) DO NOTHING";
// The chunks of an upload: how many, and whether they are 0..n-1 with the total size.
inline constexpr std::string_view select_file_chunk_totals =
    "SELECT COUNT(*), COALESCE(MAX(idx), -1), COALESCE(SUM(length(bytes)), 0) FROM file_chunks WHERE file_id = ?1";
inline constexpr std::string_view finish_file =
    "UPDATE files SET size = ?2, chunks = ?3, complete = 1 WHERE id = ?1 AND complete = 0";
// A complete file ?1 that ?2 may read: the uploader, or a party to a message carrying it
// (not the recipient of a withheld one).
inline constexpr std::string_view select_file_for =
    "SELECT id, name, type, size, owner_id, created_at, complete, chunks FROM files "
    "WHERE id = ?1 AND complete = 1 AND (owner_id = ?2 OR EXISTS ("
    "  SELECT 1 FROM messages WHERE attachment_id = ?1 AND (sender_id = ?2 OR (recipient_id = ?2 AND withheld = 0))))";
inline constexpr std::string_view select_file_chunk =
    "SELECT c.bytes FROM file_chunks AS c JOIN files AS f ON f.id = c.file_id "
    "WHERE c.file_id = ?1 AND c.idx = ?2 AND f.complete = 1";
// Uploads abandoned before ?1 (unix ms), a few at a time, except the file ?2 being written.
inline constexpr std::string_view select_abandoned_files =
    "SELECT id FROM files WHERE complete = 0 AND created_at < ?1 AND id <> ?2 ORDER BY created_at LIMIT ?3";
inline constexpr std::string_view delete_file_chunks = "DELETE FROM file_chunks WHERE file_id = ?1";
inline constexpr std::string_view delete_file = "DELETE FROM files WHERE id = ?1";

// ---- the event stream (see stream.hpp and migration 5) ----

inline constexpr std::string_view select_stream_state = "SELECT pos, pruned_through FROM streams WHERE user_id = ?1";
inline constexpr std::string_view select_stream_pos = "SELECT pos FROM streams WHERE user_id = ?1";
inline constexpr std::string_view select_stream_events =
    "SELECT pos, kind, conversation_id, ids, at FROM stream_events WHERE user_id = ?1 AND pos > ?2 "
    "ORDER BY pos LIMIT ?3";
// Retention (see stream_writer): the oldest ?2 events of user ?1, then those up to pos ?2 go.
inline constexpr std::string_view select_oldest_events =
    "SELECT pos, at FROM stream_events WHERE user_id = ?1 ORDER BY pos LIMIT ?2";
inline constexpr std::string_view delete_events_through = "DELETE FROM stream_events WHERE user_id = ?1 AND pos <= ?2";
// A user with a stream, drawn at random (the first at or after a random id), so that over many
// writes every stream is looked at, also those of people who no longer write or are written to.
// random() % n before abs(): abs() of the smallest 64-bit integer overflows.
inline constexpr std::string_view select_random_stream_owner =
    "SELECT user_id FROM streams WHERE user_id >= (SELECT abs(random() % (MAX(user_id) + 1)) FROM streams) "
    "ORDER BY user_id LIMIT 1";
inline constexpr std::string_view raise_pruned_through =
    "UPDATE streams SET pruned_through = max(pruned_through, ?2) WHERE user_id = ?1";

/// Saves the counters of `rows` streams: (user_id, pos) pairs.
inline std::string_view save_stream_positions(std::size_t rows) {
  return detail::by_row_count(rows, [](std::size_t n) {
    return detail::numbered_rows("INSERT INTO streams (user_id, pos) VALUES ", n, 2, 1) +
           " ON CONFLICT (user_id) DO UPDATE SET pos = excluded.pos";
  });
}

/// Inserts `rows` events, 6 parameters each in the column order below.
inline std::string_view insert_stream_events(std::size_t rows) {
  return detail::by_row_count(rows, [](std::size_t n) {
    return detail::numbered_rows("INSERT INTO stream_events (user_id, pos, kind, conversation_id, ids, at) VALUES ",
                                 n, 6, 1);
  });
}

// ---- people: profiles, presence, blocks, deleted accounts, push tokens (see people.hpp) ----

inline constexpr std::string_view update_profile =
    "UPDATE users SET name = COALESCE(?2, name), show_presence = COALESCE(?3, show_presence) "
    "WHERE id = ?1 AND deleted_at IS NULL";
inline constexpr std::string_view raise_last_seen =
    "UPDATE users SET last_seen = max(COALESCE(last_seen, ?2), ?2) WHERE id = ?1 AND deleted_at IS NULL";

inline constexpr std::string_view insert_block =
    "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (blocker_id, blocked_id) DO NOTHING";
inline constexpr std::string_view select_block = "SELECT 1 FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2";
inline constexpr std::string_view count_blocks_by = "SELECT COUNT(*) FROM blocks WHERE blocker_id = ?1";
inline constexpr std::string_view delete_block = "DELETE FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2";
// At most max_blocks rows per blocker: sorted in memory.
inline constexpr std::string_view select_blocked_users =
    "SELECT u.id, u.username, u.name, u.show_presence, u.last_seen, u.deleted_at, b.created_at "
    "FROM blocks AS b JOIN users AS u ON u.id = b.blocked_id WHERE b.blocker_id = ?1 "
    "ORDER BY b.created_at DESC, b.blocked_id DESC";
inline constexpr std::string_view select_blocked_ids = "SELECT blocked_id FROM blocks WHERE blocker_id = ?1";
inline constexpr std::string_view select_blocker_ids = "SELECT blocker_id FROM blocks WHERE blocked_id = ?1";
inline constexpr std::string_view any_block = "SELECT EXISTS (SELECT 1 FROM blocks)";

// delete_account (see people.cpp for the order).
inline constexpr std::string_view select_live_user = "SELECT 1 FROM users WHERE id = ?1 AND deleted_at IS NULL";
inline constexpr std::string_view select_conversations_of =
    "SELECT id, user_hi FROM conversations WHERE user_lo = ?1 "
    "UNION ALL SELECT id, user_lo FROM conversations WHERE user_hi = ?1 AND user_lo <> ?1";
// Per conversation, through UNIQUE (conversation_id, seq): no index on sender_id is needed.
inline constexpr std::string_view erase_sent_messages =
    "UPDATE messages SET content = '', attachment_id = NULL, mark = NULL, deleted_at = ?3 "
    "WHERE conversation_id = ?1 AND sender_id = ?2 AND deleted_at IS NULL";
inline constexpr std::string_view close_conversation = "UPDATE conversations SET closed = 1 WHERE id = ?1";
inline constexpr std::string_view select_files_of = "SELECT id FROM files WHERE owner_id = ?1";
inline constexpr std::string_view delete_stream_events_of = "DELETE FROM stream_events WHERE user_id = ?1";
inline constexpr std::string_view delete_stream_of = "DELETE FROM streams WHERE user_id = ?1";
inline constexpr std::string_view delete_blocks_by = "DELETE FROM blocks WHERE blocker_id = ?1";
inline constexpr std::string_view delete_blocks_of = "DELETE FROM blocks WHERE blocked_id = ?1";
inline constexpr std::string_view delete_push_devices_of = "DELETE FROM push_devices WHERE user_id = ?1";
inline constexpr std::string_view make_tombstone =
    "UPDATE users SET username = '', name = '', password_hash = '', show_presence = 0, last_seen = NULL, "
    "deleted_at = ?2 WHERE id = ?1";

inline constexpr std::string_view select_push_device_owner =
    "SELECT user_id FROM push_devices WHERE platform = ?1 AND token = ?2";
inline constexpr std::string_view upsert_push_device =
    "INSERT INTO push_devices (platform, token, user_id, created_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (platform, token) DO UPDATE SET user_id = excluded.user_id, created_at = excluded.created_at";
// The user's devices beyond the newest ?2 (the oldest go).
inline constexpr std::string_view delete_oldest_push_devices =
    "DELETE FROM push_devices WHERE (platform, token) IN ("
    "  SELECT platform, token FROM push_devices WHERE user_id = ?1 "
    "  ORDER BY created_at DESC, platform DESC, token DESC LIMIT -1 OFFSET ?2)";
inline constexpr std::string_view delete_push_device =
    "DELETE FROM push_devices WHERE platform = ?2 AND token = ?3 AND user_id = ?1";
inline constexpr std::string_view select_push_devices =
    "SELECT platform, token, created_at FROM push_devices WHERE user_id = ?1 ORDER BY created_at, platform, token";
// A push is due for ?1: no device received it, it is not withheld, not deleted, and its
// recipient's account is not deleted (the conversation is not closed).
inline constexpr std::string_view select_push_due =
    "SELECT 1 FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id "
    "WHERE m.id = ?1 AND m.delivered_at IS NULL AND m.withheld = 0 AND m.deleted_at IS NULL AND c.closed = 0";

// ---- tokens (see tokens.hpp and migration 4) ----
// Token writes are a few per login, not per message: RETURNING's temporary b-tree is fine here.

// Up to ?3 records expired at ?1 (unix ms), oldest first, except the jti ?2 being written.
inline constexpr std::string_view prune_expired_tokens =
    "DELETE FROM tokens WHERE jti IN "
    "(SELECT jti FROM tokens WHERE expires_at <= ?1 AND jti <> ?2 ORDER BY expires_at LIMIT ?3)";
// A row back: the jti was new.
inline constexpr std::string_view insert_token =
    "INSERT INTO tokens (jti, user_id, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (jti) DO NOTHING RETURNING 1";
// A row back: inserted revoked, or revoked now; none when it was revoked already.
inline constexpr std::string_view revoke_token =
    "INSERT INTO tokens (jti, user_id, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (jti) DO UPDATE SET revoked_at = excluded.revoked_at WHERE revoked_at IS NULL RETURNING 1";
// User ?1's tokens valid at ?2 (unix ms) but the jti ?3: revoked at ?2, and returned.
inline constexpr std::string_view revoke_user_tokens =
    "UPDATE tokens SET revoked_at = ?2 "
    "WHERE user_id = ?1 AND expires_at > ?2 AND revoked_at IS NULL AND jti <> ?3 "
    "RETURNING jti, user_id, expires_at";
inline constexpr std::string_view raise_token_cutoff =
    "INSERT INTO token_cutoffs (user_id, cutoff_s) VALUES (?1, ?2) "
    "ON CONFLICT (user_id) DO UPDATE SET cutoff_s = max(cutoff_s, excluded.cutoff_s)";
inline constexpr std::string_view select_revoked_tokens =
    "SELECT jti, user_id, expires_at FROM tokens WHERE revoked_at IS NOT NULL AND expires_at > ?1";
inline constexpr std::string_view select_token_cutoffs = "SELECT user_id, cutoff_s FROM token_cutoffs";

}  // namespace chatrix::storage::sqlite_detail::sql
