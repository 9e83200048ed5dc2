// Every SQL statement the PostgreSQL store runs, as named constants. Values are always
// bound as parameters ($1, $2, ...), never spliced into the text; each statement is
// prepared once per connection (PQsendPrepare) under its name.
#pragma once

namespace chatrix::storage::postgres_detail::sql {

struct statement {
  const char* name;
  const char* text;
  /// Stages stream events (see chatrix_stream_flush): a single job of it gets its tag as the
  /// last parameter, and its transaction ends with stream_flush.
  bool adds_events = false;
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

// See chatrix_create_user (migration 8): $1 username, $2 folded, $3 name, $4 hash, $5
// created_at, $6 reclaim_deleted_before. NULL back means the folded username is taken,
// without raising an error (which in pipeline mode would abort the rest of the batch).
inline constexpr statement create_user{"create_user", "SELECT chatrix_create_user($1, $2, $3, $4, $5, $6)"};

// See chatrix_read_messages in migrations.hpp: $1 reader, $2 ids, $3 time, $4 tag. Columns:
// status, id, sender, recipient, delivered (this read was also the first receipt).
inline constexpr statement mark_read{"read_messages",
                                     "SELECT r_status, r_id, r_sender, r_recipient, r_delivered "
                                     "FROM chatrix_read_messages($1, $2::bigint[], $3, $4::int)",
                                     true};

// Consecutive appends of a batch as one call (see chatrix_append_messages in
// migration_people.hpp, chatrix_append_batch in migrations.hpp before it):
// arrays of senders, recipients, contents, marks and times, the retry window, arrays of
// replies and attachments, the tag of the first. One row per message, r_ord = its 1-based
// position, then status, duplicate, id, conversation, seq, created_at, delivered_at,
// read_at, content (a retry's, as stored now), reply_to, the file's id, name, type and size,
// edited_at, deleted_at, withheld.
inline constexpr statement append_batch{
    "append_batch",
    "SELECT r_ord, r_status, r_duplicate, r_id, r_conversation, r_seq, r_created_at, r_delivered_at, r_read_at, "
    "r_content, r_reply_to, r_file, r_file_name, r_file_type, r_file_size, r_edited_at, r_deleted_at, r_withheld "
    "FROM chatrix_append_messages($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6, "
    "$7::bigint[], $8::text[], $9::int)"};

// Consecutive mark_delivered calls of a batch as one call (see
// chatrix_mark_delivered_batch in migrations.hpp): call index, recipient, id and time per
// receipt, then the tag of the first call. Rows: call index, id, sender, recipient.
inline constexpr statement mark_delivered_batch{
    "mark_delivered_batch",
    "SELECT r_job, r_id, r_sender, r_recipient "
    "FROM chatrix_mark_delivered_batch($1::int[], $2::bigint[], $3::bigint[], $4::bigint[], $5::int)"};

// See chatrix_edit_message: $1 editor, $2 id, $3 content, $4 now, $5 window, $6 tag. Columns:
// status, then the message in the order of CHATRIX_PG_MESSAGE_COLUMNS.
inline constexpr statement edit_message{
    "edit_message", "SELECT * FROM chatrix_edit_message($1, $2, $3, $4, $5, $6::int)", true};

// See chatrix_delete_messages: $1 requester, $2 ids, $3 now, $4 tag. Columns: status,
// conversation, ids deleted now.
inline constexpr statement delete_messages{
    "delete_messages", "SELECT r_status, r_conversation, r_ids FROM chatrix_delete_messages($1, $2::bigint[], $3, $4::int)",
    true};

// The last statement of every transaction that staged events: positions for them, in the
// order staged ($1: retention in ms, 0 = keep). Rows: tag, owner, pos, kind, conversation,
// ids, at.
inline constexpr statement stream_flush{
    "stream_flush", "SELECT r_tag, r_owner, r_pos, r_kind, r_conversation, r_ids, r_at FROM chatrix_stream_flush($1)"};

// ---- files (migration 7) ----

// $1 id, $2 owner, $3 name, $4 type, $5 created_at. Also forgets up to 16 incomplete uploads
// older than $6 (abandoned ones) with their chunks, so that they never pile up. A row back:
// created.
inline constexpr statement create_file{
    "create_file",
    "WITH stale AS (SELECT id FROM files WHERE NOT complete AND created_at < $6 ORDER BY created_at LIMIT 16 "
    "  FOR UPDATE SKIP LOCKED), "
    "chunks_gone AS (DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM stale)), "
    "file_gone AS (DELETE FROM files WHERE id IN (SELECT id FROM stale)) "
    "INSERT INTO files (id, owner_id, name, type, created_at) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (id) DO NOTHING RETURNING 1"};
// $1 id, $2 index, $3 bytes (hex). Only into an incomplete file, each chunk once. A row back:
// stored.
inline constexpr statement append_file_chunk{
    "append_file_chunk",
    "INSERT INTO file_chunks (file_id, idx, bytes) "
    "SELECT id, $2, decode($3, 'hex') FROM files WHERE id = $1 AND NOT complete "
    "ON CONFLICT (file_id, idx) DO NOTHING RETURNING 1"};
// $1 id, $2 size, $3 chunks: complete when it holds exactly chunks 0 .. $3 - 1 of $2 bytes in
// all. A row back: finished.
inline constexpr statement finish_file{
    "finish_file",
    "UPDATE files SET size = $2, chunks = $3, complete = true WHERE id = $1 AND NOT complete "
    "AND (SELECT count(*) = $3 AND COALESCE(max(idx), -1) = $3 - 1 AND COALESCE(sum(length(bytes)), 0) = $2 "
    "     FROM file_chunks WHERE file_id = $1) RETURNING 1"};

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

// ---- people (migration 8) ----

// $1 user, $2 name (NULL: unchanged), $3 show_presence (NULL: unchanged). The user as
// select_user reads it; no row: no such user, or deleted.
inline constexpr statement update_profile{
    "update_profile",
    "UPDATE users SET name = COALESCE($2, name), show_presence = COALESCE($3::boolean, show_presence) "
    "WHERE id = $1 AND deleted_at IS NULL RETURNING id, username, name, false, show_presence, last_seen"};
// $1 users, $2 times (unix ms): each user's last_seen becomes the latest of its own and the
// given ones. Rows locked in id order, so that two nodes recording overlapping users never
// wait for each other in opposite orders.
inline constexpr statement set_last_seen{
    "set_last_seen",
    "WITH seen AS (SELECT w.id, max(w.at) AS at FROM unnest($1::bigint[], $2::bigint[]) AS w(id, at) GROUP BY w.id), "
    "locked AS (SELECT u.id FROM users AS u WHERE u.id IN (SELECT id FROM seen) AND u.deleted_at IS NULL "
    "  ORDER BY u.id FOR UPDATE) "
    "UPDATE users AS u SET last_seen = GREATEST(COALESCE(u.last_seen, s.at), s.at) "
    "FROM seen AS s, locked AS l WHERE u.id = s.id AND l.id = s.id"};
// See chatrix_block_user: $1 blocker, $2 blocked, $3 at, $4 max blocks. One row: the status.
inline constexpr statement block_user{"block_user", "SELECT chatrix_block_user($1, $2, $3, $4)"};
// See chatrix_unblock_user: $1 blocker, $2 blocked. One row: whether there was a block.
inline constexpr statement unblock_user{"unblock_user", "SELECT chatrix_unblock_user($1, $2)"};
// See chatrix_delete_account: $1 user, $2 now. Columns: status, partners, messages, files.
inline constexpr statement delete_account{
    "delete_account", "SELECT r_status, r_partners, r_messages, r_files FROM chatrix_delete_account($1, $2)"};
// See chatrix_add_push_device: $1 user, $2 platform, $3 token, $4 at, $5 max devices.
inline constexpr statement add_push_device{"add_push_device",
                                           "SELECT chatrix_add_push_device($1, $2, $3, $4, $5)"};
// $1 user, $2 platform, $3 token. A row back: it was the user's.
inline constexpr statement remove_push_device{
    "remove_push_device", "DELETE FROM push_devices WHERE platform = $2 AND token = $3 AND user_id = $1 RETURNING 1"};

inline constexpr statement write_statements[] = {
    begin,          commit,          rollback,          create_user,       append_batch,       mark_delivered_batch,
    mark_read,      edit_message,    delete_messages,   stream_flush,      create_file,        append_file_chunk,
    finish_file,    set_password_hash, record_token,    revoke_token,      revoke_user_tokens, update_profile,
    set_last_seen,  block_user,      unblock_user,      delete_account,    add_push_device,    remove_push_device};

// ---- readers ----

// The columns read_message expects, in this order; every source of them joins the message's
// file as f (CHATRIX_PG_MESSAGE_FILE: LATERAL ... LIMIT 1 keeps it an index probe per
// attached message, where a plain join may be planned as a scan of every file).
#define CHATRIX_PG_MESSAGE_COLUMNS                                                                      \
  "m.id, m.conversation_id, m.seq, m.sender_id, m.recipient_id, m.content, m.created_at, m.delivered_at, " \
  "m.read_at, m.reply_to, f.id, f.name, f.type, f.size, m.edited_at, m.deleted_at"
#define CHATRIX_PG_MESSAGE_FILE                                                                 \
  " LEFT JOIN LATERAL (SELECT fx.id, fx.name, fx.type, fx.size FROM files AS fx WHERE fx.id = m.attachment_id " \
  "LIMIT 1) AS f ON true "

// The columns read_user expects: a user row as every lookup returns it (a deleted account's
// username and name are empty already).
#define CHATRIX_PG_USER_COLUMNS(u) \
  u ".id, " u ".username, " u ".name, " u ".deleted_at IS NOT NULL, " u ".show_presence, " u ".last_seen"

// A deleted account keeps its folded username until reclaimed: lookups by name skip it.
// The block relations of $1: one row per other user with a block either way (peer, mine,
// theirs), through the primary key and blocks_by_hi.
#define CHATRIX_PG_BLOCK_RELATIONS                                                                      \
  "SELECT CASE WHEN b.user_lo = $1 THEN b.user_hi ELSE b.user_lo END AS peer, "                         \
  "  CASE WHEN b.user_lo = $1 THEN b.lo_blocked_at ELSE b.hi_blocked_at END IS NOT NULL AS mine, "      \
  "  CASE WHEN b.user_lo = $1 THEN b.hi_blocked_at ELSE b.lo_blocked_at END IS NOT NULL AS theirs "     \
  "FROM blocks AS b WHERE b.user_lo = $1 OR b.user_hi = $1"

inline constexpr statement select_credentials{
    "select_credentials",
    "SELECT " CHATRIX_PG_USER_COLUMNS("u") ", u.password_hash FROM users AS u "
    "WHERE u.username_folded = $1 AND u.deleted_at IS NULL"};
inline constexpr statement ping{"ping", "SELECT 1"};
inline constexpr statement select_user{"select_user",
                                       "SELECT " CHATRIX_PG_USER_COLUMNS("u") " FROM users AS u WHERE u.id = $1"};

// Search, ranked in one round trip, each tier an index walk stopped early: see
// chatrix_search in migrations.hpp. $1 is the folded fragment, $2 the limit.
inline constexpr statement search_users{"search", "SELECT r_id, r_username, r_name FROM chatrix_search($1, $2)"};

// Walks pending_messages' primary key, (recipient, id) order, then fetches each message.
inline constexpr statement select_pending{
    "select_pending",
    "SELECT " CHATRIX_PG_MESSAGE_COLUMNS " FROM pending_messages AS p JOIN messages AS m ON m.id = p.message_id "
    CHATRIX_PG_MESSAGE_FILE "WHERE p.recipient_id = $1 AND p.message_id > $2 ORDER BY p.message_id LIMIT $3"};

// History walks UNIQUE (conversation_id, seq) backwards from a seq bound, which every
// subquery below computes once (none refers to the outer row, so each is an InitPlan and
// the bound is an index condition):
//   - no `before` ($3 NULL): no bound;
//   - `before` is a message of this conversation: its seq;
//   - otherwise (an odd client): within a conversation ids grow with seq, so "id < before"
//     is "seq <= the seq of the newest message with a smaller id".
// $1, $2: the pair as (lo, hi); $5 the viewer, from whom withheld messages are hidden.
inline constexpr statement select_history{
    "select_history",
    "SELECT " CHATRIX_PG_MESSAGE_COLUMNS " FROM messages AS m " CHATRIX_PG_MESSAGE_FILE
    "WHERE m.conversation_id = (SELECT c.id FROM conversations AS c WHERE c.user_lo = $1 AND c.user_hi = $2) "
    "  AND m.seq < COALESCE("
    "    CASE WHEN $3::bigint IS NULL THEN 9223372036854775807 END,"
    "    (SELECT b.seq FROM messages AS b WHERE b.id = $3 AND b.conversation_id ="
    "       (SELECT c.id FROM conversations AS c WHERE c.user_lo = $1 AND c.user_hi = $2)),"
    "    (SELECT b.seq + 1 FROM messages AS b WHERE b.conversation_id ="
    "       (SELECT c.id FROM conversations AS c WHERE c.user_lo = $1 AND c.user_hi = $2)"
    "       AND b.id < $3 ORDER BY b.seq DESC LIMIT 1)) "
    "  AND NOT (m.withheld AND m.recipient_id = $5) "
    "ORDER BY m.seq DESC LIMIT $4"};

// The viewer's most recent conversations (limit applied before the per-row work), then
// the peer, the unread count (messages_unread) and the last message the viewer may see (the
// walk back from (conversation_id, last_seq) through messages_conversation_seq: normally its
// first step) for those only. The viewer's conversations are sorted in full: that set is per
// user and small; those hidden from the viewer (only withheld messages) are left out.
// $1 is the viewer, $2 the limit.
#define CHATRIX_PG_RECENT_CONVERSATIONS                                          \
  "recent AS ("                                                                 \
  "  SELECT id, peer, updated_at, last_seq FROM ("                              \
  "    SELECT id, user_hi AS peer, updated_at, last_seq, hidden_from FROM conversations WHERE user_lo = $1" \
  "    UNION ALL"                                                               \
  "    SELECT id, user_lo AS peer, updated_at, last_seq, hidden_from FROM conversations" \
  "     WHERE user_hi = $1 AND user_lo <> $1"                                   \
  "  ) AS mine WHERE hidden_from IS DISTINCT FROM $1"                          \
  "  ORDER BY updated_at DESC, id DESC LIMIT $2"                                \
  ") "
// The columns read_preview expects, and where they come from.
#define CHATRIX_PG_PREVIEW_COLUMNS                                                   \
  "c.id, c.updated_at, " CHATRIX_PG_USER_COLUMNS("p") ", "                         \
  "  (SELECT count(*) FROM messages AS x WHERE x.recipient_id = $1 AND x.conversation_id = c.id" \
  "     AND x.read_at IS NULL AND NOT x.withheld), "                                \
  "  " CHATRIX_PG_MESSAGE_COLUMNS " "
#define CHATRIX_PG_PREVIEW_SOURCES                  \
  "FROM recent AS c JOIN users AS p ON p.id = c.peer " \
  "LEFT JOIN LATERAL (SELECT * FROM messages AS v WHERE v.conversation_id = c.id AND v.seq <= c.last_seq " \
  "  AND NOT (v.withheld AND v.recipient_id = $1) ORDER BY v.seq DESC LIMIT 1) AS m ON true " CHATRIX_PG_MESSAGE_FILE

inline constexpr statement select_previews{
    "select_previews",
    "WITH " CHATRIX_PG_RECENT_CONVERSATIONS "SELECT " CHATRIX_PG_PREVIEW_COLUMNS CHATRIX_PG_PREVIEW_SOURCES
    "ORDER BY c.updated_at DESC, c.id DESC"};

// The viewer's conversations after a cursor ($3 updated_at, $4 conversation) in the same
// order, for store::chat_previews_page.
inline constexpr statement select_previews_page{
    "select_previews_page",
    "WITH recent AS ("
    "  SELECT id, peer, updated_at, last_seq FROM ("
    "    SELECT id, user_hi AS peer, updated_at, last_seq, hidden_from FROM conversations WHERE user_lo = $1"
    "    UNION ALL"
    "    SELECT id, user_lo AS peer, updated_at, last_seq, hidden_from FROM conversations"
    "     WHERE user_hi = $1 AND user_lo <> $1"
    "  ) AS mine WHERE (updated_at, id) < ($3::bigint, $4::bigint) AND hidden_from IS DISTINCT FROM $1"
    "  ORDER BY updated_at DESC, id DESC LIMIT $2"
    ") "
    "SELECT " CHATRIX_PG_PREVIEW_COLUMNS CHATRIX_PG_PREVIEW_SOURCES "ORDER BY c.updated_at DESC, c.id DESC"};

// ---- what a device gets when it connects, in one statement (one round trip, one snapshot) ----
// Every row: part, its order within the part, the preview's 9 columns, the message's 16
// columns, the event's 5 columns (pos, kind, conversation, ids, at); what a part does not
// use is NULL. Parts: 0 previews, 1 pending messages, 2 the stream's head (one row: pos =
// the latest position, kind = 1 when `since` has expired), 3 events, one row per message of
// a message or edited event (the message as it is now), one row for the other kinds, 4 the
// viewer's block relations (one row per other user: pos = the user, kind = 1 when the viewer
// blocked them, conversation = 1 when they blocked the viewer).
#define CHATRIX_PG_NO_PREVIEW                                                                         \
  "NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::boolean, NULL::boolean, " \
  "NULL::bigint, NULL::bigint, "
#define CHATRIX_PG_NO_MESSAGE                                                                                \
  "NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint, NULL::bigint, " \
  "NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint"
#define CHATRIX_PG_NO_EVENT ", NULL::bigint, NULL::smallint, NULL::bigint, NULL::bigint[], NULL::bigint"
#define CHATRIX_PG_PREVIEW_PART                                                                   \
  "(SELECT 0 AS part, row_number() OVER (ORDER BY c.updated_at DESC, c.id DESC) AS ord, "         \
  CHATRIX_PG_PREVIEW_COLUMNS CHATRIX_PG_NO_EVENT " " CHATRIX_PG_PREVIEW_SOURCES ") "
// The pending messages (limit `limit`) when `when` holds.
#define CHATRIX_PG_PENDING_PART(when, limit)                                                        \
  "(SELECT 1, p.message_id, " CHATRIX_PG_NO_PREVIEW CHATRIX_PG_MESSAGE_COLUMNS CHATRIX_PG_NO_EVENT    \
  " FROM pending_messages AS p JOIN messages AS m ON m.id = p.message_id " CHATRIX_PG_MESSAGE_FILE    \
  "WHERE p.recipient_id = $1 AND p.message_id > 0 AND " when " ORDER BY p.message_id LIMIT " limit ") "
// The viewer's ($1) head; `since` expired: pruned, beyond the latest position, or negative.
#define CHATRIX_PG_HEAD(since)                                                                    \
  "head AS (SELECT COALESCE(max(h.pos), 0) AS latest, "                                          \
  "  (" since "::bigint < COALESCE(max(h.pruned_through), 0) OR " since "::bigint > COALESCE(max(h.pos), 0) " \
  "   OR " since "::bigint < 0) AS expired "                                                      \
  "  FROM stream_heads AS h WHERE h.user_id = $1) "
#define CHATRIX_PG_HEAD_PART \
  "(SELECT 2 AS part, 0::bigint AS ord, " CHATRIX_PG_NO_PREVIEW CHATRIX_PG_NO_MESSAGE \
  ", latest, expired::int::smallint, NULL, NULL, NULL FROM head) "
// The page: events after `since`, at most `limit`, unless expired (the primary key's walk).
#define CHATRIX_PG_PAGE(since, limit)                                                                  \
  "page AS (SELECT e.pos, e.kind, e.conversation_id, e.ids, e.at FROM stream_events AS e "            \
  "  WHERE e.user_id = $1 AND e.pos > " since "::bigint AND NOT (SELECT expired FROM head) "          \
  "  ORDER BY e.pos LIMIT " limit ") "
#define CHATRIX_PG_BLOCK_PART                                                                    \
  "(SELECT 4, r.peer, " CHATRIX_PG_NO_PREVIEW CHATRIX_PG_NO_MESSAGE                                \
  ", r.peer, r.mine::int::smallint, r.theirs::int::bigint, NULL::bigint[], NULL::bigint FROM (" \
  CHATRIX_PG_BLOCK_RELATIONS ") AS r) "
#define CHATRIX_PG_EVENT_PART                                                                        \
  "(SELECT 3, row_number() OVER (ORDER BY e.pos, w.n), " CHATRIX_PG_NO_PREVIEW CHATRIX_PG_MESSAGE_COLUMNS \
  ", e.pos, e.kind, e.conversation_id, e.ids, e.at FROM page AS e "                                   \
  "LEFT JOIN LATERAL unnest(CASE WHEN e.kind IN (0, 4) THEN e.ids END) WITH ORDINALITY AS w(id, n) ON true " \
  "LEFT JOIN messages AS m ON m.id = w.id " CHATRIX_PG_MESSAGE_FILE ") "

// store::session_start: $1 viewer, $2 previews limit, $3 pending limit.
inline constexpr statement session_start{
    "session_start",
    "WITH " CHATRIX_PG_RECENT_CONVERSATIONS ", " CHATRIX_PG_HEAD("0") CHATRIX_PG_PREVIEW_PART
    "UNION ALL " CHATRIX_PG_PENDING_PART("true", "$3") "UNION ALL " CHATRIX_PG_HEAD_PART
    "UNION ALL " CHATRIX_PG_BLOCK_PART "ORDER BY part, ord"};

// store::session_resume: $1 viewer, $2 previews limit, $3 since, $4 events limit, $5 pending
// limit (the pending messages only when `since` expired).
inline constexpr statement session_resume{
    "session_resume",
    "WITH " CHATRIX_PG_RECENT_CONVERSATIONS ", " CHATRIX_PG_HEAD("$3") ", " CHATRIX_PG_PAGE("$3", "$4")
    CHATRIX_PG_PREVIEW_PART "UNION ALL " CHATRIX_PG_PENDING_PART("(SELECT expired FROM head)", "$5")
    "UNION ALL " CHATRIX_PG_HEAD_PART "UNION ALL " CHATRIX_PG_EVENT_PART "UNION ALL " CHATRIX_PG_BLOCK_PART
    "ORDER BY part, ord"};

// store::stream_events: $1 viewer, $2 since, $3 limit; parts 2 and 3 only.
inline constexpr statement select_stream{
    "select_stream",
    "WITH " CHATRIX_PG_HEAD("$2") ", " CHATRIX_PG_PAGE("$2", "$3") CHATRIX_PG_HEAD_PART
    "UNION ALL " CHATRIX_PG_EVENT_PART "ORDER BY part, ord"};

#undef CHATRIX_PG_EVENT_PART
#undef CHATRIX_PG_BLOCK_PART
#undef CHATRIX_PG_PAGE
#undef CHATRIX_PG_HEAD_PART
#undef CHATRIX_PG_HEAD
#undef CHATRIX_PG_PENDING_PART
#undef CHATRIX_PG_PREVIEW_PART
#undef CHATRIX_PG_NO_EVENT
#undef CHATRIX_PG_NO_MESSAGE
#undef CHATRIX_PG_NO_PREVIEW

// store::conversation_messages: $1 viewer, $2 conversation, then the bound and $4 the limit.
// The first row is the conversation itself when the viewer takes part (id only; the message
// columns NULL otherwise), so that "no messages" and "not yours" differ. The bound becomes a
// seq bound as in select_history (within a conversation ids grow with seq): the message's
// own seq when it is one of the conversation's, else the nearest one's.
#define CHATRIX_PG_CONVERSATION                                                                   \
  "WITH conv AS (SELECT c.id FROM conversations AS c WHERE c.id = $2 AND (c.user_lo = $1 OR c.user_hi = $1)) " \
  "(SELECT 0 AS part, c.id AS ord, c.id, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, " \
  " NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::bigint, " \
  " NULL::bigint, NULL::bigint FROM conv AS c) UNION ALL "
// $3 after: the oldest with id > after, oldest first.
inline constexpr statement select_conversation_after{
    "select_conversation_after",
    CHATRIX_PG_CONVERSATION
    "(SELECT 1, m.seq, " CHATRIX_PG_MESSAGE_COLUMNS " FROM messages AS m " CHATRIX_PG_MESSAGE_FILE
    "WHERE m.conversation_id = (SELECT id FROM conv) AND NOT (m.withheld AND m.recipient_id = $1) AND m.seq > COALESCE("
    "    (SELECT b.seq FROM messages AS b WHERE b.id = $3 AND b.conversation_id = (SELECT id FROM conv)),"
    "    (SELECT b.seq FROM messages AS b WHERE b.conversation_id = (SELECT id FROM conv) AND b.id <= $3"
    "      ORDER BY b.seq DESC LIMIT 1), 0) "
    "ORDER BY m.seq LIMIT $4) ORDER BY part, ord"};
// $3 before (NULL: none): the newest with id < before, newest first.
inline constexpr statement select_conversation_before{
    "select_conversation_before",
    CHATRIX_PG_CONVERSATION
    "(SELECT 1, -m.seq, " CHATRIX_PG_MESSAGE_COLUMNS " FROM messages AS m " CHATRIX_PG_MESSAGE_FILE
    "WHERE m.conversation_id = (SELECT id FROM conv) AND NOT (m.withheld AND m.recipient_id = $1) AND m.seq < COALESCE("
    "    CASE WHEN $3::bigint IS NULL THEN 9223372036854775807 END,"
    "    (SELECT b.seq FROM messages AS b WHERE b.id = $3 AND b.conversation_id = (SELECT id FROM conv)),"
    "    (SELECT b.seq + 1 FROM messages AS b WHERE b.conversation_id = (SELECT id FROM conv) AND b.id < $3"
    "      ORDER BY b.seq DESC LIMIT 1)) "
    "ORDER BY m.seq DESC LIMIT $4) ORDER BY part, ord"};
#undef CHATRIX_PG_CONVERSATION

// ---- files ----

// A complete file $2 that $1 may download: the uploader, or a member of a conversation where
// a message carries it (messages_attachment), unless it was withheld from them. Columns: id, name, type, size, owner,
// created_at, chunks.
inline constexpr statement select_file_for{
    "select_file_for",
    "SELECT f.id, f.name, f.type, f.size, f.owner_id, f.created_at, f.chunks FROM files AS f "
    "WHERE f.id = $2 AND f.complete AND (f.owner_id = $1 OR EXISTS (SELECT 1 FROM messages AS m "
    "  WHERE m.attachment_id = $2 AND (m.sender_id = $1 OR (m.recipient_id = $1 AND NOT m.withheld))))"};
// Chunk $2 of the complete file $1, hex-encoded (whatever bytea_output says).
inline constexpr statement select_file_chunk{
    "select_file_chunk",
    "SELECT encode(c.bytes, 'hex') FROM file_chunks AS c JOIN files AS f ON f.id = c.file_id AND f.complete "
    "WHERE c.file_id = $1 AND c.idx = $2"};

#undef CHATRIX_PG_PREVIEW_SOURCES
#undef CHATRIX_PG_PREVIEW_COLUMNS
#undef CHATRIX_PG_RECENT_CONVERSATIONS
#undef CHATRIX_PG_MESSAGE_FILE
#undef CHATRIX_PG_MESSAGE_COLUMNS

// store::revocations in one statement, so one snapshot: the revoked tokens unexpired at $1
// (part 0: jti, user, expiry), then every cutoff (part 1: NULL, user, cutoff).
inline constexpr statement select_revocations{
    "select_revocations",
    "SELECT 0, jti, user_id, expires_at FROM tokens WHERE revoked_at IS NOT NULL AND expires_at > $1 "
    "UNION ALL SELECT 1, NULL, user_id, cutoff_s FROM token_cutoffs"};

// ---- people (migration 8) ----

// store::blocked_users: most recently blocked first. Columns: the user, blocked_at.
inline constexpr statement select_blocked_users{
    "select_blocked_users",
    "SELECT " CHATRIX_PG_USER_COLUMNS("u") ", x.at FROM ("
    "  SELECT b.user_hi AS peer, b.lo_blocked_at AS at FROM blocks AS b"
    "   WHERE b.user_lo = $1 AND b.lo_blocked_at IS NOT NULL"
    "  UNION ALL"
    "  SELECT b.user_lo, b.hi_blocked_at FROM blocks AS b WHERE b.user_hi = $1 AND b.hi_blocked_at IS NOT NULL"
    ") AS x JOIN users AS u ON u.id = x.peer ORDER BY x.at DESC, u.id DESC"};
// store::block_relations_of. Columns: the other user, whether $1 blocked them (0/1), whether
// they blocked $1.
inline constexpr statement select_block_relations{
    "select_block_relations", "SELECT r.peer, r.mine::int, r.theirs::int FROM (" CHATRIX_PG_BLOCK_RELATIONS ") AS r"};
// store::conversation_between: $1, $2 the pair as (lo, hi).
inline constexpr statement select_conversation_between{
    "select_conversation_between", "SELECT id FROM conversations WHERE user_lo = $1 AND user_hi = $2"};
// store::push_devices: oldest first.
inline constexpr statement select_push_devices{
    "select_push_devices",
    "SELECT platform, token, created_at FROM push_devices WHERE user_id = $1 ORDER BY created_at, seq"};
// store::undelivered: of the ids $1, those a push is due for, in the order given.
inline constexpr statement select_undelivered{
    "select_undelivered",
    "SELECT w.id FROM unnest($1::bigint[]) WITH ORDINALITY AS w(id, ord) "
    "JOIN LATERAL (SELECT m.recipient_id FROM messages AS m WHERE m.id = w.id AND m.delivered_at IS NULL "
    "  AND NOT m.withheld AND m.deleted_at IS NULL LIMIT 1) AS m ON true "
    "WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = m.recipient_id AND u.deleted_at IS NOT NULL) "
    "ORDER BY w.ord"};

#undef CHATRIX_PG_USER_COLUMNS
#undef CHATRIX_PG_BLOCK_RELATIONS

inline constexpr statement read_statements[] = {
    select_credentials, select_user,          search_users,   select_pending,    select_history,
    select_previews,    select_previews_page, session_start,  session_resume,    select_stream,
    select_conversation_after, select_conversation_before, select_file_for, select_file_chunk,
    select_revocations, ping,                 select_blocked_users, select_block_relations,
    select_conversation_between, select_push_devices, select_undelivered};

}  // namespace chatrix::storage::postgres_detail::sql
