// Schema migrations of the SQLite store, as a numbered list of constant SQL scripts.
// Each one is applied once, in its own transaction, and recorded in schema_version.
// Never edit a released migration: append a new one.
#pragma once

#include <string_view>

namespace chatrix::storage::sqlite_detail {

struct migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

/// Created outside the numbered list: it records which migrations ran.
inline constexpr std::string_view create_schema_version_table = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (
  version    INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL  -- unix ms
);
)sql";

inline constexpr std::string_view migration_1_initial_schema = R"sql(
-- username_folded is the ASCII lower-case form: uniqueness and lookups ignore case,
-- `username` keeps the spelling the user chose.
CREATE TABLE users (
  id              INTEGER PRIMARY KEY,
  username        TEXT    NOT NULL,
  username_folded TEXT    NOT NULL UNIQUE,
  name            TEXT    NOT NULL,
  password_hash   TEXT    NOT NULL,
  created_at      INTEGER NOT NULL
);

-- Substring search over username and display name. The trigram tokenizer indexes every
-- 3-character window, so a quoted phrase of 3+ characters matches any substring through
-- the index (no table scan) and case_sensitive 0 folds case. External content: the text
-- lives only in `users`; the triggers below keep the index in step.
CREATE VIRTUAL TABLE users_fts USING fts5(
  username, name,
  content = 'users', content_rowid = 'id',
  tokenize = 'trigram case_sensitive 0'
);
CREATE TRIGGER users_fts_after_insert AFTER INSERT ON users BEGIN
  INSERT INTO users_fts (rowid, username, name) VALUES (new.id, new.username, new.name);
END;
CREATE TRIGGER users_fts_after_delete AFTER DELETE ON users BEGIN
  INSERT INTO users_fts (users_fts, rowid, username, name) VALUES ('delete', old.id, old.username, old.name);
END;
CREATE TRIGGER users_fts_after_update AFTER UPDATE OF username, name ON users BEGIN
  INSERT INTO users_fts (users_fts, rowid, username, name) VALUES ('delete', old.id, old.username, old.name);
  INSERT INTO users_fts (rowid, username, name) VALUES (new.id, new.username, new.name);
END;

-- One row per unordered pair (user_lo < user_hi by id, or equal). last_seq hands out the
-- gap-free per-conversation sequence. last_message_id has no foreign key: messages
-- references conversations, and a cycle would complicate inserts for no gain.
CREATE TABLE conversations (
  id              INTEGER PRIMARY KEY,
  user_lo         INTEGER NOT NULL REFERENCES users (id),
  user_hi         INTEGER NOT NULL REFERENCES users (id),
  last_seq        INTEGER NOT NULL DEFAULT 0,
  last_message_id INTEGER NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (user_lo, user_hi),
  CHECK (user_lo <= user_hi)
);
-- Previews look conversations up from both sides; UNIQUE (user_lo, user_hi) serves the
-- lo side. updated_at is deliberately not indexed: it changes with every message.
CREATE INDEX conversations_by_hi ON conversations (user_hi);

-- AUTOINCREMENT: ids are never reused even if the newest rows were ever deleted, because
-- clients page pending messages by "id greater than".
CREATE TABLE messages (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id INTEGER NOT NULL REFERENCES conversations (id),
  seq             INTEGER NOT NULL,
  sender_id       INTEGER NOT NULL REFERENCES users (id),
  recipient_id    INTEGER NOT NULL REFERENCES users (id),
  content         TEXT    NOT NULL,
  mark            TEXT    NULL,     -- the client's mark as canonical JSON, for retries
  created_at      INTEGER NOT NULL, -- unix ms
  delivered_at    INTEGER NULL,
  read_at         INTEGER NULL,
  UNIQUE (conversation_id, seq)     -- also the history index (newest first by seq)
);
-- Small partial indexes: they only hold the rows still waiting for something.
CREATE INDEX messages_pending ON messages (recipient_id, id) WHERE delivered_at IS NULL;
CREATE INDEX messages_unread ON messages (recipient_id, conversation_id) WHERE read_at IS NULL;
CREATE INDEX messages_retry ON messages (sender_id, mark, created_at) WHERE mark IS NOT NULL;
)sql";

// Every index on messages costs the writer a scattered page write per conversation (or per
// recipient) and commit, so the unread index becomes a counter on the conversation row, which
// the writer rewrites for every message anyway. The last message is (id, last_seq) in the
// unique (conversation_id, seq) index, so last_message_id (one more update per message) goes.
inline constexpr std::string_view migration_2_unread_counters = R"sql(
-- Unread messages to user_lo and to user_hi. A conversation with oneself counts in unread_lo.
ALTER TABLE conversations ADD COLUMN unread_lo INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN unread_hi INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET
  unread_lo = (SELECT COUNT(*) FROM messages AS m
               WHERE m.conversation_id = conversations.id AND m.recipient_id = conversations.user_lo
                 AND m.read_at IS NULL),
  unread_hi = (SELECT COUNT(*) FROM messages AS m
               WHERE m.conversation_id = conversations.id AND m.recipient_id = conversations.user_hi
                 AND conversations.user_hi <> conversations.user_lo AND m.read_at IS NULL);
DROP INDEX messages_unread;
ALTER TABLE conversations DROP COLUMN last_message_id;
)sql";

inline constexpr std::string_view migration_3_search_any_substring = R"sql(
-- Search (see sqlite_store::search_users): case-insensitive substring match on username AND
-- display name, of any length, ranked exact > prefix > substring, every tier an ordered index
-- walk stopped after `limit` users.

-- The display name folded like usernames: ASCII A-Z to a-z, every other character as it is
-- (the same rule as fold_username and as the PostgreSQL store). Spelled out as replace()
-- calls rather than lower(), whose result depends on how SQLite was built (ICU makes it
-- Unicode-aware), which an index must not. Virtual: computed on read, stored in the index.
ALTER TABLE users ADD COLUMN name_folded TEXT GENERATED ALWAYS AS (
  replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
  replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
    name,
    'A', 'a'), 'B', 'b'), 'C', 'c'), 'D', 'd'), 'E', 'e'), 'F', 'f'), 'G', 'g'),
    'H', 'h'), 'I', 'i'), 'J', 'j'), 'K', 'k'), 'L', 'l'), 'M', 'm'), 'N', 'n'),
    'O', 'o'), 'P', 'p'), 'Q', 'q'), 'R', 'r'), 'S', 's'), 'T', 't'), 'U', 'u'),
    'V', 'v'), 'W', 'w'), 'X', 'x'), 'Y', 'y'), 'Z', 'z')
) VIRTUAL;
-- Tiers 2 and 4: exact display name (in id order: the index ends with the rowid) and display
-- names starting with the fragment (in (name_folded, id) order).
CREATE INDEX users_name_folded ON users (name_folded);

-- Tier 5, any substring: every suffix of the folded username and display name, so that "s
-- contains f" becomes "some suffix of s starts with f", one range of this index whatever
-- the fragment's length (a trigram index needs 3 characters). The walk meets the users in
-- (suffix, id) order and stops once it has `limit` of them; a user appears once per
-- occurrence at most, so the rows read are bounded by `limit` times the longest field, not
-- by the number of users or of matches. One row per distinct suffix and user.
CREATE TABLE user_suffixes (
  suffix  TEXT    NOT NULL,
  user_id INTEGER NOT NULL,
  PRIMARY KEY (suffix, user_id)
) WITHOUT ROWID;

-- 1..1024: the character positions a suffix may start at. Triggers cannot use a recursive
-- CTE, so they join this table instead. Usernames have at most 32 characters and display
-- names 64; longer text would only be searchable in its first 1024 characters.
CREATE TABLE search_positions (n INTEGER PRIMARY KEY);
WITH RECURSIVE p (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM p WHERE n < 1024)
INSERT INTO search_positions (n) SELECT n FROM p;

INSERT OR IGNORE INTO user_suffixes (suffix, user_id)
  SELECT substr(f.v, p.n), f.id
    FROM (SELECT id, username_folded AS v FROM users UNION ALL SELECT id, name_folded FROM users) AS f
    JOIN search_positions AS p ON p.n <= length(f.v);

CREATE TRIGGER users_suffixes_after_insert AFTER INSERT ON users BEGIN
  INSERT OR IGNORE INTO user_suffixes (suffix, user_id)
    SELECT substr(f.v, p.n), new.id
      FROM (SELECT new.username_folded AS v UNION ALL SELECT new.name_folded) AS f
      JOIN search_positions AS p ON p.n <= length(f.v);
END;
CREATE TRIGGER users_suffixes_after_delete AFTER DELETE ON users BEGIN
  DELETE FROM user_suffixes WHERE user_id = old.id;
END;
CREATE TRIGGER users_suffixes_after_update AFTER UPDATE OF username_folded, name ON users BEGIN
  DELETE FROM user_suffixes WHERE user_id = old.id;
  INSERT OR IGNORE INTO user_suffixes (suffix, user_id)
    SELECT substr(f.v, p.n), new.id
      FROM (SELECT new.username_folded AS v UNION ALL SELECT new.name_folded) AS f
      JOIN search_positions AS p ON p.n <= length(f.v);
END;

-- The trigram index of migration 1 served only search; user_suffixes replaces it.
DROP TRIGGER users_fts_after_insert;
DROP TRIGGER users_fts_after_delete;
DROP TRIGGER users_fts_after_update;
DROP TABLE users_fts;
)sql";

// Token revocation (store::record_token and the calls after it; docs/storage.md, Tokens).
inline constexpr std::string_view migration_4_token_revocation = R"sql(
-- One row per issued token until it expires; the writer forgets expired rows a few at a
-- time as it records new ones. revoked_at: unix ms, NULL while the token is valid. No
-- foreign key: the writer runs without their enforcement, and the user comes from a token
-- the server signed.
CREATE TABLE tokens (
  jti        TEXT    NOT NULL PRIMARY KEY,
  user_id    INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,  -- unix ms
  revoked_at INTEGER NULL
) WITHOUT ROWID;
-- revoke_user_tokens: one user's unexpired tokens.
CREATE INDEX tokens_by_user ON tokens (user_id, expires_at);
-- Pruning: the oldest expiries first, whoever they belong to.
CREATE INDEX tokens_by_expiry ON tokens (expires_at);
-- revocations(): only the revoked rows, a small part of the table.
CREATE INDEX tokens_revoked ON tokens (expires_at) WHERE revoked_at IS NOT NULL;

-- Tokens without a jti (minted by another service, or before this release) issued at or
-- before cutoff_s (unix seconds) are revoked. One row per user who ever revoked all.
CREATE TABLE token_cutoffs (
  user_id  INTEGER NOT NULL PRIMARY KEY,
  cutoff_s INTEGER NOT NULL
);
)sql";

// The per-user event stream, edits, deletes, replies and files (docs/storage.md, "Event
// stream" and "Files").
inline constexpr std::string_view migration_5_stream_and_files = R"sql(
-- One row per user with a stream: the last position handed out (bumped in the same write
-- transaction as the events, so positions are gap-free and in commit order) and the highest
-- position forgotten by retention (a `since` below it has expired).
CREATE TABLE streams (
  user_id        INTEGER PRIMARY KEY,
  pos            INTEGER NOT NULL DEFAULT 0,
  pruned_through INTEGER NOT NULL DEFAULT 0
);
-- The events, clustered by (user, pos) so a device's catch-up is one range read. No content:
-- a message's text lives only in `messages`. kind is a stream_kind, ids the message ids as
-- comma-separated decimals (one for message and edited events).
CREATE TABLE stream_events (
  user_id         INTEGER NOT NULL,
  pos             INTEGER NOT NULL,
  kind            INTEGER NOT NULL,
  conversation_id INTEGER NOT NULL,
  ids             TEXT    NOT NULL,
  at              INTEGER NOT NULL,  -- unix ms
  PRIMARY KEY (user_id, pos)
) WITHOUT ROWID;
-- Retention: the oldest events first, whoever they belong to. `at` grows with time, so new
-- entries land on the index's last page.
CREATE INDEX stream_events_by_at ON stream_events (at);

ALTER TABLE messages ADD COLUMN reply_to INTEGER NULL;
ALTER TABLE messages ADD COLUMN attachment_id TEXT NULL;
ALTER TABLE messages ADD COLUMN edited_at INTEGER NULL;  -- unix ms of the last edit
ALTER TABLE messages ADD COLUMN deleted_at INTEGER NULL; -- content is '' and attachment_id NULL from then on
-- file_for: the messages carrying a file (few: most messages carry none).
CREATE INDEX messages_by_attachment ON messages (attachment_id) WHERE attachment_id IS NOT NULL;

-- Uploaded files: the row, and the bytes in chunks of at most 256 KiB (file_chunk_bytes), so
-- that neither an upload nor a download ever holds a whole file. complete = 0 while the
-- upload runs; such rows are invisible to downloads and pruned after a day.
CREATE TABLE files (
  id         TEXT    NOT NULL PRIMARY KEY,
  owner_id   INTEGER NOT NULL,
  name       TEXT    NOT NULL,
  type       TEXT    NOT NULL,
  size       INTEGER NOT NULL DEFAULT 0,
  chunks     INTEGER NOT NULL DEFAULT 0,
  complete   INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL  -- unix ms
);
CREATE INDEX files_incomplete ON files (created_at) WHERE complete = 0;
-- A rowid table, not WITHOUT ROWID: its rows are large, and SQLite keeps large rows of a
-- rowid table in overflow pages instead of in the b-tree of the key.
CREATE TABLE file_chunks (
  file_id TEXT    NOT NULL,
  idx     INTEGER NOT NULL,
  bytes   BLOB    NOT NULL,
  UNIQUE (file_id, idx)
);
)sql";

// Retention looks at each stream's oldest events instead (see stream_writer): the index cost
// every event one more b-tree insert.
inline constexpr std::string_view migration_6_stream_retention_per_user = R"sql(
DROP INDEX stream_events_by_at;
)sql";

// People (docs/storage.md, "People"): profiles, presence, blocks, deleted accounts, push tokens.
inline constexpr std::string_view migration_7_people = R"sql(
-- show_presence: 0 or 1 (PATCH /v1/me). last_seen: unix ms, the later of what the nodes
-- reported. deleted_at: unix ms of DELETE /v1/me; the row stays as a tombstone with empty
-- username, name and password hash. Its username_folded keeps the folded username, so the
-- UNIQUE index itself reserves it during the quarantine; create_user gives it up by
-- renaming it to '#<id>' ('#' is never in a username).
ALTER TABLE users ADD COLUMN show_presence INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN last_seen INTEGER NULL;
ALTER TABLE users ADD COLUMN deleted_at INTEGER NULL;

-- Search never finds a deleted account: a tombstone keeps no suffixes.
DROP TRIGGER users_suffixes_after_update;
CREATE TRIGGER users_suffixes_after_update AFTER UPDATE OF username_folded, name, deleted_at ON users BEGIN
  DELETE FROM user_suffixes WHERE user_id = old.id;
  INSERT OR IGNORE INTO user_suffixes (suffix, user_id)
    SELECT substr(f.v, p.n), new.id
      FROM (SELECT new.username_folded AS v UNION ALL SELECT new.name_folded) AS f
      JOIN search_positions AS p ON p.n <= length(f.v)
      WHERE new.deleted_at IS NULL;
END;

-- 1 once a member's account was deleted: appends to it fail (unknown_recipient) with no
-- lookup of the users, since the writer reads this row for every batch anyway.
ALTER TABLE conversations ADD COLUMN closed INTEGER NOT NULL DEFAULT 0;

-- blocker_id blocked blocked_id. The key serves "did the sender block the recipient" and
-- "did the recipient block the sender" (one lookup each, in append_message), blocked_users
-- and the quota count; the second index the reverse direction (block_relations_of).
CREATE TABLE blocks (
  blocker_id INTEGER NOT NULL,
  blocked_id INTEGER NOT NULL,
  created_at INTEGER NOT NULL,  -- unix ms
  PRIMARY KEY (blocker_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX blocks_by_blocked ON blocks (blocked_id, blocker_id);

-- A (platform, token) belongs to one user at a time: registering it again moves it.
CREATE TABLE push_devices (
  platform   TEXT    NOT NULL,
  token      TEXT    NOT NULL,
  user_id    INTEGER NOT NULL,
  created_at INTEGER NOT NULL,  -- unix ms
  PRIMARY KEY (platform, token)
) WITHOUT ROWID;
CREATE INDEX push_devices_by_user ON push_devices (user_id, created_at);

-- 1: the recipient had blocked the sender when it was stored; shown to the sender only, for
-- ever. Withheld messages never wait for a receipt, so the pending index leaves them out.
ALTER TABLE messages ADD COLUMN withheld INTEGER NOT NULL DEFAULT 0;
DROP INDEX messages_pending;
CREATE INDEX messages_pending ON messages (recipient_id, id) WHERE delivered_at IS NULL AND withheld = 0;

-- delete_account: the user's files.
CREATE INDEX files_by_owner ON files (owner_id);
)sql";

/// In order; versions start at 1 and have no gaps.
inline constexpr migration migrations[] = {
    {1, "initial schema", migration_1_initial_schema},
    {2, "unread counters", migration_2_unread_counters},
    {3, "search any substring", migration_3_search_any_substring},
    {4, "token revocation", migration_4_token_revocation},
    {5, "stream and files", migration_5_stream_and_files},
    {6, "stream retention per user", migration_6_stream_retention_per_user},
    {7, "people", migration_7_people},
};

}  // namespace chatrix::storage::sqlite_detail
