// Schema migrations of the PostgreSQL store, as a numbered list of constant SQL scripts.
// Each runs once, in its own transaction, under an advisory lock, and is recorded in
// schema_version. Never edit a released migration: append a new one. (One exception, for
// installs without pg_trgm: migration 1 no longer creates the trigram objects that
// migration 3 drops; see docs/storage.md, Migrations.)
#pragma once

#include "storage/postgres/migration_people.hpp"

#include <cstdint>
#include <string_view>

namespace chatrix::storage::postgres_detail {

struct migration {
  int version;
  const char* name;
  const char* sql;
};

/// Key of the session-level advisory lock held while migrating, so that several nodes
/// starting at once apply each migration exactly once ("chatrix\0m" in ASCII).
inline constexpr std::int64_t migration_lock_key = 0x6368617472697800;

/// Created outside the numbered list: it records which migrations ran.
inline constexpr const char* create_schema_version_table = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (
  version    INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at BIGINT  NOT NULL  -- unix ms
)
)sql";

inline constexpr const char* migration_1_initial_schema = R"sql(
-- username_folded is the ASCII lower-case form: uniqueness and lookups ignore case,
-- `username` keeps the spelling the user chose. Its UNIQUE btree serves ON CONFLICT at
-- registration and the exact lookups of login and search tier 1.
CREATE TABLE users (
  id              BIGSERIAL PRIMARY KEY,
  username        TEXT   NOT NULL,
  username_folded TEXT   NOT NULL UNIQUE,
  name            TEXT   NOT NULL,
  password_hash   TEXT   NOT NULL,
  created_at      BIGINT NOT NULL  -- unix ms
);

-- Search tier 2 (username prefix): a btree with text_pattern_ops compares bytes, so a
-- prefix is one contiguous range (~>~ fragment, ~<~ its upper bound) walked in order and
-- stopped by LIMIT, whatever the database's collation. The UNIQUE index above follows
-- the collation, where prefixes are not ranges in general.
CREATE INDEX users_username_prefix ON users (username_folded text_pattern_ops);

-- Search of any substring: user_suffixes (migration 3). Releases before it created the
-- pg_trgm extension and two trigram indexes here, which migration 3 drops; they are left out
-- so that installing needs no extension (see docs/storage.md, Migrations).

-- One row per unordered pair (user_lo <= user_hi). last_seq hands out the gap-free
-- per-conversation sequence: the UPDATE that increments it also locks the row, which
-- serialises appends to one conversation across writers and nodes. last_message_id has
-- no foreign key: messages references conversations, and a cycle would complicate inserts.
CREATE TABLE conversations (
  id              BIGSERIAL PRIMARY KEY,
  user_lo         BIGINT NOT NULL REFERENCES users (id),
  user_hi         BIGINT NOT NULL REFERENCES users (id),
  last_seq        BIGINT NOT NULL DEFAULT 0,
  last_message_id BIGINT NULL,
  updated_at      BIGINT NOT NULL,
  CONSTRAINT conversations_pair UNIQUE (user_lo, user_hi),
  CHECK (user_lo <= user_hi)
);
-- Previews find a user's conversations from both sides; the pair index serves the lo
-- side. updated_at is deliberately not indexed: it changes with every message, and an
-- unindexed column keeps those updates HOT (no index writes).
CREATE INDEX conversations_by_hi ON conversations (user_hi);

CREATE TABLE messages (
  id              BIGSERIAL PRIMARY KEY,
  conversation_id BIGINT NOT NULL REFERENCES conversations (id),
  seq             BIGINT NOT NULL,
  sender_id       BIGINT NOT NULL REFERENCES users (id),
  recipient_id    BIGINT NOT NULL REFERENCES users (id),
  content         TEXT   NOT NULL,
  mark            TEXT   NULL,      -- the client's mark as canonical JSON, for retries
  created_at      BIGINT NOT NULL,  -- unix ms
  delivered_at    BIGINT NULL,
  read_at         BIGINT NULL,
  -- Also the history index: pages walk it backwards from a seq bound.
  CONSTRAINT messages_conversation_seq UNIQUE (conversation_id, seq)
);
-- Small partial indexes: they hold only the rows still waiting for something, so they
-- stay small however long the history grows.
-- Pending lookup on connect: a recipient's undelivered messages in id order.
CREATE INDEX messages_pending ON messages (recipient_id, id) WHERE delivered_at IS NULL;
-- Unread counts of previews.
CREATE INDEX messages_unread ON messages (recipient_id, conversation_id) WHERE read_at IS NULL;
-- Retry detection: the sender's recent messages with this mark.
CREATE INDEX messages_retry ON messages (sender_id, mark, created_at) WHERE mark IS NOT NULL;
)sql";

inline constexpr const char* migration_2_write_functions = R"sql(
-- Each write of the group-committing writer is ONE statement: in pipeline mode an error
-- aborts everything after it up to the sync, so logical failures come back as a status
-- column instead of being raised.

-- Stores one message: checks both users, recognises a retry, gets or creates the
-- conversation (exactly once, also with several nodes writing: INSERT ... ON CONFLICT DO
-- NOTHING waits for a concurrent inserter and then sees its row), takes the next seq by
-- incrementing it under the row lock, and inserts. The message id is drawn inside that
-- UPDATE, i.e. while the row is locked (a waiting UPDATE re-evaluates it after the lock
-- is granted), so ids grow with seq within a conversation, which history paging relies on.
CREATE FUNCTION chatrix_append(p_sender BIGINT, p_recipient BIGINT, p_content TEXT, p_mark TEXT,
                               p_now BIGINT, p_window BIGINT)
RETURNS TABLE (r_status TEXT, r_duplicate BOOLEAN, r_id BIGINT, r_conversation BIGINT, r_seq BIGINT,
               r_created_at BIGINT, r_delivered_at BIGINT, r_read_at BIGINT)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_lo BIGINT := LEAST(p_sender, p_recipient);
  v_hi BIGINT := GREATEST(p_sender, p_recipient);
  v_users INT;
BEGIN
  SELECT count(*) INTO v_users FROM users AS u WHERE u.id = p_sender OR u.id = p_recipient;
  IF v_users <> (CASE WHEN p_sender = p_recipient THEN 1 ELSE 2 END) THEN
    r_status := 'unknown_user';
    RETURN NEXT;
    RETURN;
  END IF;

  IF p_mark IS NOT NULL AND p_window > 0 THEN
    SELECT m.id, m.conversation_id, m.seq, m.created_at, m.delivered_at, m.read_at
      INTO r_id, r_conversation, r_seq, r_created_at, r_delivered_at, r_read_at
      FROM messages AS m
     WHERE m.sender_id = p_sender AND m.mark = p_mark AND m.created_at >= p_now - p_window
       AND m.recipient_id = p_recipient AND m.content = p_content
     ORDER BY m.id DESC
     LIMIT 1;
    IF FOUND THEN
      r_status := 'ok';
      r_duplicate := true;
      RETURN NEXT;
      RETURN;
    END IF;
  END IF;

  INSERT INTO conversations (user_lo, user_hi, last_seq, updated_at)
  VALUES (v_lo, v_hi, 0, p_now)
  ON CONFLICT ON CONSTRAINT conversations_pair DO NOTHING;

  UPDATE conversations AS c
     SET last_seq = c.last_seq + 1,
         last_message_id = nextval('messages_id_seq'),
         updated_at = GREATEST(c.updated_at, p_now)
   WHERE c.user_lo = v_lo AND c.user_hi = v_hi
  RETURNING c.id, c.last_seq, c.last_message_id INTO r_conversation, r_seq, r_id;

  INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, mark, created_at)
  VALUES (r_id, r_conversation, r_seq, p_sender, p_recipient, p_content, p_mark, p_now);

  r_status := 'ok';
  r_duplicate := false;
  r_created_at := p_now;
  RETURN NEXT;
END
$fn$;

-- Marks messages read by p_reader: all or nothing. If any id is not a message to the
-- reader, one row with status 'forbidden' comes back and nothing changes. Otherwise the
-- messages not read before, in the order of their first appearance in p_ids.
CREATE FUNCTION chatrix_mark_read(p_reader BIGINT, p_ids BIGINT[], p_at BIGINT)
RETURNS TABLE (r_status TEXT, r_id BIGINT, r_sender BIGINT, r_recipient BIGINT)
LANGUAGE plpgsql AS $fn$
BEGIN
  IF EXISTS (SELECT 1
               FROM unnest(p_ids) AS w(id)
               LEFT JOIN messages AS m ON m.id = w.id
              WHERE m.id IS NULL OR m.recipient_id <> p_reader) THEN
    r_status := 'forbidden';
    RETURN NEXT;
    RETURN;
  END IF;
  RETURN QUERY
    WITH wanted AS (
      SELECT w.id, min(w.ord) AS ord
        FROM unnest(p_ids) WITH ORDINALITY AS w(id, ord)
       GROUP BY w.id
    ), changed AS (
      UPDATE messages AS m
         SET read_at = p_at, delivered_at = COALESCE(m.delivered_at, p_at)
        FROM wanted
       WHERE m.id = wanted.id AND m.read_at IS NULL
      RETURNING m.id, m.sender_id, m.recipient_id, wanted.ord
    )
    SELECT 'ok'::text, changed.id, changed.sender_id, changed.recipient_id
      FROM changed
     ORDER BY changed.ord;
END
$fn$;

-- Search, ranked: three tiers, each an index walk cut by its own LIMIT, so the final sort
-- sees at most 2 * limit + 1 rows whether a thousand or a million users match.
--   1. the exact folded username, through the UNIQUE index;
--   2. usernames starting with it: the byte range (p_folded, p_upper) of the
--      text_pattern_ops index, walked in its order (ORDER BY ... USING ~<~) and stopped by
--      LIMIT; the exact match is excluded; p_upper NULL makes the tier empty;
--   3. any other substring of username or display name (p_pattern is '%fragment%' with
--      \ % _ escaped), through the trigram indexes, for fragments of 3+ characters only
--      (shorter ones have no trigram); users whose username starts with the fragment were
--      tiers 1 and 2. No ORDER BY: "any other match", in index order.
-- A function only to scope one setting: with a parameter for the pattern, the planner
-- cannot estimate how many rows LIKE matches and would pick a sequential scan with an
-- early LIMIT, which reads the whole table when matches are rare. enable_seqscan = off
-- keeps tier 3 on the trigram indexes, so its cost follows the fragment's matches, not the
-- table's size. plpgsql caches the plan per connection, like a prepared statement.
CREATE FUNCTION chatrix_search_users(p_folded TEXT, p_upper TEXT, p_pattern TEXT, p_limit BIGINT)
RETURNS TABLE (r_id BIGINT, r_username TEXT, r_name TEXT)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $fn$
BEGIN
  RETURN QUERY
  SELECT ranked.id, ranked.username, ranked.name FROM (
    (SELECT 1 AS tier, ''::text AS k, u.id, u.username, u.name FROM users AS u
      WHERE u.username_folded = p_folded LIMIT 1)
    UNION ALL
    (SELECT 2, u.username_folded, u.id, u.username, u.name FROM users AS u
      WHERE u.username_folded ~>~ p_folded AND u.username_folded ~<~ p_upper
      ORDER BY u.username_folded USING ~<~ LIMIT p_limit)
    UNION ALL
    (SELECT 3, '', u.id, u.username, u.name FROM users AS u
      WHERE char_length(p_folded) >= 3
        AND (u.username_folded LIKE p_pattern OR lower(u.name) LIKE lower(p_pattern))
        AND NOT starts_with(u.username_folded, p_folded)
      LIMIT p_limit)
  ) AS ranked
  ORDER BY ranked.tier, ranked.k COLLATE "C"
  LIMIT p_limit;
END
$fn$;
)sql";

inline constexpr const char* migration_3_search_and_read_receipts = R"sql(
-- Search: case-insensitive substring match on username AND display name, of any length,
-- ranked exact > prefix > substring, every tier an ordered index walk stopped after
-- `limit` users. The same schema and ranking as the SQLite store's migration 2, so both
-- stores return the same users in the same order.

-- The display name folded like usernames: ASCII A-Z to a-z, every other character as it is
-- (fold_username's rule; lower() would follow the database's locale). COLLATE "C": compared
-- and ordered as bytes, like username_folded under text_pattern_ops and like SQLite.
ALTER TABLE users ADD COLUMN name_folded TEXT COLLATE "C" NOT NULL
  GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED;
-- Tiers 2 and 4: exact display name in id order, display names starting with the fragment
-- in (name_folded, id) order.
CREATE INDEX users_name_folded ON users (name_folded, id);

-- Tier 5, any substring: every suffix of the folded username and display name, so that "s
-- contains f" becomes "some suffix of s starts with f", one range of this primary key
-- whatever the fragment's length (pg_trgm needs 3 characters, and its bitmap scans cannot
-- stop early: a frequent trigram, or a fragment without any, read every matching row). The
-- walk meets users in (suffix, id) order and stops once it has `limit` of them; a user
-- appears once per occurrence at most, so the rows read are bounded by `limit` times the
-- longest field, not by the number of users or of matches.
CREATE TABLE user_suffixes (
  suffix  TEXT COLLATE "C" NOT NULL,
  user_id BIGINT NOT NULL
);
INSERT INTO user_suffixes (suffix, user_id)
  SELECT DISTINCT substr(f.v, i), f.id
    FROM (SELECT id, username_folded AS v FROM users UNION ALL SELECT id, name_folded FROM users) AS f,
         generate_series(1, char_length(f.v)) AS i;
-- Built after the backfill: one sort instead of a million index insertions.
ALTER TABLE user_suffixes ADD CONSTRAINT user_suffixes_pkey PRIMARY KEY (suffix, user_id);

CREATE FUNCTION chatrix_sync_user_suffixes() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM user_suffixes WHERE user_id = OLD.id;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO user_suffixes (suffix, user_id)
      SELECT DISTINCT substr(f.v, i), NEW.id
        FROM (VALUES (NEW.username_folded), (NEW.name_folded)) AS f(v),
             generate_series(1, char_length(f.v)) AS i;
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER users_sync_suffixes AFTER INSERT OR DELETE OR UPDATE OF username_folded, name ON users
  FOR EACH ROW EXECUTE FUNCTION chatrix_sync_user_suffixes();

-- The trigram indexes served only the old search (only databases created by releases whose
-- migration 1 still made them have them).
DROP INDEX IF EXISTS users_username_trgm;
DROP INDEX IF EXISTS users_name_trgm;

-- Search, ranked: the ids of each tier in ranking order, skipping users an earlier tier
-- took, until p_limit users (p_folded is the fold_username form of the fragment):
--   1. the exact username (UNIQUE index);
--   2. the exact display name, by id (users_name_folded);
--   3. usernames starting with it, in byte order (users_username_prefix);
--   4. display names starting with it, by (name_folded, id) (users_name_folded);
--   5. every user containing it, by (suffix, id) (user_suffixes).
-- Each tier walks its index from p_folded in ranking order and stops at the first key that
-- does not start with it (no upper bound to compute) or once p_limit users are taken; a tier
-- reads at most p_limit users beyond those already taken. Only then are the users read,
-- in one query. Settings: the planner cannot tell that a walk stops after a few rows (a
-- short fragment's range may hold most of the table); enable_seqscan and enable_bitmapscan
-- = off keep every tier on its ordered index walk (a scan of the range and a sort would
-- read all of it before the first row), and jit = off spares compiling plans that look
-- expensive by that estimate but read a few rows.
CREATE FUNCTION chatrix_search(p_folded TEXT, p_limit BIGINT)
RETURNS TABLE (r_id BIGINT, r_username TEXT, r_name TEXT)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET jit = off
AS $fn$
DECLARE
  v_ids BIGINT[] := '{}';
  v_id BIGINT;
  v_key TEXT;
BEGIN
  IF p_limit <= 0 OR p_folded = '' THEN
    RETURN;
  END IF;
  <<tiers>>
  BEGIN
    FOR v_id IN SELECT u.id FROM users AS u WHERE u.username_folded = p_folded LOOP
      v_ids := v_ids || v_id;
    END LOOP;
    EXIT tiers WHEN cardinality(v_ids) >= p_limit;
    FOR v_id IN SELECT u.id FROM users AS u WHERE u.name_folded = p_folded ORDER BY u.id LIMIT p_limit LOOP
      CONTINUE WHEN v_id = ANY (v_ids);
      v_ids := v_ids || v_id;
      EXIT tiers WHEN cardinality(v_ids) >= p_limit;
    END LOOP;
    FOR v_key, v_id IN SELECT u.username_folded, u.id FROM users AS u WHERE u.username_folded ~>=~ p_folded
                        ORDER BY u.username_folded USING ~<~ LIMIT p_limit LOOP
      EXIT WHEN NOT starts_with(v_key, p_folded);
      CONTINUE WHEN v_id = ANY (v_ids);
      v_ids := v_ids || v_id;
      EXIT tiers WHEN cardinality(v_ids) >= p_limit;
    END LOOP;
    FOR v_key, v_id IN SELECT u.name_folded, u.id FROM users AS u WHERE u.name_folded >= p_folded
                        ORDER BY u.name_folded, u.id LIMIT p_limit LOOP
      EXIT WHEN NOT starts_with(v_key, p_folded);
      CONTINUE WHEN v_id = ANY (v_ids);
      v_ids := v_ids || v_id;
      EXIT tiers WHEN cardinality(v_ids) >= p_limit;
    END LOOP;
    -- No LIMIT: a user comes once per occurrence; the loop stops when it has enough.
    FOR v_key, v_id IN SELECT s.suffix, s.user_id FROM user_suffixes AS s WHERE s.suffix >= p_folded
                        ORDER BY s.suffix, s.user_id LOOP
      EXIT WHEN NOT starts_with(v_key, p_folded);
      CONTINUE WHEN v_id = ANY (v_ids);
      v_ids := v_ids || v_id;
      EXIT tiers WHEN cardinality(v_ids) >= p_limit;
    END LOOP;
  END tiers;
  RETURN QUERY
    SELECT u.id, u.username, u.name
      FROM unnest(v_ids) WITH ORDINALITY AS w(id, ord)
      JOIN users AS u ON u.id = w.id
     ORDER BY w.ord;
END
$fn$;

-- The previous search function, for nodes of the previous release still running during a
-- rolling upgrade: same signature, now the new search.
CREATE OR REPLACE FUNCTION chatrix_search_users(p_folded TEXT, p_upper TEXT, p_pattern TEXT, p_limit BIGINT)
RETURNS TABLE (r_id BIGINT, r_username TEXT, r_name TEXT)
LANGUAGE sql STABLE
AS $fn$
  SELECT r_id, r_username, r_name FROM chatrix_search(p_folded, p_limit)
$fn$;

-- Marks messages read by p_reader, as chatrix_mark_read did, and also tells which of them
-- nobody had received yet (r_delivered): reading a message delivers it, and the sender is
-- told RECEIVED for those, exactly once. Two statements: the first delivers the unread,
-- undelivered ones and keeps their row locks, so no concurrent mark_delivered or mark_read
-- (another node's writer) can report them as well; a concurrent one that got there first
-- makes this one skip them (the WHERE clause is rechecked after waiting for its lock).
CREATE FUNCTION chatrix_read_messages(p_reader BIGINT, p_ids BIGINT[], p_at BIGINT)
RETURNS TABLE (r_status TEXT, r_id BIGINT, r_sender BIGINT, r_recipient BIGINT, r_delivered BOOLEAN)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_delivered BIGINT[];
BEGIN
  IF EXISTS (SELECT 1
               FROM unnest(p_ids) AS w(id)
               LEFT JOIN messages AS m ON m.id = w.id
              WHERE m.id IS NULL OR m.recipient_id <> p_reader) THEN
    r_status := 'forbidden';
    RETURN NEXT;
    RETURN;
  END IF;
  WITH delivered AS (
    UPDATE messages AS m
       SET delivered_at = p_at
     WHERE m.id = ANY (p_ids) AND m.read_at IS NULL AND m.delivered_at IS NULL
    RETURNING m.id
  )
  SELECT coalesce(array_agg(delivered.id), '{}') INTO v_delivered FROM delivered;
  RETURN QUERY
    WITH wanted AS (
      SELECT w.id, min(w.ord) AS ord
        FROM unnest(p_ids) WITH ORDINALITY AS w(id, ord)
       GROUP BY w.id
    ), changed AS (
      UPDATE messages AS m
         SET read_at = p_at, delivered_at = COALESCE(m.delivered_at, p_at)
        FROM wanted
       WHERE m.id = wanted.id AND m.read_at IS NULL
      RETURNING m.id, m.sender_id, m.recipient_id, wanted.ord
    )
    SELECT 'ok'::text, changed.id, changed.sender_id, changed.recipient_id, changed.id = ANY (v_delivered)
      FROM changed
     ORDER BY changed.ord;
END
$fn$;

-- The previous mark-read function, for nodes of the previous release still running during
-- a rolling upgrade: same signature and columns, one implementation.
CREATE OR REPLACE FUNCTION chatrix_mark_read(p_reader BIGINT, p_ids BIGINT[], p_at BIGINT)
RETURNS TABLE (r_status TEXT, r_id BIGINT, r_sender BIGINT, r_recipient BIGINT)
LANGUAGE sql AS $fn$
  SELECT r_status, r_id, r_sender, r_recipient FROM chatrix_read_messages(p_reader, p_ids, p_at)
$fn$;
)sql";

inline constexpr const char* migration_4_batched_appends = R"sql(
-- The writer stores a whole group commit's messages with one call of chatrix_append_batch
-- instead of one chatrix_append each: per message, what is left is its row of one INSERT and
-- its retry lookup (chatrix_append spent ~140 us of server time per message, most of it in
-- per-statement overhead and foreign key checks). Previews find a conversation's last
-- message by (conversation_id, last_seq), so last_message_id is no longer written.

-- Foreign key checks cost three index probes and three row locks (FOR KEY SHARE, which
-- writes to the users' and conversation's rows) per message. Messages are written only by
-- chatrix_append and chatrix_append_batch, which both check that the users exist before a
-- conversation is created; a conversation's own keys stay.
ALTER TABLE messages DROP CONSTRAINT messages_conversation_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_sender_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_recipient_id_fkey;

-- Stores messages p_*[i], as chatrix_append would one after the other, in one statement
-- (after creating new pairs): one row per input, r_ord = i. A repeat of an earlier input of
-- the same call (same sender, recipient, mark and content) is a retry of it, as is a match
-- already stored. p_window is the retry window (0: no retry detection).
CREATE FUNCTION chatrix_append_batch(p_senders BIGINT[], p_recipients BIGINT[], p_contents TEXT[], p_marks TEXT[],
                                     p_nows BIGINT[], p_window BIGINT)
RETURNS TABLE (r_ord BIGINT, r_status TEXT, r_duplicate BOOLEAN, r_id BIGINT, r_conversation BIGINT, r_seq BIGINT,
               r_created_at BIGINT, r_delivered_at BIGINT, r_read_at BIGINT)
LANGUAGE plpgsql
-- Planned for every call with the arrays' real sizes. A cached generic plan assumes a
-- handful of rows (it cannot see the arrays) and joins the steps below by nested loops,
-- quadratic in the batch: 80 ms for a batch of 800 messages instead of a few.
SET plan_cache_mode = force_custom_plan
AS $fn$
BEGIN
  -- New pairs, created exactly once whatever other nodes do (ON CONFLICT waits for a
  -- concurrent inserter and then sees its row), and only when both users exist: the one
  -- place a bad user id could get in.
  INSERT INTO conversations (user_lo, user_hi, last_seq, updated_at)
  SELECT DISTINCT LEAST(i.s, i.r), GREATEST(i.s, i.r), 0, 0
    FROM unnest(p_senders, p_recipients) AS i(s, r)
   WHERE NOT EXISTS (SELECT 1 FROM conversations AS c
                      WHERE c.user_lo = LEAST(i.s, i.r) AND c.user_hi = GREATEST(i.s, i.r))
     AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = i.s)
     AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = i.r)
  ON CONFLICT ON CONSTRAINT conversations_pair DO NOTHING;

  RETURN QUERY
  WITH input AS (
    SELECT i.ord, i.s, i.r, i.content, i.mark, i.now,
           (SELECT c.id FROM conversations AS c
             WHERE c.user_lo = LEAST(i.s, i.r) AND c.user_hi = GREATEST(i.s, i.r)) AS conv
      FROM unnest(p_senders, p_recipients, p_contents, p_marks, p_nows)
           WITH ORDINALITY AS i(s, r, content, mark, now, ord)
  ), stored AS (
    -- Retries of messages stored before this call: the newest match, as chatrix_append finds.
    SELECT i.ord, m.id, m.conversation_id, m.seq, m.created_at, m.delivered_at, m.read_at
      FROM input AS i
      CROSS JOIN LATERAL (
        SELECT m.id, m.conversation_id, m.seq, m.created_at, m.delivered_at, m.read_at
          FROM messages AS m
         WHERE m.sender_id = i.s AND m.mark = i.mark AND m.created_at >= i.now - p_window
           AND m.recipient_id = i.r AND m.content = i.content
         ORDER BY m.id DESC
         LIMIT 1) AS m
     WHERE i.mark IS NOT NULL AND p_window > 0
  ), fresh AS (
    -- The others whose users exist; a repeat within the call points at its first occurrence.
    SELECT i.*,
           CASE WHEN i.mark IS NULL OR p_window <= 0 THEN i.ord
                ELSE min(i.ord) OVER (PARTITION BY i.s, i.r, i.mark, i.content) END AS first_ord
      FROM input AS i
     WHERE i.conv IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stored AS st WHERE st.ord = i.ord)
  ), counts AS (
    SELECT f.conv, count(*) AS n, max(f.now) AS latest
      FROM fresh AS f WHERE f.first_ord = f.ord GROUP BY f.conv ORDER BY f.conv
  ), advanced AS (
    -- Takes each conversation's next numbers and locks it until COMMIT, so one transaction
    -- at a time numbers a conversation's messages and draws their ids. The UPDATE returns
    -- the row as it is after any concurrent writer committed, so the numbers have no gaps.
    UPDATE conversations AS c
       SET last_seq = c.last_seq + x.n, updated_at = GREATEST(c.updated_at, x.latest)
      FROM counts AS x
     WHERE c.id = x.conv
    RETURNING c.id, c.last_seq - x.n AS base
  ), numbered AS (
    -- Each new message takes its conversation's next number, in call order.
    SELECT f.*, a.base + row_number() OVER (PARTITION BY f.conv ORDER BY f.ord) AS seq
      FROM fresh AS f JOIN advanced AS a ON a.id = f.conv
     WHERE f.first_ord = f.ord
  ), ided AS (
    -- Ids drawn in call order once the conversation is locked, so ids grow with seq within a
    -- conversation, which history paging relies on. OFFSET 0 keeps the sort below nextval.
    SELECT nextval('messages_id_seq') AS id, n.*
      FROM (SELECT * FROM numbered ORDER BY ord OFFSET 0) AS n
  ), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, mark, created_at)
    SELECT d.id, d.conv, d.seq, d.s, d.r, d.content, d.mark, d.now FROM ided AS d
  )
  SELECT i.ord,
         CASE WHEN st.ord IS NOT NULL OR f.ord IS NOT NULL THEN 'ok' ELSE 'unknown_user' END,
         st.ord IS NOT NULL OR (f.ord IS NOT NULL AND f.first_ord <> f.ord),
         COALESCE(st.id, d.id), COALESCE(st.conversation_id, d.conv), COALESCE(st.seq, d.seq),
         COALESCE(st.created_at, d.now), st.delivered_at, st.read_at
    FROM input AS i
    LEFT JOIN stored AS st ON st.ord = i.ord
    LEFT JOIN fresh AS f ON f.ord = i.ord
    LEFT JOIN ided AS d ON d.ord = f.first_ord
   ORDER BY i.ord;
END
$fn$;

-- Records the delivery receipts of several store::mark_delivered calls at once: p_jobs[i]
-- (the call's index) received p_ids[i] (p_recipients[i] is that call's recipient) at
-- p_ats[i]. Only messages to that recipient not delivered before change, each once, for the
-- first receipt that names it; they come back in the order given.
CREATE FUNCTION chatrix_mark_delivered_batch(p_jobs INT[], p_recipients BIGINT[], p_ids BIGINT[], p_ats BIGINT[])
RETURNS TABLE (r_job INT, r_id BIGINT, r_sender BIGINT, r_recipient BIGINT)
LANGUAGE plpgsql
-- As chatrix_append_batch: a generic plan would not see the arrays' sizes.
SET plan_cache_mode = force_custom_plan
AS $fn$
BEGIN
  RETURN QUERY
  WITH wanted AS (
    SELECT w.job, w.recipient, w.id, w.at, w.ord
      FROM unnest(p_jobs, p_recipients, p_ids, p_ats) WITH ORDINALITY AS w(job, recipient, id, at, ord)
  ), claimed AS (
    SELECT DISTINCT ON (w.id) w.job, w.id, w.at, w.ord
      FROM wanted AS w
      JOIN messages AS m ON m.id = w.id AND m.recipient_id = w.recipient AND m.delivered_at IS NULL
     ORDER BY w.id, w.ord
  ), changed AS (
    -- Re-checked under the row lock: of two nodes recording the same receipt, one wins.
    UPDATE messages AS m SET delivered_at = c.at
      FROM claimed AS c
     WHERE m.id = c.id AND m.delivered_at IS NULL
    RETURNING c.job, m.id, m.sender_id, m.recipient_id, c.ord
  )
  SELECT ch.job, ch.id, ch.sender_id, ch.recipient_id FROM changed AS ch ORDER BY ch.ord;
END
$fn$;
)sql";

inline constexpr const char* migration_5_pending_table = R"sql(
-- Receipts without index writes. A receipt set delivered_at, which the predicate of the
-- partial index messages_pending reads, so every receipt wrote a whole new version of the
-- row and an entry in each of the table's indexes (~21 us of PostgreSQL time per message).
-- The pending messages are now rows of a table of their own, and no index of messages reads
-- delivered_at any more: a receipt is a HOT update (no index entry, the new version on the
-- same page) plus the delete of a pending row (a delete writes no index entry either). One
-- commit's receipts update most rows of the recent pages, whose old versions cannot be
-- pruned before it commits: new pages keep half their room free for them (with a tenth, one
-- receipt in eight was HOT; with half, all of them). The price is a heap about twice as large.
--
-- Invariant: a pending_messages row exists exactly while its message's delivered_at is NULL.
-- Two statement-level triggers keep it, whoever writes messages (the write functions of
-- this and of the previous release alike), once per statement for all its rows.

-- Writers of the previous release wait here until this migration commits, so the copy
-- below misses none of their messages.
LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE pending_messages (
  recipient_id BIGINT NOT NULL,
  message_id   BIGINT NOT NULL,
  PRIMARY KEY (recipient_id, message_id)
);
INSERT INTO pending_messages (recipient_id, message_id)
SELECT m.recipient_id, m.id FROM messages AS m WHERE m.delivered_at IS NULL;
DROP INDEX messages_pending;
ALTER TABLE messages SET (fillfactor = 50);

CREATE FUNCTION chatrix_queue_pending() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO pending_messages (recipient_id, message_id)
  SELECT n.recipient_id, n.id FROM stored AS n WHERE n.delivered_at IS NULL;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER messages_queue_pending AFTER INSERT ON messages
  REFERENCING NEW TABLE AS stored FOR EACH STATEMENT EXECUTE FUNCTION chatrix_queue_pending();

-- After any update of messages, delivered ones have no pending row (receipts and reads set
-- delivered_at only where it is NULL, rechecked under the row lock, so of two nodes recording
-- one receipt only one updates the row). Only the new rows are needed: a row delivered
-- earlier has no pending row left, and its probe finds nothing.
CREATE FUNCTION chatrix_unqueue_delivered() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM pending_messages AS p
   USING new_rows AS n
   WHERE n.delivered_at IS NOT NULL AND p.recipient_id = n.recipient_id AND p.message_id = n.id;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER messages_unqueue_delivered AFTER UPDATE ON messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chatrix_unqueue_delivered();
)sql";

// Token revocation (store::record_token and the calls after it; docs/storage.md, Tokens).
inline constexpr const char* migration_6_token_revocation = R"sql(
-- One row per issued token until it expires; writers forget expired rows a few at a time as
-- they record new ones. revoked_at: unix ms, NULL while the token is valid. No foreign key:
-- the user comes from a token the server signed, and a key check would lock the user's row.
CREATE TABLE tokens (
  jti        TEXT   NOT NULL PRIMARY KEY,
  user_id    BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,  -- unix ms
  revoked_at BIGINT NULL
);
-- revoke_user_tokens: one user's unexpired tokens.
CREATE INDEX tokens_by_user ON tokens (user_id, expires_at);
-- Pruning: the oldest expiries first, whoever they belong to.
CREATE INDEX tokens_by_expiry ON tokens (expires_at);
-- revocations(): only the revoked rows, a small part of the table.
CREATE INDEX tokens_revoked ON tokens (expires_at) WHERE revoked_at IS NOT NULL;

-- Tokens without a jti (minted by another service, or before this release) issued at or
-- before cutoff_s (unix seconds) are revoked. One row per user who ever revoked all.
CREATE TABLE token_cutoffs (
  user_id  BIGINT NOT NULL PRIMARY KEY,
  cutoff_s BIGINT NOT NULL
);
)sql";

// The per-user event stream, edits and deletes, replies, attachments and files
// (docs/storage.md, "Event stream" and "Files").
inline constexpr const char* migration_7_stream_edits_files = R"sql(
-- One row per user whose stream has ever had an event: pos is the newest position handed out
-- (positions are 1, 2, 3 ... with no gap); events up to pruned_through are forgotten. A
-- transaction takes the row's lock by advancing pos and keeps it until COMMIT, so the
-- positions of one user grow in commit order whichever connection or node writes.
CREATE TABLE stream_heads (
  user_id        BIGINT NOT NULL PRIMARY KEY,
  pos            BIGINT NOT NULL,
  pruned_through BIGINT NOT NULL DEFAULT 0
);
-- kind: 0 message, 1 received, 2 read, 3 read_self, 4 edited, 5 deleted (stream_kind).
-- ids: the messages it is about, all of conversation_id; content lives only in messages.
-- No other index: reads walk one user's positions, pruning walks them from the oldest.
CREATE TABLE stream_events (
  user_id         BIGINT   NOT NULL,
  pos             BIGINT   NOT NULL,
  kind            SMALLINT NOT NULL,
  conversation_id BIGINT   NOT NULL,
  ids             BIGINT[] NOT NULL,
  at              BIGINT   NOT NULL,  -- unix ms
  PRIMARY KEY (user_id, pos)
);

-- Nullable without a default: adding them rewrites nothing.
ALTER TABLE messages
  ADD COLUMN reply_to      BIGINT NULL,
  ADD COLUMN attachment_id TEXT   NULL,
  ADD COLUMN edited_at     BIGINT NULL,
  ADD COLUMN deleted_at    BIGINT NULL;
-- file_for: the conversations where a message carries the file.
CREATE INDEX messages_attachment ON messages (attachment_id) WHERE attachment_id IS NOT NULL;

-- Uploaded files, in the database so that every node serves them; the bytes in chunks of at
-- most 256 KiB, one row each, written and read one at a time (never a whole file in memory).
CREATE TABLE files (
  id         TEXT    NOT NULL PRIMARY KEY,
  owner_id   BIGINT  NOT NULL,
  name       TEXT    NOT NULL,
  type       TEXT    NOT NULL,
  size       BIGINT  NOT NULL DEFAULT 0,
  chunks     INT     NOT NULL DEFAULT 0,
  created_at BIGINT  NOT NULL,  -- unix ms
  complete   BOOLEAN NOT NULL DEFAULT false
);
-- Pruning of abandoned uploads: the incomplete ones, oldest first.
CREATE INDEX files_incomplete ON files (created_at) WHERE NOT complete;
CREATE TABLE file_chunks (
  file_id TEXT  NOT NULL,
  idx     INT   NOT NULL,
  bytes   BYTEA NOT NULL,
  PRIMARY KEY (file_id, idx)
);
-- Uploads are mostly compressed already (images, archives): no compression attempt.
ALTER TABLE file_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- How a write adds events. Each write function inserts its events, without positions, into
-- chatrix_staged_events, a temporary table every writer connection creates (ON COMMIT
-- DELETE ROWS), tagged with the job they belong to. The writer ends every transaction that
-- staged events with chatrix_stream_flush, which advances each owner's counter once, owners
-- in ascending id order, numbers the events and stores them. All counter locks of a
-- transaction are so taken last and in one global order: two transactions never wait for
-- each other's counters in opposite orders, and a transaction holding a counter waits for
-- nothing else (no deadlock, with any number of writers and nodes).
CREATE FUNCTION chatrix_stream_flush(p_retention BIGINT)
RETURNS TABLE (r_tag INT, r_owner BIGINT, r_pos BIGINT, r_kind SMALLINT, r_conversation BIGINT, r_ids BIGINT[],
               r_at BIGINT)
LANGUAGE plpgsql
-- Runs after every batch, so its plans are cached (planning both statements anew cost more
-- than running them for a small batch). They stay linear whatever the batch: the numbering
-- joins nothing (one sort by owner), and every join of the pruning is an index probe per
-- owner, which hash and merge joins would turn into scans of stream_heads or stream_events.
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $fn$
DECLARE
  v_latest BIGINT;
  v_swept BIGINT;
BEGIN
  SELECT max(s.at) INTO v_latest FROM chatrix_staged_events AS s;
  IF v_latest IS NULL THEN
    RETURN;
  END IF;
  -- Retention also visits one stream drawn at random (the first at or after a random id), so
  -- that the streams of people nobody writes to any more shrink too. It joins the counters
  -- locked below with no event of its own, in the same ascending order.
  IF p_retention > 0 THEN
    SELECT h.user_id INTO v_swept FROM stream_heads AS h
     WHERE h.user_id >= (SELECT floor(random() * (max(m.user_id) + 1))::bigint FROM stream_heads AS m)
     ORDER BY h.user_id LIMIT 1;
  END IF;

  RETURN QUERY
  WITH advanced AS (
    -- Rows are inserted, and their locks taken, in the order of the SELECT.
    INSERT INTO stream_heads AS h (user_id, pos)
    SELECT o.owner, sum(o.n) FROM (
        SELECT s.owner, count(*) AS n FROM chatrix_staged_events AS s GROUP BY s.owner
        UNION ALL
        SELECT v_swept, 0 WHERE v_swept IS NOT NULL) AS o
     GROUP BY o.owner ORDER BY o.owner
    ON CONFLICT (user_id) DO UPDATE SET pos = h.pos + EXCLUDED.pos
    RETURNING h.user_id, h.pos AS last
  ), numbered AS (
    -- Each owner's head row (its new last position) sorted before its events: an event's
    -- position is last - (the owner's events) + (its rank among them).
    SELECT u.*,
           max(u.last) OVER (PARTITION BY u.owner) - count(u.tag) OVER (PARTITION BY u.owner)
             + row_number() OVER (PARTITION BY u.owner ORDER BY u.tag NULLS FIRST, u.sub) - 1 AS pos
      FROM (SELECT s.tag, s.sub, s.owner, s.kind, s.conversation_id, s.ids, s.at, NULL::bigint AS last
              FROM chatrix_staged_events AS s
            UNION ALL
            SELECT NULL, NULL, a.user_id, NULL, NULL, NULL, NULL, a.last FROM advanced AS a) AS u
  ), stored AS (
    INSERT INTO stream_events (user_id, pos, kind, conversation_id, ids, at)
    SELECT nb.owner, nb.pos, nb.kind, nb.conversation_id, nb.ids, nb.at FROM numbered AS nb WHERE nb.tag IS NOT NULL
  )
  SELECT nb.tag, nb.owner, nb.pos, nb.kind, nb.conversation_id, nb.ids, nb.at
    FROM numbered AS nb WHERE nb.tag IS NOT NULL ORDER BY nb.tag, nb.sub;

  -- Retention: each owner written to (and the one drawn) forgets as many of its oldest events
  -- older than p_retention (by the newest event's time) as it gained plus 8, so that a
  -- backlog shrinks under any load: a contiguous run from the oldest, so that pruned_through
  -- says exactly what is gone. One probe of the oldest event first: an owner with nothing
  -- expired (a young stream) costs no more. The counter rows are locked already.
  IF p_retention > 0 THEN
    WITH touched AS (
      SELECT o.owner, sum(o.budget) AS budget, v_latest - p_retention AS cutoff FROM (
          SELECT s.owner, count(*) + 8 AS budget FROM chatrix_staged_events AS s GROUP BY s.owner
          UNION ALL
          SELECT v_swept, 8 WHERE v_swept IS NOT NULL) AS o
       GROUP BY o.owner
    ), due AS (
      SELECT t.* FROM touched AS t
       WHERE (SELECT x.at FROM stream_events AS x WHERE x.user_id = t.owner ORDER BY x.pos LIMIT 1) < t.cutoff
    ), oldest AS (
      SELECT e.user_id, e.pos,
             every(e.at < d.cutoff) OVER (PARTITION BY e.user_id ORDER BY e.pos) AS expired
        FROM due AS d
        CROSS JOIN LATERAL (SELECT x.user_id, x.pos, x.at FROM stream_events AS x
                             WHERE x.user_id = d.owner ORDER BY x.pos LIMIT d.budget) AS e
    ), gone AS (
      DELETE FROM stream_events AS x USING oldest AS o
       WHERE o.expired AND x.user_id = o.user_id AND x.pos = o.pos
      RETURNING x.user_id, x.pos
    )
    UPDATE stream_heads AS h SET pruned_through = g.through
      FROM (SELECT gone.user_id, max(gone.pos) AS through FROM gone GROUP BY gone.user_id) AS g
     WHERE h.user_id = g.user_id;
  END IF;
END
$fn$;

-- chatrix_append_batch as in migration 4, plus replies and attachments, and a `message`
-- event for each new message in its sender's and its recipient's stream (tag p_tag_base +
-- r_ord - 1). A reply must name a message of the same conversation (r_status
-- 'invalid_reply'), an attachment a complete file of the sender ('invalid_attachment'). A
-- retry must carry the same attachment. The previous signature stays for nodes of the
-- previous release during a rolling upgrade (their messages have no events).
CREATE FUNCTION chatrix_append_batch(p_senders BIGINT[], p_recipients BIGINT[], p_contents TEXT[], p_marks TEXT[],
                                     p_nows BIGINT[], p_window BIGINT, p_replies BIGINT[], p_attachments TEXT[],
                                     p_tag_base INT)
RETURNS TABLE (r_ord BIGINT, r_status TEXT, r_duplicate BOOLEAN, r_id BIGINT, r_conversation BIGINT, r_seq BIGINT,
               r_created_at BIGINT, r_delivered_at BIGINT, r_read_at BIGINT, r_content TEXT, r_reply_to BIGINT,
               r_file TEXT, r_file_name TEXT, r_file_type TEXT, r_file_size BIGINT, r_edited_at BIGINT,
               r_deleted_at BIGINT)
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $fn$
BEGIN
  INSERT INTO conversations (user_lo, user_hi, last_seq, updated_at)
  SELECT DISTINCT LEAST(i.s, i.r), GREATEST(i.s, i.r), 0, 0
    FROM unnest(p_senders, p_recipients) AS i(s, r)
   WHERE NOT EXISTS (SELECT 1 FROM conversations AS c
                      WHERE c.user_lo = LEAST(i.s, i.r) AND c.user_hi = GREATEST(i.s, i.r))
     AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = i.s)
     AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = i.r)
  ON CONFLICT ON CONSTRAINT conversations_pair DO NOTHING;

  RETURN QUERY
  WITH input AS (
    SELECT i.ord, i.s, i.r, i.content, i.mark, i.now, i.reply, i.att,
           (SELECT c.id FROM conversations AS c
             WHERE c.user_lo = LEAST(i.s, i.r) AND c.user_hi = GREATEST(i.s, i.r)) AS conv
      FROM unnest(p_senders, p_recipients, p_contents, p_marks, p_nows, p_replies, p_attachments)
           WITH ORDINALITY AS i(s, r, content, mark, now, reply, att, ord)
  ), stored AS (
    SELECT i.ord, m.id, m.conversation_id, m.seq, m.created_at, m.delivered_at, m.read_at, m.content,
           m.reply_to, m.attachment_id, m.edited_at, m.deleted_at
      FROM input AS i
      CROSS JOIN LATERAL (
        SELECT m.id, m.conversation_id, m.seq, m.created_at, m.delivered_at, m.read_at, m.content,
               m.reply_to, m.attachment_id, m.edited_at, m.deleted_at
          FROM messages AS m
         WHERE m.sender_id = i.s AND m.mark = i.mark AND m.created_at >= i.now - p_window
           AND m.recipient_id = i.r AND m.content = i.content AND m.attachment_id IS NOT DISTINCT FROM i.att
         ORDER BY m.id DESC
         LIMIT 1) AS m
     WHERE i.mark IS NOT NULL AND p_window > 0
  ), verified AS (
    -- LATERAL ... LIMIT 1: one index probe per message (none to speak of for a NULL key);
    -- an EXISTS here may be planned as a hash of the whole messages table.
    SELECT i.*, i.reply IS NULL OR rb.found IS NOT NULL AS reply_ok, i.att IS NULL OR fa.found IS NOT NULL AS att_ok
      FROM input AS i
      LEFT JOIN LATERAL (SELECT true AS found FROM messages AS b
                          WHERE b.id = i.reply AND b.conversation_id = i.conv LIMIT 1) AS rb ON true
      LEFT JOIN LATERAL (SELECT true AS found FROM files AS f
                          WHERE f.id = i.att AND f.owner_id = i.s AND f.complete LIMIT 1) AS fa ON true
     WHERE NOT EXISTS (SELECT 1 FROM stored AS st WHERE st.ord = i.ord)
  ), checked AS (
    -- ok as a boolean column: the planner takes it to keep half the rows, where status = 'ok'
    -- looks like 1 in 200 and makes it join the rows after it by nested loops (quadratic).
    SELECT v.*,
           CASE WHEN v.conv IS NULL THEN 'unknown_user' WHEN NOT v.reply_ok THEN 'invalid_reply'
                WHEN NOT v.att_ok THEN 'invalid_attachment' ELSE 'ok' END AS status,
           v.conv IS NOT NULL AND v.reply_ok AND v.att_ok AS ok
      FROM verified AS v
  ), fresh AS (
    SELECT k.*,
           CASE WHEN k.mark IS NULL OR p_window <= 0 THEN k.ord
                ELSE min(k.ord) OVER (PARTITION BY k.s, k.r, k.mark, k.content, k.att) END AS first_ord
      FROM checked AS k
     WHERE k.ok
  ), counts AS (
    SELECT f.conv, count(*) AS n, max(f.now) AS latest
      FROM fresh AS f WHERE f.first_ord = f.ord GROUP BY f.conv ORDER BY f.conv
  ), advanced AS (
    UPDATE conversations AS c
       SET last_seq = c.last_seq + x.n, updated_at = GREATEST(c.updated_at, x.latest)
      FROM counts AS x
     WHERE c.id = x.conv
    RETURNING c.id, c.last_seq - x.n AS base
  ), numbered AS (
    -- Each conversation's row from advanced (its base) sorted before its new messages: a
    -- message's seq is base + its rank. One sort, no join: the planner cannot see how many
    -- rows fresh keeps, and joined the two by nested loops (quadratic in the batch).
    SELECT u.*,
           max(u.base) OVER (PARTITION BY u.conv) + row_number() OVER (PARTITION BY u.conv ORDER BY u.ord NULLS FIRST)
             - 1 AS seq
      FROM (SELECT f.ord, f.s, f.r, f.content, f.mark, f.now, f.reply, f.att, f.conv, NULL::bigint AS base
              FROM fresh AS f WHERE f.first_ord = f.ord
            UNION ALL
            SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, a.id, a.base FROM advanced AS a) AS u
  ), ided AS (
    SELECT nextval('messages_id_seq') AS id, n.*
      FROM (SELECT * FROM numbered WHERE ord IS NOT NULL ORDER BY ord OFFSET 0) AS n
  ), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, mark, created_at, reply_to,
                          attachment_id)
    SELECT d.id, d.conv, d.seq, d.s, d.r, d.content, d.mark, d.now, d.reply, d.att FROM ided AS d
  ), staged AS (
    INSERT INTO chatrix_staged_events (tag, sub, owner, kind, conversation_id, ids, at)
    SELECT p_tag_base + d.ord::int - 1, o.sub, o.owner, 0, d.conv, ARRAY[d.id], d.now
      FROM ided AS d CROSS JOIN LATERAL (VALUES (d.s, 0), (d.r, 1)) AS o(owner, sub)
     WHERE o.sub = 0 OR d.r <> d.s
  )
  SELECT i.ord,
         COALESCE(CASE WHEN st.ord IS NOT NULL THEN 'ok' END, k.status, 'unknown_user'),
         st.ord IS NOT NULL OR (f.ord IS NOT NULL AND f.first_ord <> f.ord),
         COALESCE(st.id, d.id), COALESCE(st.conversation_id, d.conv), COALESCE(st.seq, d.seq),
         COALESCE(st.created_at, d.now), st.delivered_at, st.read_at, st.content,
         COALESCE(st.reply_to, d.reply), fl.id, fl.name, fl.type, fl.size, st.edited_at, st.deleted_at
    FROM input AS i
    LEFT JOIN stored AS st ON st.ord = i.ord
    LEFT JOIN checked AS k ON k.ord = i.ord
    LEFT JOIN fresh AS f ON f.ord = i.ord
    LEFT JOIN ided AS d ON d.ord = f.first_ord
    -- LATERAL ... LIMIT 1: an index probe per attached file, never a scan of files.
    LEFT JOIN LATERAL (SELECT f.id, f.name, f.type, f.size FROM files AS f
                        WHERE f.id = COALESCE(st.attachment_id, d.att) LIMIT 1) AS fl ON true
   ORDER BY i.ord;
END
$fn$;

-- chatrix_mark_delivered_batch as in migration 4, plus one `received` event per call, sender
-- and conversation in the sender's stream (tag p_tag_base + the call's index).
CREATE FUNCTION chatrix_mark_delivered_batch(p_jobs INT[], p_recipients BIGINT[], p_ids BIGINT[], p_ats BIGINT[],
                                             p_tag_base INT)
RETURNS TABLE (r_job INT, r_id BIGINT, r_sender BIGINT, r_recipient BIGINT)
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $fn$
BEGIN
  RETURN QUERY
  WITH wanted AS (
    SELECT w.job, w.recipient, w.id, w.at, w.ord
      FROM unnest(p_jobs, p_recipients, p_ids, p_ats) WITH ORDINALITY AS w(job, recipient, id, at, ord)
  ), claimed AS (
    SELECT DISTINCT ON (w.id) w.job, w.id, w.at, w.ord
      FROM wanted AS w
      JOIN messages AS m ON m.id = w.id AND m.recipient_id = w.recipient AND m.delivered_at IS NULL
     ORDER BY w.id, w.ord
  ), changed AS (
    UPDATE messages AS m SET delivered_at = c.at
      FROM claimed AS c
     WHERE m.id = c.id AND m.delivered_at IS NULL
    RETURNING c.job, m.id, m.sender_id, m.recipient_id, m.conversation_id, c.at, c.ord
  ), staged AS (
    INSERT INTO chatrix_staged_events (tag, sub, owner, kind, conversation_id, ids, at)
    SELECT p_tag_base + ch.job, row_number() OVER (PARTITION BY ch.job ORDER BY min(ch.ord)), ch.sender_id, 1,
           ch.conversation_id, array_agg(ch.id ORDER BY ch.ord), max(ch.at)
      FROM changed AS ch
     GROUP BY ch.job, ch.sender_id, ch.conversation_id
  )
  SELECT ch.job, ch.id, ch.sender_id, ch.recipient_id FROM changed AS ch ORDER BY ch.ord;
END
$fn$;

-- chatrix_read_messages as in migration 3, plus, with tag p_tag: per sender and
-- conversation a `received` event (the messages this read delivered) and a `read` event in
-- the sender's stream, and per conversation a `read_self` event in the reader's.
CREATE FUNCTION chatrix_read_messages(p_reader BIGINT, p_ids BIGINT[], p_at BIGINT, p_tag INT)
RETURNS TABLE (r_status TEXT, r_id BIGINT, r_sender BIGINT, r_recipient BIGINT, r_delivered BOOLEAN)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_delivered BIGINT[];
BEGIN
  IF EXISTS (SELECT 1
               FROM unnest(p_ids) AS w(id)
               LEFT JOIN messages AS m ON m.id = w.id
              WHERE m.id IS NULL OR m.recipient_id <> p_reader) THEN
    r_status := 'forbidden';
    RETURN NEXT;
    RETURN;
  END IF;
  WITH delivered AS (
    UPDATE messages AS m
       SET delivered_at = p_at
     WHERE m.id = ANY (p_ids) AND m.read_at IS NULL AND m.delivered_at IS NULL
    RETURNING m.id
  )
  SELECT coalesce(array_agg(delivered.id), '{}') INTO v_delivered FROM delivered;
  RETURN QUERY
    WITH wanted AS (
      SELECT w.id, min(w.ord) AS ord
        FROM unnest(p_ids) WITH ORDINALITY AS w(id, ord)
       GROUP BY w.id
    ), changed AS (
      UPDATE messages AS m
         SET read_at = p_at, delivered_at = COALESCE(m.delivered_at, p_at)
        FROM wanted
       WHERE m.id = wanted.id AND m.read_at IS NULL
      RETURNING m.id, m.sender_id, m.recipient_id, m.conversation_id, wanted.ord
    ), staged AS (
      INSERT INTO chatrix_staged_events (tag, sub, owner, kind, conversation_id, ids, at)
      SELECT p_tag, row_number() OVER (ORDER BY e.kind, e.first), e.owner, e.kind, e.conv, e.ids, p_at FROM (
        SELECT ch.sender_id AS owner, 1::smallint AS kind, ch.conversation_id AS conv,
               array_agg(ch.id ORDER BY ch.ord) AS ids, min(ch.ord) AS first
          FROM changed AS ch WHERE ch.id = ANY (v_delivered) GROUP BY ch.sender_id, ch.conversation_id
        UNION ALL
        SELECT ch.sender_id, 2::smallint, ch.conversation_id, array_agg(ch.id ORDER BY ch.ord), min(ch.ord)
          FROM changed AS ch GROUP BY ch.sender_id, ch.conversation_id
        UNION ALL
        SELECT p_reader, 3::smallint, ch.conversation_id, array_agg(ch.id ORDER BY ch.ord), min(ch.ord)
          FROM changed AS ch GROUP BY ch.conversation_id
      ) AS e
    )
    SELECT 'ok'::text, changed.id, changed.sender_id, changed.recipient_id, changed.id = ANY (v_delivered)
      FROM changed
     ORDER BY changed.ord;
END
$fn$;

-- The sender replaces a message's content (within p_window ms of sending it); an `edited`
-- event for each member of the conversation (tag p_tag). r_status: ok, not_found (no such
-- message, or not one of the editor's conversations), forbidden (not the sender), deleted,
-- window_closed. The message's columns come back as CHATRIX_PG_MESSAGE_COLUMNS.
CREATE FUNCTION chatrix_edit_message(p_editor BIGINT, p_id BIGINT, p_content TEXT, p_now BIGINT, p_window BIGINT,
                                     p_tag INT)
RETURNS TABLE (r_status TEXT, r_id BIGINT, r_conversation BIGINT, r_seq BIGINT, r_sender BIGINT,
               r_recipient BIGINT, r_content TEXT, r_created_at BIGINT, r_delivered_at BIGINT, r_read_at BIGINT,
               r_reply_to BIGINT, r_file TEXT, r_file_name TEXT, r_file_type TEXT, r_file_size BIGINT,
               r_edited_at BIGINT, r_deleted_at BIGINT)
LANGUAGE plpgsql AS $fn$
DECLARE
  v messages%ROWTYPE;
BEGIN
  SELECT * INTO v FROM messages AS m WHERE m.id = p_id FOR UPDATE;
  IF NOT FOUND OR (v.sender_id <> p_editor AND v.recipient_id <> p_editor) THEN
    r_status := 'not_found';
  ELSIF v.sender_id <> p_editor THEN
    r_status := 'forbidden';
  ELSIF v.deleted_at IS NOT NULL THEN
    r_status := 'deleted';
  ELSIF v.created_at + p_window < p_now THEN
    r_status := 'window_closed';
  END IF;
  IF r_status IS NOT NULL THEN
    RETURN NEXT;
    RETURN;
  END IF;
  UPDATE messages AS m SET content = p_content, edited_at = p_now WHERE m.id = p_id;
  INSERT INTO chatrix_staged_events (tag, sub, owner, kind, conversation_id, ids, at)
  SELECT p_tag, 0, o.owner, 4, v.conversation_id, ARRAY[p_id], p_now
    FROM (SELECT DISTINCT u FROM unnest(ARRAY[v.sender_id, v.recipient_id]) AS u) AS o(owner);
  RETURN QUERY
    SELECT 'ok'::text, m.id, m.conversation_id, m.seq, m.sender_id, m.recipient_id, m.content, m.created_at,
           m.delivered_at, m.read_at, m.reply_to, f.id, f.name, f.type, f.size, m.edited_at, m.deleted_at
      FROM messages AS m LEFT JOIN files AS f ON f.id = m.attachment_id
     WHERE m.id = p_id;
END
$fn$;

-- The sender deletes messages for everyone: their content and attachment are cleared (the
-- text is in no other table: events hold ids only). All or nothing: r_status not_found (a
-- message missing, or not in the requester's conversations), forbidden (not the sender),
-- several (more than one conversation). Otherwise one row: the conversation and the ids
-- deleted now (those deleted before are not news), with a `deleted` event for each member
-- when there are any (tag p_tag).
CREATE FUNCTION chatrix_delete_messages(p_requester BIGINT, p_ids BIGINT[], p_now BIGINT, p_tag INT)
RETURNS TABLE (r_status TEXT, r_conversation BIGINT, r_ids BIGINT[])
LANGUAGE plpgsql AS $fn$
DECLARE
  v_conversations BIGINT[];
  v_sender BIGINT;
  v_recipient BIGINT;
BEGIN
  IF EXISTS (SELECT 1 FROM unnest(p_ids) AS w(id) LEFT JOIN messages AS m ON m.id = w.id
              WHERE m.id IS NULL OR (m.sender_id <> p_requester AND m.recipient_id <> p_requester)) THEN
    r_status := 'not_found';
    RETURN NEXT;
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM messages AS m WHERE m.id = ANY (p_ids) AND m.sender_id <> p_requester) THEN
    r_status := 'forbidden';
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT array_agg(DISTINCT m.conversation_id) INTO v_conversations FROM messages AS m WHERE m.id = ANY (p_ids);
  IF cardinality(v_conversations) > 1 THEN
    r_status := 'several';
    RETURN NEXT;
    RETURN;
  END IF;
  r_status := 'ok';
  r_conversation := v_conversations[1];
  WITH wanted AS (
    SELECT w.id, min(w.ord) AS ord FROM unnest(p_ids) WITH ORDINALITY AS w(id, ord) GROUP BY w.id
  ), gone AS (
    UPDATE messages AS m SET content = '', attachment_id = NULL, mark = NULL, deleted_at = p_now
      FROM wanted
     WHERE m.id = wanted.id AND m.deleted_at IS NULL
    RETURNING m.id, m.sender_id, m.recipient_id, wanted.ord
  )
  SELECT coalesce(array_agg(gone.id ORDER BY gone.ord), '{}'), min(gone.sender_id), min(gone.recipient_id)
    INTO r_ids, v_sender, v_recipient FROM gone;
  IF cardinality(r_ids) > 0 THEN
    INSERT INTO chatrix_staged_events (tag, sub, owner, kind, conversation_id, ids, at)
    SELECT p_tag, 0, o.owner, 5, r_conversation, r_ids, p_now
      FROM (SELECT DISTINCT u FROM unnest(ARRAY[v_sender, v_recipient]) AS u) AS o(owner);
  END IF;
  RETURN NEXT;
END
$fn$;
)sql";

/// Every writer connection creates this before preparing its statements (see
/// chatrix_stream_flush): a write's events wait here for their positions until the end of
/// its transaction. Temporary: per session, no WAL; emptied by every COMMIT and ROLLBACK.
inline constexpr const char* create_staged_events_table = R"sql(
CREATE TEMPORARY TABLE IF NOT EXISTS chatrix_staged_events (
  tag             INT      NOT NULL,  -- the job; jobs run in tag order
  sub             INT      NOT NULL,  -- the order of one job's events of one owner
  owner           BIGINT   NOT NULL,
  kind            SMALLINT NOT NULL,
  conversation_id BIGINT   NOT NULL,
  ids             BIGINT[] NOT NULL,
  at              BIGINT   NOT NULL
) ON COMMIT DELETE ROWS
)sql";

/// In order; versions start at 1 and have no gaps.
inline constexpr migration migrations[] = {
    {1, "initial schema", migration_1_initial_schema},
    {2, "write functions", migration_2_write_functions},
    {3, "search any substring, read receipts", migration_3_search_and_read_receipts},
    {4, "batched appends", migration_4_batched_appends},
    {5, "pending messages table", migration_5_pending_table},
    {6, "token revocation", migration_6_token_revocation},
    {7, "event stream, edits, replies, files", migration_7_stream_edits_files},
    {8, "people: profiles, presence, blocks, deleted accounts, push devices", migration_8_people},
};

inline constexpr int latest_schema_version = 8;

}  // namespace chatrix::storage::postgres_detail
