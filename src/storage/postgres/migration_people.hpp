// Migration 8 of the PostgreSQL store: profiles, presence, blocks, deleted accounts and push
// tokens (docs/storage.md, "People"). In a header of its own: it replaces several functions
// of migrations 3 and 7 whole, which would double the length of migrations.hpp.
#pragma once

namespace chatrix::storage::postgres_detail {

inline constexpr const char* migration_8_people = R"sql(
-- Columns with a constant default or none: adding them rewrites no table.
-- show_presence: PATCH /v1/me. last_seen: unix ms, the latest any node reported.
-- deleted_at: unix ms of DELETE /v1/me. The row stays as a tombstone (the conversations and
-- messages that name it need it) with empty username, name and password hash; its
-- username_folded keeps the folded username, so the UNIQUE index itself reserves it during
-- the quarantine, until chatrix_create_user renames it to '#deleted-<id>' ('#' is never in a
-- username) for someone registering it after USERNAME_QUARANTINE.
ALTER TABLE users
  ADD COLUMN show_presence BOOLEAN NOT NULL DEFAULT true,
  ADD COLUMN last_seen     BIGINT  NULL,
  ADD COLUMN deleted_at    BIGINT  NULL;

-- member_deleted: a member's account is deleted, so appends to it fail (unknown_recipient)
-- with no lookup of users: the append reads this row for every message anyway.
-- hidden_from: the member who has not been shown any message of it (every message so far was
-- withheld from them: it was started by someone they blocked), whose previews leave it out.
ALTER TABLE conversations
  ADD COLUMN member_deleted BOOLEAN NOT NULL DEFAULT false,
  ADD COLUMN hidden_from    BIGINT  NULL;

-- withheld: the recipient had blocked the sender when it was stored; shown to its sender only,
-- for ever (unblocking changes nothing). Never pending (chatrix_queue_pending skips it).
ALTER TABLE messages ADD COLUMN withheld BOOLEAN NOT NULL DEFAULT false;

-- One row per pair that has a block either way, keyed like conversations, so that an append
-- learns both directions with one probe of the primary key: lo_blocked_at is when user_lo
-- blocked user_hi (NULL: not blocked), hi_blocked_at the reverse. A row with neither is
-- deleted. blocks_by_hi serves the listings from the user_hi side.
CREATE TABLE blocks (
  user_lo       BIGINT NOT NULL,
  user_hi       BIGINT NOT NULL,
  lo_blocked_at BIGINT NULL,  -- unix ms
  hi_blocked_at BIGINT NULL,
  PRIMARY KEY (user_lo, user_hi),
  CHECK (user_lo < user_hi)
);
CREATE INDEX blocks_by_hi ON blocks (user_hi);

-- A (platform, token) belongs to one user at a time: registering it again moves it. seq
-- orders registrations of the same millisecond.
CREATE TABLE push_devices (
  platform   TEXT      NOT NULL,
  token      TEXT      NOT NULL,
  user_id    BIGINT    NOT NULL,
  created_at BIGINT    NOT NULL,  -- unix ms
  seq        BIGSERIAL NOT NULL,
  PRIMARY KEY (platform, token)
);
CREATE INDEX push_devices_by_user ON push_devices (user_id, created_at, seq);

-- delete_account: the user's files.
CREATE INDEX files_by_owner ON files (owner_id);

-- Search never finds a deleted account: a tombstone keeps no suffixes (the trigger fires on
-- the deletion's UPDATE of name, and on the reclaim's of username_folded).
CREATE OR REPLACE FUNCTION chatrix_sync_user_suffixes() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM user_suffixes WHERE user_id = OLD.id;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
    INSERT INTO user_suffixes (suffix, user_id)
      SELECT DISTINCT substr(f.v, i), NEW.id
        FROM (VALUES (NEW.username_folded), (NEW.name_folded)) AS f(v),
             generate_series(1, char_length(f.v)) AS i;
  END IF;
  RETURN NULL;
END
$fn$;

-- chatrix_search as in migration 3, skipping tombstones in tiers 1 and 3 (they keep their
-- folded username during the quarantine); tiers 2, 4 and 5 cannot meet one (its name is
-- empty, it has no suffixes).
CREATE OR REPLACE FUNCTION chatrix_search(p_folded TEXT, p_limit BIGINT)
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
    FOR v_id IN SELECT u.id FROM users AS u WHERE u.username_folded = p_folded AND u.deleted_at IS NULL LOOP
      v_ids := v_ids || v_id;
    END LOOP;
    EXIT tiers WHEN cardinality(v_ids) >= p_limit;
    FOR v_id IN SELECT u.id FROM users AS u WHERE u.name_folded = p_folded ORDER BY u.id LIMIT p_limit LOOP
      CONTINUE WHEN v_id = ANY (v_ids);
      v_ids := v_ids || v_id;
      EXIT tiers WHEN cardinality(v_ids) >= p_limit;
    END LOOP;
    FOR v_key, v_id IN SELECT u.username_folded, u.id FROM users AS u
                        WHERE u.username_folded ~>=~ p_folded AND u.deleted_at IS NULL
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

-- Registration: first gives up a username held by an account deleted before
-- p_reclaim_before (its quarantine is over), then inserts as insert_user did. NULL: taken.
CREATE FUNCTION chatrix_create_user(p_username TEXT, p_folded TEXT, p_name TEXT, p_hash TEXT, p_created_at BIGINT,
                                    p_reclaim_before BIGINT)
RETURNS BIGINT
LANGUAGE plpgsql AS $fn$
DECLARE
  v_id BIGINT;
BEGIN
  UPDATE users AS u SET username_folded = '#deleted-' || u.id
   WHERE u.username_folded = p_folded AND u.deleted_at < p_reclaim_before;
  INSERT INTO users (username, username_folded, name, password_hash, created_at)
  VALUES (p_username, p_folded, p_name, p_hash, p_created_at)
  ON CONFLICT (username_folded) DO NOTHING
  RETURNING id INTO v_id;
  RETURN v_id;
END
$fn$;

-- Withheld messages never wait for a receipt.
CREATE OR REPLACE FUNCTION chatrix_queue_pending() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO pending_messages (recipient_id, message_id)
  SELECT n.recipient_id, n.id FROM stored AS n WHERE n.delivered_at IS NULL AND NOT n.withheld;
  RETURN NULL;
END
$fn$;

-- chatrix_append_batch of migration 7 plus blocks and deleted accounts, under a new name
-- (its result gains r_withheld; the old one stays for nodes of the previous release during a
-- rolling upgrade, which know no blocks). Per message, one probe of blocks' primary key
-- tells both directions: the sender blocked the recipient -> r_status 'blocked' (nothing
-- stored); the recipient blocked the sender -> stored withheld: no event in the recipient's
-- stream, no pending row, and the conversation moves in nobody's previews (updated_at is
-- the time of the latest message both may see; a conversation made of withheld messages only
-- is hidden_from its recipient). A conversation with a deleted member -> 'unknown_user'
-- (member_deleted, read with the conversation's id: no extra lookup). A new pair is created
-- only when neither account is deleted and the sender has not blocked the recipient.
CREATE FUNCTION chatrix_append_messages(p_senders BIGINT[], p_recipients BIGINT[], p_contents TEXT[], p_marks TEXT[],
                                        p_nows BIGINT[], p_window BIGINT, p_replies BIGINT[], p_attachments TEXT[],
                                        p_tag_base INT)
RETURNS TABLE (r_ord BIGINT, r_status TEXT, r_duplicate BOOLEAN, r_id BIGINT, r_conversation BIGINT, r_seq BIGINT,
               r_created_at BIGINT, r_delivered_at BIGINT, r_read_at BIGINT, r_content TEXT, r_reply_to BIGINT,
               r_file TEXT, r_file_name TEXT, r_file_type TEXT, r_file_size BIGINT, r_edited_at BIGINT,
               r_deleted_at BIGINT, r_withheld BOOLEAN)
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $fn$
BEGIN
  INSERT INTO conversations (user_lo, user_hi, last_seq, updated_at)
  SELECT DISTINCT LEAST(i.s, i.r), GREATEST(i.s, i.r), 0, 0
    FROM unnest(p_senders, p_recipients) AS i(s, r)
   WHERE NOT EXISTS (SELECT 1 FROM conversations AS c
                      WHERE c.user_lo = LEAST(i.s, i.r) AND c.user_hi = GREATEST(i.s, i.r))
     AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = i.s AND u.deleted_at IS NULL)
     AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = i.r AND u.deleted_at IS NULL)
     AND NOT EXISTS (SELECT 1 FROM blocks AS b
                      WHERE b.user_lo = LEAST(i.s, i.r) AND b.user_hi = GREATEST(i.s, i.r)
                        AND CASE WHEN i.s < i.r THEN b.lo_blocked_at ELSE b.hi_blocked_at END IS NOT NULL)
  ON CONFLICT ON CONSTRAINT conversations_pair DO NOTHING;

  RETURN QUERY
  WITH input AS (
    -- LATERAL ... LIMIT 1: one index probe per message into each table.
    SELECT i.ord, i.s, i.r, i.content, i.mark, i.now, i.reply, i.att, cv.id AS conv,
           COALESCE(cv.member_deleted, false) AS gone,
           COALESCE(bl.sender_blocks, false) AS blocking, COALESCE(bl.recipient_blocks, false) AS withheld
      FROM unnest(p_senders, p_recipients, p_contents, p_marks, p_nows, p_replies, p_attachments)
           WITH ORDINALITY AS i(s, r, content, mark, now, reply, att, ord)
      LEFT JOIN LATERAL (SELECT c.id, c.member_deleted FROM conversations AS c
                          WHERE c.user_lo = LEAST(i.s, i.r) AND c.user_hi = GREATEST(i.s, i.r) LIMIT 1) AS cv ON true
      LEFT JOIN LATERAL (SELECT CASE WHEN i.s < i.r THEN b.lo_blocked_at ELSE b.hi_blocked_at END IS NOT NULL
                                  AS sender_blocks,
                                CASE WHEN i.s < i.r THEN b.hi_blocked_at ELSE b.lo_blocked_at END IS NOT NULL
                                  AS recipient_blocks
                           FROM blocks AS b
                          WHERE b.user_lo = LEAST(i.s, i.r) AND b.user_hi = GREATEST(i.s, i.r) LIMIT 1) AS bl ON true
  ), stored AS (
    SELECT i.ord, m.id, m.conversation_id, m.seq, m.created_at, m.delivered_at, m.read_at, m.content,
           m.reply_to, m.attachment_id, m.edited_at, m.deleted_at, m.withheld
      FROM input AS i
      CROSS JOIN LATERAL (
        SELECT m.id, m.conversation_id, m.seq, m.created_at, m.delivered_at, m.read_at, m.content,
               m.reply_to, m.attachment_id, m.edited_at, m.deleted_at, m.withheld
          FROM messages AS m
         WHERE m.sender_id = i.s AND m.mark = i.mark AND m.created_at >= i.now - p_window
           AND m.recipient_id = i.r AND m.content = i.content AND m.attachment_id IS NOT DISTINCT FROM i.att
         ORDER BY m.id DESC
         LIMIT 1) AS m
     WHERE i.mark IS NOT NULL AND p_window > 0
  ), verified AS (
    SELECT i.*, i.reply IS NULL OR rb.found IS NOT NULL AS reply_ok, i.att IS NULL OR fa.found IS NOT NULL AS att_ok
      FROM input AS i
      LEFT JOIN LATERAL (SELECT true AS found FROM messages AS b
                          WHERE b.id = i.reply AND b.conversation_id = i.conv LIMIT 1) AS rb ON true
      LEFT JOIN LATERAL (SELECT true AS found FROM files AS f
                          WHERE f.id = i.att AND f.owner_id = i.s AND f.complete LIMIT 1) AS fa ON true
     WHERE NOT EXISTS (SELECT 1 FROM stored AS st WHERE st.ord = i.ord)
  ), checked AS (
    SELECT v.*,
           CASE WHEN v.blocking THEN 'blocked' WHEN v.conv IS NULL OR v.gone THEN 'unknown_user'
                WHEN NOT v.reply_ok THEN 'invalid_reply' WHEN NOT v.att_ok THEN 'invalid_attachment' ELSE 'ok' END
             AS status,
           NOT v.blocking AND v.conv IS NOT NULL AND NOT v.gone AND v.reply_ok AND v.att_ok AS ok
      FROM verified AS v
  ), fresh AS (
    SELECT k.*,
           CASE WHEN k.mark IS NULL OR p_window <= 0 THEN k.ord
                ELSE min(k.ord) OVER (PARTITION BY k.s, k.r, k.mark, k.content, k.att) END AS first_ord
      FROM checked AS k
     WHERE k.ok
  ), counts AS (
    SELECT f.conv, count(*) AS n, max(f.now) AS latest, max(f.now) FILTER (WHERE NOT f.withheld) AS shown,
           max(f.r) FILTER (WHERE f.withheld) AS withheld_from
      FROM fresh AS f WHERE f.first_ord = f.ord GROUP BY f.conv ORDER BY f.conv
  ), advanced AS (
    UPDATE conversations AS c
       SET last_seq = c.last_seq + x.n,
           updated_at = CASE WHEN x.shown IS NOT NULL THEN GREATEST(c.updated_at, x.shown)
                             WHEN c.last_seq = 0 THEN x.latest ELSE c.updated_at END,
           hidden_from = CASE WHEN x.shown IS NOT NULL THEN NULL
                              WHEN c.last_seq = 0 OR c.hidden_from = x.withheld_from THEN x.withheld_from END
      FROM counts AS x
     WHERE c.id = x.conv
    RETURNING c.id, c.last_seq - x.n AS base
  ), numbered AS (
    SELECT u.*,
           max(u.base) OVER (PARTITION BY u.conv) + row_number() OVER (PARTITION BY u.conv ORDER BY u.ord NULLS FIRST)
             - 1 AS seq
      FROM (SELECT f.ord, f.s, f.r, f.content, f.mark, f.now, f.reply, f.att, f.withheld, f.conv, NULL::bigint AS base
              FROM fresh AS f WHERE f.first_ord = f.ord
            UNION ALL
            SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, a.id, a.base FROM advanced AS a) AS u
  ), ided AS (
    SELECT nextval('messages_id_seq') AS id, n.*
      FROM (SELECT * FROM numbered WHERE ord IS NOT NULL ORDER BY ord OFFSET 0) AS n
  ), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, mark, created_at, reply_to,
                          attachment_id, withheld)
    SELECT d.id, d.conv, d.seq, d.s, d.r, d.content, d.mark, d.now, d.reply, d.att, d.withheld FROM ided AS d
  ), staged AS (
    INSERT INTO chatrix_staged_events (tag, sub, owner, kind, conversation_id, ids, at)
    SELECT p_tag_base + d.ord::int - 1, o.sub, o.owner, 0, d.conv, ARRAY[d.id], d.now
      FROM ided AS d CROSS JOIN LATERAL (VALUES (d.s, 0), (d.r, 1)) AS o(owner, sub)
     WHERE o.sub = 0 OR (d.r <> d.s AND NOT d.withheld)
  )
  SELECT i.ord,
         COALESCE(CASE WHEN st.ord IS NOT NULL THEN 'ok' END, k.status, 'unknown_user'),
         st.ord IS NOT NULL OR (f.ord IS NOT NULL AND f.first_ord <> f.ord),
         COALESCE(st.id, d.id), COALESCE(st.conversation_id, d.conv), COALESCE(st.seq, d.seq),
         COALESCE(st.created_at, d.now), st.delivered_at, st.read_at, st.content,
         COALESCE(st.reply_to, d.reply), fl.id, fl.name, fl.type, fl.size, st.edited_at, st.deleted_at,
         COALESCE(st.withheld, d.withheld, false)
    FROM input AS i
    LEFT JOIN stored AS st ON st.ord = i.ord
    LEFT JOIN checked AS k ON k.ord = i.ord
    LEFT JOIN fresh AS f ON f.ord = i.ord
    LEFT JOIN ided AS d ON d.ord = f.first_ord
    LEFT JOIN LATERAL (SELECT f.id, f.name, f.type, f.size FROM files AS f
                        WHERE f.id = COALESCE(st.attachment_id, d.att) LIMIT 1) AS fl ON true
   ORDER BY i.ord;
END
$fn$;

-- Receipts as in migration 7, never of a withheld message.
CREATE OR REPLACE FUNCTION chatrix_mark_delivered_batch(p_jobs INT[], p_recipients BIGINT[], p_ids BIGINT[],
                                                        p_ats BIGINT[], p_tag_base INT)
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
                        AND NOT m.withheld
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

-- Reads as in migration 7; a withheld message is no message to its recipient ('forbidden',
-- as for a message that does not exist).
CREATE OR REPLACE FUNCTION chatrix_read_messages(p_reader BIGINT, p_ids BIGINT[], p_at BIGINT, p_tag INT)
RETURNS TABLE (r_status TEXT, r_id BIGINT, r_sender BIGINT, r_recipient BIGINT, r_delivered BOOLEAN)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_delivered BIGINT[];
BEGIN
  IF EXISTS (SELECT 1
               FROM unnest(p_ids) AS w(id)
               LEFT JOIN messages AS m ON m.id = w.id
              WHERE m.id IS NULL OR m.recipient_id <> p_reader OR m.withheld) THEN
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

-- Edits as in migration 7: a withheld message is no message to its recipient (not_found),
-- and its edits reach its sender's stream only.
CREATE OR REPLACE FUNCTION chatrix_edit_message(p_editor BIGINT, p_id BIGINT, p_content TEXT, p_now BIGINT,
                                                p_window BIGINT, p_tag INT)
RETURNS TABLE (r_status TEXT, r_id BIGINT, r_conversation BIGINT, r_seq BIGINT, r_sender BIGINT,
               r_recipient BIGINT, r_content TEXT, r_created_at BIGINT, r_delivered_at BIGINT, r_read_at BIGINT,
               r_reply_to BIGINT, r_file TEXT, r_file_name TEXT, r_file_type TEXT, r_file_size BIGINT,
               r_edited_at BIGINT, r_deleted_at BIGINT)
LANGUAGE plpgsql AS $fn$
DECLARE
  v messages%ROWTYPE;
BEGIN
  SELECT * INTO v FROM messages AS m WHERE m.id = p_id FOR UPDATE;
  IF NOT FOUND OR (v.sender_id <> p_editor AND (v.recipient_id <> p_editor OR v.withheld)) THEN
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
    FROM (SELECT DISTINCT u FROM unnest(CASE WHEN v.withheld THEN ARRAY[v.sender_id]
                                             ELSE ARRAY[v.sender_id, v.recipient_id] END) AS u) AS o(owner);
  RETURN QUERY
    SELECT 'ok'::text, m.id, m.conversation_id, m.seq, m.sender_id, m.recipient_id, m.content, m.created_at,
           m.delivered_at, m.read_at, m.reply_to, f.id, f.name, f.type, f.size, m.edited_at, m.deleted_at
      FROM messages AS m LEFT JOIN files AS f ON f.id = m.attachment_id
     WHERE m.id = p_id;
END
$fn$;

-- Deletes as in migration 7: withheld messages are not_found for their recipient, and the
-- recipient's `deleted` event names only the messages they were shown (none: no event).
CREATE OR REPLACE FUNCTION chatrix_delete_messages(p_requester BIGINT, p_ids BIGINT[], p_now BIGINT, p_tag INT)
RETURNS TABLE (r_status TEXT, r_conversation BIGINT, r_ids BIGINT[])
LANGUAGE plpgsql AS $fn$
DECLARE
  v_conversations BIGINT[];
  v_shown BIGINT[];
  v_sender BIGINT;
  v_recipient BIGINT;
BEGIN
  IF EXISTS (SELECT 1 FROM unnest(p_ids) AS w(id) LEFT JOIN messages AS m ON m.id = w.id
              WHERE m.id IS NULL
                 OR (m.sender_id <> p_requester AND (m.recipient_id <> p_requester OR m.withheld))) THEN
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
    RETURNING m.id, m.sender_id, m.recipient_id, m.withheld, wanted.ord
  )
  SELECT coalesce(array_agg(gone.id ORDER BY gone.ord), '{}'),
         coalesce(array_agg(gone.id ORDER BY gone.ord) FILTER (WHERE NOT gone.withheld), '{}'),
         min(gone.sender_id), min(gone.recipient_id)
    INTO r_ids, v_shown, v_sender, v_recipient FROM gone;
  IF cardinality(r_ids) > 0 THEN
    INSERT INTO chatrix_staged_events (tag, sub, owner, kind, conversation_id, ids, at)
    SELECT p_tag, 0, v_sender, 5, r_conversation, r_ids, p_now
    UNION ALL
    SELECT p_tag, 0, v_recipient, 5, r_conversation, v_shown, p_now
     WHERE v_recipient <> v_sender AND cardinality(v_shown) > 0;
  END IF;
  RETURN NEXT;
END
$fn$;

-- store::block_user. r_status: new, already, quota (p_max blocks already), unknown (no such
-- user, or deleted), self.
CREATE FUNCTION chatrix_block_user(p_blocker BIGINT, p_blocked BIGINT, p_at BIGINT, p_max BIGINT)
RETURNS TEXT
LANGUAGE plpgsql AS $fn$
DECLARE
  v_lo BIGINT := LEAST(p_blocker, p_blocked);
  v_hi BIGINT := GREATEST(p_blocker, p_blocked);
BEGIN
  IF p_blocker = p_blocked THEN
    RETURN 'self';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = p_blocked AND u.deleted_at IS NULL) THEN
    RETURN 'unknown';
  END IF;
  IF EXISTS (SELECT 1 FROM blocks AS b WHERE b.user_lo = v_lo AND b.user_hi = v_hi
                AND CASE WHEN p_blocker = v_lo THEN b.lo_blocked_at ELSE b.hi_blocked_at END IS NOT NULL) THEN
    RETURN 'already';
  END IF;
  IF (SELECT count(*) FROM (
        SELECT 1 FROM blocks AS b WHERE b.user_lo = p_blocker AND b.lo_blocked_at IS NOT NULL
        UNION ALL
        SELECT 1 FROM blocks AS b WHERE b.user_hi = p_blocker AND b.hi_blocked_at IS NOT NULL) AS mine) >= p_max THEN
    RETURN 'quota';
  END IF;
  INSERT INTO blocks AS b (user_lo, user_hi, lo_blocked_at, hi_blocked_at)
  VALUES (v_lo, v_hi, CASE WHEN p_blocker = v_lo THEN p_at END, CASE WHEN p_blocker = v_hi THEN p_at END)
  ON CONFLICT (user_lo, user_hi) DO UPDATE
    SET lo_blocked_at = COALESCE(b.lo_blocked_at, EXCLUDED.lo_blocked_at),
        hi_blocked_at = COALESCE(b.hi_blocked_at, EXCLUDED.hi_blocked_at);
  RETURN 'new';
END
$fn$;

-- store::unblock_user: true when there was such a block; a pair left with no block goes.
CREATE FUNCTION chatrix_unblock_user(p_blocker BIGINT, p_blocked BIGINT)
RETURNS BOOLEAN
LANGUAGE plpgsql AS $fn$
DECLARE
  v_lo BIGINT := LEAST(p_blocker, p_blocked);
  v_hi BIGINT := GREATEST(p_blocker, p_blocked);
BEGIN
  UPDATE blocks AS b
     SET lo_blocked_at = CASE WHEN p_blocker = v_lo THEN NULL ELSE b.lo_blocked_at END,
         hi_blocked_at = CASE WHEN p_blocker = v_hi THEN NULL ELSE b.hi_blocked_at END
   WHERE b.user_lo = v_lo AND b.user_hi = v_hi AND p_blocker <> p_blocked
     AND CASE WHEN p_blocker = v_lo THEN b.lo_blocked_at ELSE b.hi_blocked_at END IS NOT NULL;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  DELETE FROM blocks AS b
   WHERE b.user_lo = v_lo AND b.user_hi = v_hi AND b.lo_blocked_at IS NULL AND b.hi_blocked_at IS NULL;
  RETURN true;
END
$fn$;

-- store::add_push_device: true when the token is new to p_user (new, or moved from another
-- user); then the user's oldest beyond p_max go.
CREATE FUNCTION chatrix_add_push_device(p_user BIGINT, p_platform TEXT, p_token TEXT, p_at BIGINT, p_max BIGINT)
RETURNS BOOLEAN
LANGUAGE plpgsql AS $fn$
DECLARE
  v_new BOOLEAN;
BEGIN
  INSERT INTO push_devices AS d (platform, token, user_id, created_at)
  VALUES (p_platform, p_token, p_user, p_at)
  ON CONFLICT (platform, token) DO UPDATE
    SET user_id = EXCLUDED.user_id, created_at = EXCLUDED.created_at, seq = nextval('push_devices_seq_seq')
    WHERE d.user_id <> EXCLUDED.user_id;
  v_new := FOUND;
  DELETE FROM push_devices AS d
   USING (SELECT x.platform, x.token FROM push_devices AS x WHERE x.user_id = p_user
           ORDER BY x.created_at DESC, x.seq DESC OFFSET p_max) AS old
   WHERE d.platform = old.platform AND d.token = old.token;
  RETURN v_new;
END
$fn$;

-- store::delete_account, one transaction (see store.hpp). Locks the user's conversations
-- first (marking them member_deleted): an append in flight to one of them commits before,
-- and its message is erased below; later ones fail. Rows are locked in id order (conversations,
-- then messages), as appends and receipts tend to, so that a deletion racing them rarely
-- waits in a cycle. Stream heads stay (their locks are taken last, in id order, by
-- chatrix_stream_flush only); the events go. r_status: ok, not_found.
CREATE FUNCTION chatrix_delete_account(p_user BIGINT, p_now BIGINT)
RETURNS TABLE (r_status TEXT, r_partners BIGINT[], r_messages BIGINT, r_files BIGINT)
LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE users AS u
     SET deleted_at = p_now, username = '', name = '', password_hash = '', show_presence = false, last_seen = NULL
   WHERE u.id = p_user AND u.deleted_at IS NULL;
  IF NOT FOUND THEN
    r_status := 'not_found';
    RETURN NEXT;
    RETURN;
  END IF;
  r_status := 'ok';
  WITH mine AS (
    SELECT c.id FROM conversations AS c WHERE c.user_lo = p_user OR c.user_hi = p_user ORDER BY c.id FOR UPDATE
  ), closed AS (
    UPDATE conversations AS c SET member_deleted = true
      FROM mine
     WHERE c.id = mine.id
    RETURNING c.id, CASE WHEN c.user_lo = p_user THEN c.user_hi ELSE c.user_lo END AS peer
  )
  SELECT coalesce(array_agg(DISTINCT closed.peer ORDER BY closed.peer) FILTER (WHERE closed.peer <> p_user), '{}')
    INTO r_partners FROM closed;
  WITH said AS (
    SELECT m.id FROM messages AS m
     WHERE m.conversation_id IN (SELECT c.id FROM conversations AS c WHERE c.user_lo = p_user OR c.user_hi = p_user)
       AND m.sender_id = p_user AND m.deleted_at IS NULL
     ORDER BY m.id FOR UPDATE
  ), erased AS (
    UPDATE messages AS m SET content = '', attachment_id = NULL, mark = NULL, deleted_at = p_now
      FROM said
     WHERE m.id = said.id
    RETURNING 1
  )
  SELECT count(*) INTO r_messages FROM erased;
  WITH gone AS (
    DELETE FROM files AS f WHERE f.owner_id = p_user RETURNING f.id
  ), chunks AS (
    DELETE FROM file_chunks AS fc WHERE fc.file_id IN (SELECT gone.id FROM gone)
  )
  SELECT count(*) INTO r_files FROM gone;
  DELETE FROM pending_messages AS p WHERE p.recipient_id = p_user;
  DELETE FROM stream_events AS e WHERE e.user_id = p_user;
  DELETE FROM blocks AS b WHERE b.user_lo = p_user OR b.user_hi = p_user;
  DELETE FROM push_devices AS d WHERE d.user_id = p_user;
  RETURN NEXT;
END
$fn$;
)sql";

}  // namespace chatrix::storage::postgres_detail
