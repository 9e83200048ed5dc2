// Every SQL statement the PostgreSQL store runs, as named constants. Values are always
// bound as parameters ($1, $2, ...), never spliced into the text; each statement is
// prepared once per connection (PQsendPrepare) under its name.
#pragma once

namespace chatrix::storage::postgres_detail::sql {

struct statement {
  const char* name;
  const char* text;
};

// ---- session setup (unnamed statements, run once per connection) ----

inline constexpr const char* show_synchronous_commit = "SELECT current_setting('synchronous_commit')";
inline constexpr const char* synchronous_commit_on = "SELECT set_config('synchronous_commit', 'on', false)";
inline constexpr const char* set_statement_timeout = "SELECT set_config('statement_timeout', $1, false)";

// ---- migrations (unnamed statements, run once at start) ----

inline constexpr const char* advisory_lock = "SELECT pg_advisory_lock($1::bigint)";
inline constexpr const char* advisory_unlock = "SELECT pg_advisory_unlock($1::bigint)";
inline constexpr const char* begin_tx = "BEGIN";
inline constexpr const char* commit_tx = "COMMIT";
inline constexpr const char* rollback_tx = "ROLLBACK";
inline constexpr const char* select_schema_version = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
inline constexpr const char* insert_schema_version =
    "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)";

// ---- the writer: one transaction per batch ----

inline constexpr statement begin{"begin", "BEGIN"};
inline constexpr statement commit{"commit", "COMMIT"};
inline constexpr statement rollback{"rollback", "ROLLBACK"};

// DO NOTHING + RETURNING: no row back means the folded username exists, without raising
// an error (which in pipeline mode would abort the rest of the batch).
inline constexpr statement insert_user{
    "insert_user",
    "INSERT INTO users (username, username_folded, name, password_hash, created_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username_folded) DO NOTHING RETURNING id"};

// See chatrix_read_messages in migrations.hpp. Columns: status, id, sender, recipient,
// delivered (this read was also the first receipt).
inline constexpr statement mark_read{"read_messages",
                                     "SELECT r_status, r_id, r_sender, r_recipient, r_delivered "
                                     "FROM chatrix_read_messages($1, $2::bigint[], $3)"};

// Consecutive appends of a batch as one call (see chatrix_append_batch in migrations.hpp):
// arrays of senders, recipients, contents, marks and times, then the retry window. One row
// per message, r_ord = its 1-based position, then status, duplicate, id, conversation, seq,
// created_at, delivered_at, read_at.
inline constexpr statement append_batch{
    "append_batch",
    "SELECT r_ord, r_status, r_duplicate, r_id, r_conversation, r_seq, r_created_at, r_delivered_at, r_read_at "
    "FROM chatrix_append_batch($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6)"};

// Consecutive mark_delivered calls of a batch as one call (see
// chatrix_mark_delivered_batch in migrations.hpp): call index, recipient, id and time per
// receipt. Rows: call index, id, sender, recipient.
inline constexpr statement mark_delivered_batch{
    "mark_delivered_batch",
    "SELECT r_job, r_id, r_sender, r_recipient "
    "FROM chatrix_mark_delivered_batch($1::int[], $2::bigint[], $3::bigint[], $4::bigint[])"};

inline constexpr statement set_password_hash{"set_password_hash",
                                             "UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id"};

// ---- tokens (migration 6) ----

// Forgets up to $5 records expired at $4 (unix ms), oldest first, except the jti $1 being
// written. SKIP LOCKED: rows another writer (of this node or another) is pruning are left
// to it instead of waited for.
#define CHATRIX_PG_PRUNE_EXPIRED_TOKENS                                                        \
  "WITH pruned AS (DELETE FROM tokens WHERE jti IN (SELECT jti FROM tokens "                  \
  "  WHERE expires_at <= $4 AND jti <> $1 ORDER BY expires_at LIMIT $5 FOR UPDATE SKIP LOCKED)) "

// $1 jti, $2 user, $3 expiry, then the pruning's. A row back: the jti was new.
inline constexpr statement record_token{
    "record_token", CHATRIX_PG_PRUNE_EXPIRED_TOKENS
    "INSERT INTO tokens (jti, user_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING RETURNING 1"};
// The same, revoked at $4. A row back: inserted revoked, or revoked now; none when it was
// revoked already.
inline constexpr statement revoke_token{
    "revoke_token", CHATRIX_PG_PRUNE_EXPIRED_TOKENS
    "INSERT INTO tokens (jti, user_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (jti) DO UPDATE SET revoked_at = EXCLUDED.revoked_at WHERE tokens.revoked_at IS NULL RETURNING 1"};
#undef CHATRIX_PG_PRUNE_EXPIRED_TOKENS

// User $1's tokens valid at $3 (unix ms) but the jti $2, revoked at $3 and returned; the
// user's cutoff raised to $4 (unix s), never lowered.
inline constexpr statement revoke_user_tokens{
    "revoke_user_tokens",
    "WITH revoked AS (UPDATE tokens SET revoked_at = $3 "
    "  WHERE user_id = $1 AND expires_at > $3 AND revoked_at IS NULL AND jti <> $2 "
    "  RETURNING jti, user_id, expires_at), "
    "cutoff AS (INSERT INTO token_cutoffs (user_id, cutoff_s) VALUES ($1, $4) ON CONFLICT (user_id) "
    "  DO UPDATE SET cutoff_s = GREATEST(token_cutoffs.cutoff_s, EXCLUDED.cutoff_s)) "
    "SELECT jti, user_id, expires_at FROM revoked"};

inline constexpr statement write_statements[] = {begin,        commit,       rollback,           insert_user,
                                                 append_batch, mark_delivered_batch, mark_read, set_password_hash,
                                                 record_token, revoke_token, revoke_user_tokens};

// ---- readers ----

// The columns read_message expects, in this order.
#define CHATRIX_PG_MESSAGE_COLUMNS \
  "m.id, m.conversation_id, m.seq, m.sender_id, m.recipient_id, m.content, m.created_at, m.delivered_at, m.read_at"

inline constexpr statement select_credentials{
    "select_credentials", "SELECT id, username, name, password_hash FROM users WHERE username_folded = $1"};
inline constexpr statement ping{"ping", "SELECT 1"};
inline constexpr statement select_user{"select_user", "SELECT id, username, name FROM users WHERE id = $1"};

// Search, ranked in one round trip, each tier an index walk stopped early: see
// chatrix_search in migrations.hpp. $1 is the folded fragment, $2 the limit.
inline constexpr statement search_users{"search", "SELECT r_id, r_username, r_name FROM chatrix_search($1, $2)"};

// Walks pending_messages' primary key, (recipient, id) order, then fetches each message.
inline constexpr statement select_pending{
    "select_pending",
    "SELECT " CHATRIX_PG_MESSAGE_COLUMNS " FROM pending_messages AS p JOIN messages AS m ON m.id = p.message_id "
    "WHERE p.recipient_id = $1 AND p.message_id > $2 ORDER BY p.message_id LIMIT $3"};

// History walks UNIQUE (conversation_id, seq) backwards from a seq bound, which every
// subquery below computes once (none refers to the outer row, so each is an InitPlan and
// the bound is an index condition):
//   - no `before` ($3 NULL): no bound;
//   - `before` is a message of this conversation: its seq;
//   - otherwise (an odd client): within a conversation ids grow with seq, so "id < before"
//     is "seq <= the seq of the newest message with a smaller id".
// $1, $2: the pair as (lo, hi).
inline constexpr statement select_history{
    "select_history",
    "SELECT " CHATRIX_PG_MESSAGE_COLUMNS " FROM messages AS m "
    "WHERE m.conversation_id = (SELECT c.id FROM conversations AS c WHERE c.user_lo = $1 AND c.user_hi = $2) "
    "  AND m.seq < COALESCE("
    "    CASE WHEN $3::bigint IS NULL THEN 9223372036854775807 END,"
    "    (SELECT b.seq FROM messages AS b WHERE b.id = $3 AND b.conversation_id ="
    "       (SELECT c.id FROM conversations AS c WHERE c.user_lo = $1 AND c.user_hi = $2)),"
    "    (SELECT b.seq + 1 FROM messages AS b WHERE b.conversation_id ="
    "       (SELECT c.id FROM conversations AS c WHERE c.user_lo = $1 AND c.user_hi = $2)"
    "       AND b.id < $3 ORDER BY b.seq DESC LIMIT 1)) "
    "ORDER BY m.seq DESC LIMIT $4"};

// The viewer's most recent conversations (limit applied before the per-row work), then
// the peer, the unread count (messages_unread) and the last message (by (conversation_id,
// last_seq), through messages_conversation_seq) for those only. The viewer's conversations
// are sorted in full: that set is per user and small. $1 is the viewer, $2 the limit.
#define CHATRIX_PG_RECENT_CONVERSATIONS                                          \
  "recent AS ("                                                                 \
  "  SELECT id, peer, updated_at, last_seq FROM ("                              \
  "    SELECT id, user_hi AS peer, updated_at, last_seq FROM conversations WHERE user_lo = $1" \
  "    UNION ALL"                                                               \
  "    SELECT id, user_lo AS peer, updated_at, last_seq FROM conversations"     \
  "     WHERE user_hi = $1 AND user_lo <> $1"                                   \
  "  ) AS mine ORDER BY updated_at DESC, id DESC LIMIT $2"                      \
  ") "
// The columns read_preview expects, and where they come from.
#define CHATRIX_PG_PREVIEW_COLUMNS                                                   \
  "c.id, c.updated_at, p.id, p.username, p.name, "                                  \
  "  (SELECT count(*) FROM messages AS x WHERE x.recipient_id = $1 AND x.conversation_id = c.id" \
  "     AND x.read_at IS NULL), "                                                   \
  "  " CHATRIX_PG_MESSAGE_COLUMNS " "
#define CHATRIX_PG_PREVIEW_SOURCES                  \
  "FROM recent AS c JOIN users AS p ON p.id = c.peer " \
  "LEFT JOIN messages AS m ON m.conversation_id = c.id AND m.seq = c.last_seq "

inline constexpr statement select_previews{
    "select_previews",
    "WITH " CHATRIX_PG_RECENT_CONVERSATIONS "SELECT " CHATRIX_PG_PREVIEW_COLUMNS CHATRIX_PG_PREVIEW_SOURCES
    "ORDER BY c.updated_at DESC, c.id DESC"};

// What a connecting device gets (store::session_start), in one statement, so one round trip
// and one snapshot: select_previews ($1 viewer, $2 its limit) as rows of part 0, then
// select_pending with after = 0 ($3 its limit) as rows of part 1. Columns: part, the row's
// order within its part, the preview's columns (NULL in part 1), the message's columns
// (part 1: the pending message). The final sort is over at most both limits' rows.
inline constexpr statement session_start{
    "session_start",
    "WITH " CHATRIX_PG_RECENT_CONVERSATIONS
    "(SELECT 0 AS part, row_number() OVER (ORDER BY c.updated_at DESC, c.id DESC) AS ord, "
    CHATRIX_PG_PREVIEW_COLUMNS CHATRIX_PG_PREVIEW_SOURCES ") "
    "UNION ALL "
    "(SELECT 1, p.message_id, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::bigint, "
    CHATRIX_PG_MESSAGE_COLUMNS " FROM pending_messages AS p JOIN messages AS m ON m.id = p.message_id "
    "WHERE p.recipient_id = $1 AND p.message_id > 0 ORDER BY p.message_id LIMIT $3) "
    "ORDER BY part, ord"};

#undef CHATRIX_PG_PREVIEW_SOURCES
#undef CHATRIX_PG_PREVIEW_COLUMNS
#undef CHATRIX_PG_RECENT_CONVERSATIONS
#undef CHATRIX_PG_MESSAGE_COLUMNS

// store::revocations in one statement, so one snapshot: the revoked tokens unexpired at $1
// (part 0: jti, user, expiry), then every cutoff (part 1: NULL, user, cutoff).
inline constexpr statement select_revocations{
    "select_revocations",
    "SELECT 0, jti, user_id, expires_at FROM tokens WHERE revoked_at IS NOT NULL AND expires_at > $1 "
    "UNION ALL SELECT 1, NULL, user_id, cutoff_s FROM token_cutoffs"};

inline constexpr statement read_statements[] = {select_credentials, select_user,     search_users,  select_pending,
                                                select_history,     select_previews, session_start, select_revocations,
                                                ping};

}  // namespace chatrix::storage::postgres_detail::sql
