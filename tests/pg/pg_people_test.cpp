// The PostgreSQL store's people methods (migration 8): profiles, last seen, blocks and the
// messages they withhold, account deletion and the username quarantine, push devices, and
// undelivered. Each test checks what the results say and what the reads see afterwards.

#include "store_contract.hpp"

#include "storage/postgres/migrations.hpp"
#include "storage/postgres/postgres_store.hpp"
#include "support/pg_instance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace chatrix::storage::testing {
namespace {

chatrix::testing::pg_instance& server() {
  static chatrix::testing::pg_instance instance;
  return instance;
}

std::string db_name(const std::string& url) { return url.substr(url.rfind('/') + 1); }

postgres_options options() {
  postgres_options opts;
  opts.pool_size = 2;
  opts.writers = 3;
  return opts;
}

template <class T, class Start>
T must(Start&& start) {
  auto r = await<T>(std::forward<Start>(start));
  if (!r) throw std::runtime_error("store call failed: " + r.error().message);
  return std::move(*r);
}

template <class T, class Start>
errc fails_with(Start&& start) {
  auto r = await<T>(std::forward<Start>(start));
  return r ? errc{} : r.error().code;
}

std::vector<message_id> ids_of(const std::vector<message>& ms) {
  std::vector<message_id> out;
  for (const auto& m : ms) out.push_back(m.id);
  return out;
}

class pg_people : public ::testing::Test {
 protected:
  void SetUp() override { s_ = std::make_unique<postgres_store>(url_, options()); }
  void TearDown() override {
    if (s_) s_->shutdown();
  }
  store& db() { return *s_; }
  std::string query(const std::string& sql) { return server().query(db_name(url_), sql); }

  user make_user(const std::string& name, unix_ms reclaim_before = 0) {
    new_user u{name, name + " N", "h", 1};
    u.reclaim_deleted_before = reclaim_before;
    return must<user>([&](auto done) { db().create_user(u, done); });
  }
  result<send_result> try_send(user_id from, user_id to, std::string content, unix_ms now = 1000) {
    send_request req{from, to, std::move(content), std::nullopt, now, 0};
    return await<send_result>([&](auto done) { db().append_message(req, done); });
  }
  send_result send(user_id from, user_id to, std::string content, unix_ms now = 1000) {
    auto r = try_send(from, to, std::move(content), now);
    if (!r) throw std::runtime_error("append failed: " + r.error().message);
    return std::move(*r);
  }
  bool block(user_id blocker, user_id blocked, unix_ms at = 500) {
    return must<bool>([&](auto done) { db().block_user(blocker, blocked, at, done); });
  }
  bool unblock(user_id blocker, user_id blocked) {
    return must<bool>([&](auto done) { db().unblock_user(blocker, blocked, done); });
  }
  std::optional<user> by_id(user_id id) {
    return must<std::optional<user>>([&](auto done) { db().find_user_by_id(id, done); });
  }
  std::vector<chat_preview> previews(user_id viewer) {
    return must<std::vector<chat_preview>>([&](auto done) { db().chat_previews(viewer, 50, done); });
  }
  std::vector<message> pending(user_id viewer) {
    return must<std::vector<message>>([&](auto done) { db().pending_messages(viewer, 0, 100, done); });
  }
  std::vector<message> history(user_id viewer, user_id peer) {
    return must<std::vector<message>>([&](auto done) { db().history(viewer, peer, std::nullopt, 100, done); });
  }
  std::vector<message> conversation(user_id viewer, conversation_id chat) {
    return must<std::vector<message>>(
        [&](auto done) { db().conversation_messages(viewer, chat, std::nullopt, std::nullopt, 100, done); });
  }
  std::vector<message_id> undelivered(std::vector<message_id> ids) {
    return must<std::vector<message_id>>([&](auto done) { db().undelivered(ids, done); });
  }
  std::vector<push_device> devices(user_id id) {
    return must<std::vector<push_device>>([&](auto done) { db().push_devices(id, done); });
  }
  std::optional<conversation_id> between(user_id a, user_id b) {
    return must<std::optional<conversation_id>>([&](auto done) { db().conversation_between(a, b, done); });
  }
  bool add_device(user_id id, std::string platform, std::string token, unix_ms at) {
    return must<bool>([&](auto done) { db().add_push_device(id, push_device{platform, token, at}, done); });
  }

  std::string url_ = server().create_database();
  std::unique_ptr<postgres_store> s_;
};

TEST_F(pg_people, update_profile_changes_the_given_fields_and_every_read_shows_them) {
  const user ann = make_user("ann"), bob = make_user("bob");
  send(ann.id, bob.id, "hi");

  auto changed = must<std::optional<user>>(
      [&](auto done) { db().update_profile(profile_update{ann.id, std::string("Annie"), false}, done); });
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->name, "Annie");
  EXPECT_EQ(changed->username, "ann");
  EXPECT_FALSE(changed->show_presence);

  changed = must<std::optional<user>>(
      [&](auto done) { db().update_profile(profile_update{ann.id, std::nullopt, std::nullopt}, done); });
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->name, "Annie") << "nothing given, nothing changed";
  EXPECT_FALSE(changed->show_presence);

  EXPECT_FALSE(by_id(ann.id)->show_presence);
  EXPECT_EQ(by_id(ann.id)->name, "Annie");
  const auto creds = must<std::optional<user_credentials>>([&](auto done) { db().find_user_by_name("ANN", done); });
  ASSERT_TRUE(creds);
  EXPECT_FALSE(creds->account.show_presence);
  EXPECT_EQ(creds->password_hash, "h");
  const auto rows = previews(bob.id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].peer.name, "Annie");
  EXPECT_FALSE(rows[0].peer.show_presence);
  const auto found = must<std::vector<user>>([&](auto done) { db().search_users("annie", 10, done); });
  ASSERT_EQ(found.size(), 1u) << "the new name is searchable";
  EXPECT_EQ(found[0].id, ann.id);

  EXPECT_FALSE(must<std::optional<user>>(
      [&](auto done) { db().update_profile(profile_update{999, std::string("x"), std::nullopt}, done); }));
  EXPECT_EQ(fails_with<std::optional<user>>([&](auto done) {
              db().update_profile(profile_update{ann.id, std::string("a\0b", 3), std::nullopt}, done);
            }),
            errc::invalid_field);
}

TEST_F(pg_people, last_seen_only_moves_forward) {
  std::vector<user> users;
  for (int i = 0; i < 6; ++i) users.push_back(make_user("user" + std::to_string(i)));
  EXPECT_FALSE(by_id(users[0].id)->last_seen);

  std::vector<std::pair<user_id, unix_ms>> seen;
  for (std::size_t i = 0; i < users.size(); ++i) seen.emplace_back(users[i].id, 1000 + static_cast<unix_ms>(i));
  seen.emplace_back(users[0].id, 5000);  // the same user twice in one call: the later wins
  seen.emplace_back(users[0].id, 3000);
  EXPECT_TRUE(must<bool>([&](auto done) { db().set_last_seen(seen, done); }));
  EXPECT_EQ(by_id(users[0].id)->last_seen, 5000);
  for (std::size_t i = 1; i < users.size(); ++i)
    EXPECT_EQ(by_id(users[i].id)->last_seen, 1000 + static_cast<unix_ms>(i));

  EXPECT_TRUE(must<bool>([&](auto done) { db().set_last_seen({{users[0].id, 4000}, {users[1].id, 9000}}, done); }));
  EXPECT_EQ(by_id(users[0].id)->last_seen, 5000) << "an older report changes nothing";
  EXPECT_EQ(by_id(users[1].id)->last_seen, 9000);
  EXPECT_TRUE(must<bool>([&](auto done) { db().set_last_seen({}, done); }));

  send(users[2].id, users[1].id, "hi");
  const auto rows = previews(users[2].id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].peer.last_seen, 9000) << "previews' peers carry last_seen";
  EXPECT_TRUE(rows[0].peer.show_presence);
}

TEST_F(pg_people, blocks_are_listed_both_ways_and_bounded) {
  const user ann = make_user("ann"), bob = make_user("bob"), cat = make_user("cat");
  EXPECT_TRUE(block(ann.id, bob.id, 100));
  EXPECT_FALSE(block(ann.id, bob.id, 150)) << "blocking again changes nothing";
  EXPECT_TRUE(block(ann.id, cat.id, 200));
  EXPECT_TRUE(block(cat.id, ann.id, 300));
  EXPECT_EQ(fails_with<bool>([&](auto done) { db().block_user(ann.id, ann.id, 1, done); }), errc::invalid_field);
  EXPECT_EQ(fails_with<bool>([&](auto done) { db().block_user(ann.id, 4242, 1, done); }), errc::not_found);

  const auto listed = must<std::vector<block_entry>>([&](auto done) { db().blocked_users(ann.id, done); });
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].blocked.id, cat.id) << "most recently blocked first";
  EXPECT_EQ(listed[0].blocked.username, "cat");
  EXPECT_EQ(listed[0].created_at, 200);
  EXPECT_EQ(listed[1].blocked.id, bob.id);
  EXPECT_EQ(listed[1].created_at, 100);

  const auto ann_rel = must<block_relations>([&](auto done) { db().block_relations_of(ann.id, done); });
  EXPECT_EQ(ann_rel.blocked, (std::vector<user_id>{bob.id, cat.id}));
  EXPECT_EQ(ann_rel.blocked_by, (std::vector<user_id>{cat.id}));
  const auto bob_rel = must<block_relations>([&](auto done) { db().block_relations_of(bob.id, done); });
  EXPECT_TRUE(bob_rel.blocked.empty());
  EXPECT_EQ(bob_rel.blocked_by, (std::vector<user_id>{ann.id}));

  EXPECT_TRUE(unblock(ann.id, cat.id));
  EXPECT_FALSE(unblock(ann.id, cat.id));
  EXPECT_FALSE(unblock(bob.id, ann.id)) << "bob never blocked ann";
  const auto after = must<block_relations>([&](auto done) { db().block_relations_of(ann.id, done); });
  EXPECT_EQ(after.blocked, (std::vector<user_id>{bob.id}));
  EXPECT_EQ(after.blocked_by, (std::vector<user_id>{cat.id})) << "cat's block of ann stays";
  EXPECT_TRUE(unblock(cat.id, ann.id));
  EXPECT_EQ(query("SELECT count(*) FROM blocks"), "1") << "a pair with no block left is forgotten";

  // The quota: bob fills it (rows made directly: a thousand users would only slow the test).
  query("INSERT INTO blocks (user_lo, user_hi, lo_blocked_at) SELECT " + std::to_string(bob.id) +
        ", 100000 + g, g FROM generate_series(1, " + std::to_string(query_limits::max_blocks) + ") AS g");
  EXPECT_EQ(fails_with<bool>([&](auto done) { db().block_user(bob.id, cat.id, 1, done); }), errc::quota_exceeded);
  EXPECT_EQ(fails_with<bool>([&](auto done) { db().block_user(bob.id, 100001, 1, done); }), errc::not_found)
      << "no such user";
}

TEST_F(pg_people, the_blocker_cannot_send_and_the_blocked_sender_is_withheld_for_ever) {
  const user ann = make_user("ann"), bob = make_user("bob");
  const send_result before = send(bob.id, ann.id, "before the block", 1000);
  ASSERT_TRUE(block(ann.id, bob.id, 1500));

  // The blocker sending to the blocked: refused, nothing stored.
  const auto refused = try_send(ann.id, bob.id, "hey", 1600);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::blocked);

  // The blocked sending to the blocker: stored for the sender only.
  const send_result withheld = send(bob.id, ann.id, "after the block", 2000);
  EXPECT_TRUE(withheld.withheld);
  EXPECT_FALSE(withheld.duplicate);
  EXPECT_EQ(withheld.stored.seq, 2);
  ASSERT_EQ(withheld.stream.size(), 1u) << "only the sender's stream";
  EXPECT_EQ(withheld.stream[0].owner, bob.id);
  EXPECT_FALSE(before.withheld);

  // A retry of it is still withheld.
  send_request retry{bob.id, ann.id, "marked", "m1", 2100, 60'000};
  const auto first = must<send_result>([&](auto done) { db().append_message(retry, done); });
  const auto again = must<send_result>([&](auto done) { db().append_message(retry, done); });
  EXPECT_TRUE(first.withheld);
  EXPECT_TRUE(again.duplicate);
  EXPECT_TRUE(again.withheld);

  EXPECT_TRUE(unblock(ann.id, bob.id));
  const send_result after = send(bob.id, ann.id, "after the unblock", 3000);
  EXPECT_FALSE(after.withheld);
  const std::vector<message_id> hidden{withheld.stored.id, first.stored.id};

  // The recipient sees none of the withheld, anywhere, even after the unblock.
  EXPECT_EQ(ids_of(pending(ann.id)), (std::vector<message_id>{before.stored.id, after.stored.id}));
  EXPECT_EQ(ids_of(history(ann.id, bob.id)), (std::vector<message_id>{after.stored.id, before.stored.id}));
  EXPECT_EQ(ids_of(conversation(ann.id, before.stored.conversation)),
            (std::vector<message_id>{after.stored.id, before.stored.id}));
  const auto ann_rows = previews(ann.id);
  ASSERT_EQ(ann_rows.size(), 1u);
  EXPECT_EQ(ann_rows[0].unread, 2);
  ASSERT_TRUE(ann_rows[0].last);
  EXPECT_EQ(ann_rows[0].last->id, after.stored.id);
  const auto page = must<stream_page>([&](auto done) { db().stream_events(ann.id, 0, 100, done); });
  for (const auto& e : page.events)
    for (const message_id id : hidden)
      EXPECT_EQ(std::count(e.entry.ids.begin(), e.entry.ids.end(), id), 0) << "no event names a withheld message";
  const auto session = must<session_snapshot>([&](auto done) { db().session_start(ann.id, 50, 100, done); });
  EXPECT_EQ(ids_of(session.pending), (std::vector<message_id>{before.stored.id, after.stored.id}));
  ASSERT_EQ(session.previews.size(), 1u);
  EXPECT_EQ(session.previews[0].unread, 2);

  // Receipts and reads by the recipient change nothing; a push is never due.
  const auto delivered = must<delivered_result>([&](auto done) { db().mark_delivered(ann.id, hidden, 4000, done); });
  EXPECT_TRUE(delivered.delivered.empty());
  EXPECT_TRUE(delivered.stream.empty());
  EXPECT_EQ(fails_with<read_result>([&](auto done) { db().mark_read(ann.id, hidden, 4000, done); }), errc::forbidden);
  EXPECT_EQ(undelivered({withheld.stored.id, after.stored.id, first.stored.id}),
            (std::vector<message_id>{after.stored.id}));
  // Nor can the recipient edit or delete them: to them they do not exist.
  EXPECT_EQ(fails_with<delete_result>(
                [&](auto done) { db().delete_messages(delete_request{ann.id, {withheld.stored.id}, 4100}, done); }),
            errc::not_found);

  // The sender sees all of them, undelivered for ever.
  const auto bob_history = history(bob.id, ann.id);
  EXPECT_EQ(bob_history.size(), 4u);
  const auto stored = std::find_if(bob_history.begin(), bob_history.end(),
                                   [&](const message& m) { return m.id == withheld.stored.id; });
  ASSERT_NE(stored, bob_history.end());
  EXPECT_EQ(stored->content, "after the block");
  EXPECT_FALSE(stored->delivered_at);
  const auto bob_rows = previews(bob.id);
  ASSERT_EQ(bob_rows.size(), 1u);
  EXPECT_EQ(bob_rows[0].last->id, after.stored.id);

  // The sender's edits and deletes of a withheld message reach the sender's stream only.
  const auto edited = must<edit_result>(
      [&](auto done) { db().edit_message(edit_request{bob.id, withheld.stored.id, "edited", 4200, 600'000}, done); });
  ASSERT_EQ(edited.stream.size(), 1u);
  EXPECT_EQ(edited.stream[0].owner, bob.id);
  const auto deleted = must<delete_result>([&](auto done) {
    db().delete_messages(delete_request{bob.id, {withheld.stored.id, after.stored.id}, 4300}, done);
  });
  ASSERT_EQ(deleted.stream.size(), 2u);
  for (const auto& e : deleted.stream) {
    const std::vector<message_id> expected = e.owner == bob.id
                                                 ? std::vector<message_id>{withheld.stored.id, after.stored.id}
                                                 : std::vector<message_id>{after.stored.id};
    EXPECT_EQ(e.ids, expected) << "the recipient hears of what they saw";
  }
}

TEST_F(pg_people, a_conversation_of_withheld_messages_only_is_not_in_the_recipients_previews) {
  const user ann = make_user("ann"), bob = make_user("bob"), cat = make_user("cat");
  send(cat.id, ann.id, "hello", 1000);
  ASSERT_TRUE(block(ann.id, bob.id));
  const send_result withheld = send(bob.id, ann.id, "let me in", 2000);
  ASSERT_TRUE(withheld.withheld);

  const auto ann_rows = previews(ann.id);
  ASSERT_EQ(ann_rows.size(), 1u);
  EXPECT_EQ(ann_rows[0].peer.id, cat.id);
  const auto bob_rows = previews(bob.id);
  ASSERT_EQ(bob_rows.size(), 1u) << "the sender sees the conversation";
  EXPECT_EQ(bob_rows[0].last->id, withheld.stored.id);
  EXPECT_EQ(must<std::vector<chat_preview>>(
                [&](auto done) { db().chat_previews_page(ann.id, preview_cursor{1'000'000, 1'000'000}, 10, done); })
                .size(),
            1u);

  // Once ann writes to bob (after unblocking), she sees it, still without the withheld one.
  ASSERT_TRUE(unblock(ann.id, bob.id));
  const send_result reply = send(ann.id, bob.id, "ok", 3000);
  const auto rows = previews(ann.id);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].peer.id, bob.id);
  EXPECT_EQ(rows[0].last->id, reply.stored.id);
  EXPECT_EQ(rows[0].unread, 0);
}

TEST_F(pg_people, session_snapshots_carry_the_block_relations) {
  const user ann = make_user("ann"), bob = make_user("bob"), cat = make_user("cat");
  ASSERT_TRUE(block(ann.id, bob.id));
  ASSERT_TRUE(block(cat.id, ann.id));
  const auto start = must<session_snapshot>([&](auto done) { db().session_start(ann.id, 10, 10, done); });
  EXPECT_EQ(start.blocks.blocked, (std::vector<user_id>{bob.id}));
  EXPECT_EQ(start.blocks.blocked_by, (std::vector<user_id>{cat.id}));
  const auto resume = must<session_snapshot>([&](auto done) { db().session_resume(ann.id, 10, 0, 10, 10, done); });
  EXPECT_EQ(resume.blocks.blocked, (std::vector<user_id>{bob.id}));
  EXPECT_EQ(resume.blocks.blocked_by, (std::vector<user_id>{cat.id}));
  const auto bob_start = must<session_snapshot>([&](auto done) { db().session_start(bob.id, 10, 10, done); });
  EXPECT_TRUE(bob_start.blocks.blocked.empty());
  EXPECT_EQ(bob_start.blocks.blocked_by, (std::vector<user_id>{ann.id}));
}

TEST_F(pg_people, conversation_between_names_the_pairs_conversation) {
  const user ann = make_user("ann"), bob = make_user("bob"), cat = make_user("cat");
  const send_result sent = send(bob.id, ann.id, "hi");
  EXPECT_EQ(between(ann.id, bob.id), sent.stored.conversation);
  EXPECT_EQ(between(bob.id, ann.id), sent.stored.conversation);
  EXPECT_FALSE(between(ann.id, cat.id));
  // A refused first message creates no conversation.
  ASSERT_TRUE(block(cat.id, ann.id));
  EXPECT_EQ(try_send(cat.id, ann.id, "x").error().code, errc::blocked);
  EXPECT_FALSE(between(ann.id, cat.id));
}

TEST_F(pg_people, deleting_an_account_erases_what_it_sent_and_keeps_its_partners_messages) {
  const user ann = make_user("ann"), bob = make_user("bob"), cat = make_user("cat");
  const stored_file file{{"f1", "a.txt", "text/plain", 0}, ann.id, 10};
  ASSERT_TRUE(must<bool>([&](auto done) { db().create_file(file, done); }));
  ASSERT_TRUE(must<bool>([&](auto done) { db().append_file_chunk("f1", 0, "abc", done); }));
  ASSERT_TRUE(must<bool>([&](auto done) { db().finish_file("f1", 3, 1, done); }));
  send_request with_file{ann.id, bob.id, "see file", std::nullopt, 1000, 0};
  with_file.attachment = "f1";
  const auto file_message = must<send_result>([&](auto done) { db().append_message(with_file, done); });
  const send_result from_bob = send(bob.id, ann.id, "bob's own", 1100);
  const send_result to_cat = send(ann.id, cat.id, "hi cat", 1200);
  ASSERT_TRUE(block(ann.id, cat.id));
  ASSERT_TRUE(block(bob.id, ann.id));
  ASSERT_TRUE(add_device(ann.id, "fcm", "t1", 10));
  must<bool>([&](auto done) { db().set_last_seen({{ann.id, 5000}}, done); });

  const auto gone = must<account_deletion>([&](auto done) { db().delete_account(ann.id, 9000, done); });
  EXPECT_EQ(gone.partners, (std::vector<user_id>{bob.id, cat.id}));
  EXPECT_EQ(gone.messages_erased, 2);
  EXPECT_EQ(gone.files_erased, 1);
  EXPECT_EQ(fails_with<account_deletion>([&](auto done) { db().delete_account(ann.id, 9100, done); }), errc::not_found);
  EXPECT_EQ(fails_with<account_deletion>([&](auto done) { db().delete_account(4242, 9100, done); }), errc::not_found);

  // The tombstone: found by id only, without name, presence or last seen.
  const auto tomb = by_id(ann.id);
  ASSERT_TRUE(tomb);
  EXPECT_TRUE(tomb->deleted);
  EXPECT_EQ(tomb->username, "");
  EXPECT_EQ(tomb->name, "");
  EXPECT_FALSE(tomb->last_seen);
  EXPECT_FALSE(must<std::optional<user_credentials>>([&](auto done) { db().find_user_by_name("ann", done); }));
  EXPECT_TRUE(must<std::vector<user>>([&](auto done) { db().search_users("ann", 10, done); }).empty());

  // Bob's conversation keeps its order: ann's message reads as deleted, bob's stays.
  const auto bob_history = history(bob.id, ann.id);
  ASSERT_EQ(bob_history.size(), 2u);
  EXPECT_EQ(bob_history[0].id, from_bob.stored.id);
  EXPECT_EQ(bob_history[0].content, "bob's own");
  EXPECT_FALSE(bob_history[0].deleted_at);
  EXPECT_EQ(bob_history[1].id, file_message.stored.id);
  EXPECT_EQ(bob_history[1].seq, 1);
  EXPECT_EQ(bob_history[1].content, "");
  EXPECT_EQ(bob_history[1].deleted_at, 9000);
  EXPECT_FALSE(bob_history[1].attachment);
  const auto bob_rows = previews(bob.id);
  ASSERT_EQ(bob_rows.size(), 1u);
  EXPECT_TRUE(bob_rows[0].peer.deleted);
  EXPECT_EQ(bob_rows[0].peer.username, "");
  EXPECT_EQ(ids_of(pending(cat.id)), (std::vector<message_id>{to_cat.stored.id}));
  EXPECT_EQ(pending(cat.id)[0].content, "") << "the pending message reads as deleted too";

  // Files, blocks, devices and stream are gone; nobody can write to the account.
  EXPECT_FALSE(must<std::optional<stored_file>>([&](auto done) { db().file_for(ann.id, "f1", done); }));
  EXPECT_EQ(query("SELECT count(*) FROM file_chunks"), "0");
  EXPECT_TRUE(must<block_relations>([&](auto done) { db().block_relations_of(bob.id, done); }).blocked.empty());
  EXPECT_TRUE(must<block_relations>([&](auto done) { db().block_relations_of(cat.id, done); }).blocked_by.empty());
  EXPECT_TRUE(devices(ann.id).empty());
  EXPECT_EQ(query("SELECT count(*) FROM stream_events WHERE user_id = " + std::to_string(ann.id)), "0");
  EXPECT_EQ(try_send(bob.id, ann.id, "still there?").error().code, errc::unknown_recipient);
  EXPECT_TRUE(undelivered({from_bob.stored.id}).empty()) << "no push for a deleted account";
  EXPECT_FALSE(must<std::optional<user>>(
      [&](auto done) { db().update_profile(profile_update{ann.id, std::string("x"), std::nullopt}, done); }));
}

TEST_F(pg_people, a_deleted_accounts_username_is_reserved_until_its_quarantine_ends) {
  const user ann = make_user("Ann");
  must<account_deletion>([&](auto done) { db().delete_account(ann.id, 9000, done); });

  const auto register_as = [&](const std::string& name, unix_ms reclaim_before) {
    new_user u{name, name, "h", 10'000};
    u.reclaim_deleted_before = reclaim_before;
    return await<user>([&](auto done) { db().create_user(u, done); });
  };
  EXPECT_EQ(register_as("ann", 0).error().code, errc::username_taken);
  EXPECT_EQ(register_as("ANN", 9000).error().code, errc::username_taken) << "deleted at the cutoff: still held";
  const auto fresh = register_as("aNN", 9001);
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh->id, ann.id);
  EXPECT_EQ(must<std::optional<user_credentials>>([&](auto done) { db().find_user_by_name("ann", done); })->account.id,
            fresh->id);
  EXPECT_TRUE(by_id(ann.id)->deleted) << "the tombstone stays";
  EXPECT_EQ(register_as("ann", 99'999).error().code, errc::username_taken) << "held by a live account now";
  const auto found = must<std::vector<user>>([&](auto done) { db().search_users("ann", 10, done); });
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, fresh->id);
}

TEST_F(pg_people, push_devices_move_between_users_and_are_capped) {
  const user ann = make_user("ann"), bob = make_user("bob");
  EXPECT_TRUE(add_device(ann.id, "fcm", "tok", 100));
  EXPECT_FALSE(add_device(ann.id, "fcm", "tok", 200)) << "known";
  EXPECT_TRUE(add_device(ann.id, "apns", "tok", 150)) << "another platform, another device";
  auto listed = devices(ann.id);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].platform, "fcm") << "oldest first";
  EXPECT_EQ(listed[0].created_at, 100);
  EXPECT_EQ(listed[1].platform, "apns");

  EXPECT_TRUE(add_device(bob.id, "fcm", "tok", 300)) << "the device changed hands";
  EXPECT_EQ(devices(ann.id).size(), 1u);
  ASSERT_EQ(devices(bob.id).size(), 1u);
  EXPECT_EQ(devices(bob.id)[0].created_at, 300);

  EXPECT_FALSE(must<bool>([&](auto done) { db().remove_push_device(ann.id, "fcm", "tok", done); })) << "bob's now";
  EXPECT_TRUE(must<bool>([&](auto done) { db().remove_push_device(bob.id, "fcm", "tok", done); }));
  EXPECT_TRUE(devices(bob.id).empty());

  for (int i = 0; i < query_limits::max_push_devices + 2; ++i)
    EXPECT_TRUE(add_device(bob.id, "webpush", "t" + std::to_string(i), 1000 + i));
  listed = devices(bob.id);
  ASSERT_EQ(listed.size(), static_cast<std::size_t>(query_limits::max_push_devices));
  EXPECT_EQ(listed.front().token, "t2") << "the oldest went";
  EXPECT_EQ(listed.back().token, "t" + std::to_string(query_limits::max_push_devices + 1));
  const push_device with_nul{"fcm", std::string("a\0", 2), 1};
  EXPECT_EQ(fails_with<bool>([&](auto done) { db().add_push_device(bob.id, with_nul, done); }), errc::invalid_field);
}

TEST_F(pg_people, undelivered_keeps_what_no_device_received_in_the_order_given) {
  const user ann = make_user("ann"), bob = make_user("bob");
  const send_result a = send(ann.id, bob.id, "a", 1000), b = send(ann.id, bob.id, "b", 1001),
                    c = send(ann.id, bob.id, "c", 1002), d = send(ann.id, bob.id, "d", 1003);
  EXPECT_EQ(undelivered({d.stored.id, a.stored.id, b.stored.id, 4242}),
            (std::vector<message_id>{d.stored.id, a.stored.id, b.stored.id}));
  must<delivered_result>([&](auto done) { db().mark_delivered(bob.id, {a.stored.id}, 2000, done); });
  must<read_result>([&](auto done) { db().mark_read(bob.id, {b.stored.id}, 2000, done); });
  must<delete_result>([&](auto done) { db().delete_messages(delete_request{ann.id, {c.stored.id}, 2000}, done); });
  EXPECT_EQ(undelivered({a.stored.id, b.stored.id, c.stored.id, d.stored.id}), (std::vector<message_id>{d.stored.id}));
  EXPECT_TRUE(undelivered({}).empty());
}

// The block is decided inside each append's transaction: with appends in flight on one node
// and the block written by another at the same time, the messages withheld are exactly a
// tail of the conversation (those stored after the block's commit; where it falls depends
// on the timing), and the recipient sees exactly the others.
TEST_F(pg_people, a_block_during_a_stream_of_appends_withholds_exactly_the_later_ones) {
  const user ann = make_user("ann"), bob = make_user("bob");
  postgres_store other_node(url_, options());
  constexpr int count = 150;
  completion_log<send_result> log;
  completion_log<bool> blocked;
  for (int i = 0; i < count; ++i) {
    db().append_message(send_request{bob.id, ann.id, "m" + std::to_string(i), std::nullopt, 1000 + i, 0}, log.make(i));
    if (i == count / 2) other_node.block_user(ann.id, bob.id, 1100, blocked.make(0));
  }
  ASSERT_TRUE(log.wait_for(count));
  ASSERT_TRUE(blocked.wait_for(1));
  ASSERT_TRUE(blocked.entries()[0].outcome.has_value());
  std::vector<std::pair<std::int64_t, send_result>> by_seq;
  for (auto& e : log.entries()) {
    ASSERT_TRUE(e.outcome.has_value()) << e.outcome.error().message;
    by_seq.emplace_back(e.outcome->stored.seq, std::move(*e.outcome));
  }
  std::sort(by_seq.begin(), by_seq.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<message_id> shown;
  bool withholding = false;
  for (const auto& [seq, r] : by_seq) {
    EXPECT_FALSE(withholding && !r.withheld) << "seq " << seq << " shown after a withheld one";
    withholding = withholding || r.withheld;
    if (!r.withheld) shown.push_back(r.stored.id);
  }
  EXPECT_TRUE(send(bob.id, ann.id, "after", 5000).withheld);

  EXPECT_EQ(ids_of(must<std::vector<message>>([&](auto done) { db().pending_messages(ann.id, 0, 200, done); })),
            shown);
  auto seen = ids_of(must<std::vector<message>>(
      [&](auto done) { other_node.history(ann.id, bob.id, std::nullopt, 200, done); }));
  std::reverse(seen.begin(), seen.end());
  EXPECT_EQ(seen, shown);
  other_node.shutdown();
}

// A database of the previous release (schema 7) with data: migration 8 keeps every user and
// message as it was, and the previous release's statements and functions keep working, as a
// rolling upgrade needs.
TEST(pg_people_migration, migration_8_keeps_existing_data_and_the_previous_releases_calls) {
  const std::string url = server().create_database();
  const std::string name = db_name(url);
  server().query(name, postgres_detail::create_schema_version_table);
  for (int i = 0; i < 7; ++i) {
    const auto& m = postgres_detail::migrations[i];
    ASSERT_EQ(m.version, i + 1);
    server().query(name, m.sql);
    server().query(name, "INSERT INTO schema_version VALUES (" + std::to_string(m.version) + ", 'old', 0)");
  }
  // The previous release's registration and append, as its writer sends them.
  const std::string old_insert_user =
      "INSERT INTO users (username, username_folded, name, password_hash, created_at) VALUES ($$%$$, $$%$$, "
      "$$%$$, 'h', 1) ON CONFLICT (username_folded) DO NOTHING RETURNING id";
  const auto register_old = [&](const std::string& username) {
    std::string sql = old_insert_user;
    for (std::size_t at; (at = sql.find('%')) != std::string::npos;) sql.replace(at, 1, username);
    return std::stoll(server().query(name, sql));
  };
  const auto append_old = [&](user_id from, user_id to, const std::string& content) {
    return server().query(name, std::string(postgres_detail::create_staged_events_table) +
                                    "; SELECT r_status || ':' || r_id FROM chatrix_append_batch('{" +
                                    std::to_string(from) + "}', '{" + std::to_string(to) + "}', '{" + content +
                                    "}', '{NULL}', '{50}', 0, '{NULL}', '{NULL}', 0)");
  };
  const user_id ann = register_old("ann"), ben = register_old("ben");
  ASSERT_EQ(append_old(ann, ben, "before").substr(0, 3), "ok:");

  postgres_store s(url, options());
  EXPECT_EQ(server().query(name, "SELECT max(version) FROM schema_version"), "8");
  const auto found = must<std::optional<user>>([&](auto done) { s.find_user_by_id(ann, done); });
  ASSERT_TRUE(found);
  EXPECT_EQ(found->username, "ann");
  EXPECT_TRUE(found->show_presence);
  EXPECT_FALSE(found->deleted);
  EXPECT_FALSE(found->last_seen);
  const auto rows = must<std::vector<chat_preview>>([&](auto done) { s.chat_previews(ben, 10, done); });
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_TRUE(rows[0].last);
  EXPECT_EQ(rows[0].last->content, "before");
  EXPECT_EQ(rows[0].unread, 1);

  // A node of the previous release, still running: its calls work against the new schema.
  const user_id cat = register_old("cat");
  const std::string appended = append_old(cat, ben, "from an old node");
  ASSERT_EQ(appended.substr(0, 3), "ok:");
  const auto pending = must<std::vector<message>>([&](auto done) { s.pending_messages(ben, 0, 10, done); });
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[1].id, std::stoll(appended.substr(3)));
  const auto cat_found = must<std::optional<user_credentials>>([&](auto done) { s.find_user_by_name("cat", done); });
  ASSERT_TRUE(cat_found);
  EXPECT_TRUE(cat_found->account.show_presence);
  s.shutdown();
}

}  // namespace
}  // namespace chatrix::storage::testing
