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

/// In order; versions start at 1 and have no gaps.
inline constexpr migration migrations[] = {
    {1, "initial schema", migration_1_initial_schema},
    {2, "unread counters", migration_2_unread_counters},
};

}  // namespace chatrix::storage::sqlite_detail
