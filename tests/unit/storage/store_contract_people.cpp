// The storage contract, people part (store.hpp, "people", and the rules on users and
// append_message they bring): profiles and last seen, blocks and withheld messages, deleted
// accounts and the username quarantine, push tokens and what a push is due for. Compiled into
// each backend's binary next to store_contract.cpp.

#include "store_contract.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace chatrix::storage::testing {
namespace {

errc code_of(const auto& r) { return r.has_value() ? errc{} : r.error().code; }

std::vector<message_id> ids_of(const std::vector<message>& messages) {
  std::vector<message_id> out;
  for (const auto& m : messages) out.push_back(m.id);
  return out;
}

std::vector<user_id> sorted(std::vector<user_id> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

/// Shorthands of the people tests.
class people_calls {
 public:
  explicit people_calls(store& s) : s_(s) {}

  std::optional<user> by_id(user_id id) {
    return await<std::optional<user>>([&](auto done) { s_.find_user_by_id(id, done); }).value();
  }
  std::optional<user_credentials> by_name(const std::string& name) {
    return await<std::optional<user_credentials>>([&](auto done) { s_.find_user_by_name(name, done); }).value();
  }
  std::optional<user> update(profile_update u) {
    return await<std::optional<user>>([&](auto done) { s_.update_profile(u, done); }).value();
  }
  void seen(std::vector<std::pair<user_id, unix_ms>> at) {
    ASSERT_TRUE(await<bool>([&](auto done) { s_.set_last_seen(at, done); }).value());
  }
  result<bool> block(user_id blocker, user_id blocked, unix_ms at) {
    return await<bool>([&](auto done) { s_.block_user(blocker, blocked, at, done); });
  }
  bool unblock(user_id blocker, user_id blocked) {
    return await<bool>([&](auto done) { s_.unblock_user(blocker, blocked, done); }).value();
  }
  std::vector<block_entry> blocked_by(user_id blocker) {
    return await<std::vector<block_entry>>([&](auto done) { s_.blocked_users(blocker, done); }).value();
  }
  block_relations relations(user_id id) {
    return await<block_relations>([&](auto done) { s_.block_relations_of(id, done); }).value();
  }
  std::optional<conversation_id> between(user_id a, user_id b) {
    return await<std::optional<conversation_id>>([&](auto done) { s_.conversation_between(a, b, done); }).value();
  }
  result<account_deletion> remove_account(user_id id, unix_ms now) {
    return await<account_deletion>([&](auto done) { s_.delete_account(id, now, done); });
  }
  bool add_device(user_id id, const std::string& platform, const std::string& token, unix_ms at) {
    return await<bool>([&](auto done) { s_.add_push_device(id, push_device{platform, token, at}, done); }).value();
  }
  bool remove_device(user_id id, const std::string& platform, const std::string& token) {
    return await<bool>([&](auto done) { s_.remove_push_device(id, platform, token, done); }).value();
  }
  std::vector<std::string> devices(user_id id) {
    std::vector<std::string> out;
    for (const auto& d : await<std::vector<push_device>>([&](auto done) { s_.push_devices(id, done); }).value())
      out.push_back(std::string(d.platform).append(":").append(d.token));
    return out;
  }
  std::vector<message_id> undelivered(std::vector<message_id> ids) {
    return await<std::vector<message_id>>([&](auto done) { s_.undelivered(ids, done); }).value();
  }
  result<send_result> send(send_request req) {
    return await<send_result>([&](auto done) { s_.append_message(req, done); });
  }
  std::vector<chat_preview> previews(user_id viewer) {
    return await<std::vector<chat_preview>>([&](auto done) { s_.chat_previews(viewer, 50, done); }).value();
  }
  std::vector<message> conversation(user_id viewer, conversation_id chat, std::optional<message_id> after = {}) {
    return await<std::vector<message>>([&](auto done) {
             s_.conversation_messages(viewer, chat, std::nullopt, after, 50, done);
           })
        .value();
  }
  stream_page events(user_id viewer, stream_pos since = 0) {
    return await<stream_page>([&](auto done) { s_.stream_events(viewer, since, 100, done); }).value();
  }
  delivered_result deliver(user_id recipient, std::vector<message_id> ids, unix_ms at) {
    return await<delivered_result>([&](auto done) { s_.mark_delivered(recipient, ids, at, done); }).value();
  }
  result<read_result> read(user_id reader, std::vector<message_id> ids, unix_ms at) {
    return await<read_result>([&](auto done) { s_.mark_read(reader, ids, at, done); });
  }
  session_snapshot start(user_id viewer) {
    return await<session_snapshot>([&](auto done) { s_.session_start(viewer, 50, 50, done); }).value();
  }
  session_snapshot resume(user_id viewer, stream_pos since) {
    return await<session_snapshot>([&](auto done) { s_.session_resume(viewer, 50, since, 50, 50, done); }).value();
  }
  /// A complete one-chunk file of `owner`.
  void upload(const std::string& id, user_id owner, unix_ms at) {
    stored_file f;
    f.info = file_info{id, "a.txt", "text/plain", 0};
    f.owner = owner;
    f.created_at = at;
    ASSERT_TRUE(await<bool>([&](auto done) { s_.create_file(f, done); }).value());
    ASSERT_TRUE(await<bool>([&](auto done) { s_.append_file_chunk(id, 0, "hello", done); }).value());
    ASSERT_TRUE(await<bool>([&](auto done) { s_.finish_file(id, 5, 1, done); }).value());
  }
  std::optional<stored_file> file_for(user_id viewer, const std::string& id) {
    return await<std::optional<stored_file>>([&](auto done) { s_.file_for(viewer, id, done); }).value();
  }

 private:
  store& s_;
};

// ---- profiles and last seen ----

TEST_P(store_contract, people_user_reads_carry_show_presence_and_last_seen) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  const auto fresh = p.by_id(ann.id);
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(fresh->show_presence);
  EXPECT_FALSE(fresh->last_seen);
  EXPECT_FALSE(fresh->deleted);

  p.seen({{ann.id, 5'000}});
  ASSERT_TRUE(p.update(profile_update{ann.id, std::nullopt, false}));
  const auto by_id = p.by_id(ann.id);
  ASSERT_TRUE(by_id);
  EXPECT_FALSE(by_id->show_presence);
  EXPECT_EQ(by_id->last_seen, std::optional<unix_ms>(5'000));
  const auto by_name = p.by_name("ANN");
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->account.id, ann.id);
  EXPECT_FALSE(by_name->account.show_presence);
  EXPECT_EQ(by_name->account.last_seen, std::optional<unix_ms>(5'000));
  EXPECT_FALSE(by_name->account.deleted);

  send(bob.id, ann.id, "hi");
  const auto previews = p.previews(bob.id);
  ASSERT_EQ(previews.size(), 1u);
  EXPECT_EQ(previews[0].peer.id, ann.id);
  EXPECT_FALSE(previews[0].peer.show_presence);
  EXPECT_EQ(previews[0].peer.last_seen, std::optional<unix_ms>(5'000));
  EXPECT_FALSE(previews[0].peer.deleted);
  const auto theirs = p.previews(ann.id);
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_TRUE(theirs[0].peer.show_presence);
  EXPECT_FALSE(theirs[0].peer.last_seen);
}

TEST_P(store_contract, people_update_profile_changes_only_the_given_fields) {
  people_calls p(db());
  const user ann = add_user("ann", "Ann");
  const user bob = add_user("bob");
  send(bob.id, ann.id, "hi");

  const auto renamed = p.update(profile_update{ann.id, std::string("Annie Hall"), std::nullopt});
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->id, ann.id);
  EXPECT_EQ(renamed->username, "ann");
  EXPECT_EQ(renamed->name, "Annie Hall");
  EXPECT_TRUE(renamed->show_presence);

  const auto hidden = p.update(profile_update{ann.id, std::nullopt, false});
  ASSERT_TRUE(hidden);
  EXPECT_EQ(hidden->name, "Annie Hall");
  EXPECT_FALSE(hidden->show_presence);

  // The new name reaches partners' previews and search.
  const auto previews = p.previews(bob.id);
  ASSERT_EQ(previews.size(), 1u);
  EXPECT_EQ(previews[0].peer.name, "Annie Hall");
  const auto found = search("hall");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, ann.id);
  EXPECT_TRUE(search("Ann").size() == 1u);

  // Both at once, and back.
  const auto both = p.update(profile_update{ann.id, std::string("Ann"), true});
  ASSERT_TRUE(both);
  EXPECT_EQ(both->name, "Ann");
  EXPECT_TRUE(both->show_presence);
  EXPECT_TRUE(search("hall").empty());

  EXPECT_FALSE(p.update(profile_update{9999, std::string("Nobody"), std::nullopt}));
}

TEST_P(store_contract, people_set_last_seen_keeps_the_later_time_for_many_users_at_once) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  p.seen({{ann.id, 2'000}, {bob.id, 7'000}});
  p.seen({{ann.id, 1'000}, {bob.id, 8'000}});
  EXPECT_EQ(p.by_id(ann.id)->last_seen, std::optional<unix_ms>(2'000));
  EXPECT_EQ(p.by_id(bob.id)->last_seen, std::optional<unix_ms>(8'000));
  p.seen({{ann.id, 3'000}});
  EXPECT_EQ(p.by_id(ann.id)->last_seen, std::optional<unix_ms>(3'000));
  // A user who does not exist is no error: the batch still records the others.
  p.seen({{9999, 1'000}, {bob.id, 9'000}});
  EXPECT_EQ(p.by_id(bob.id)->last_seen, std::optional<unix_ms>(9'000));
}

// ---- blocks ----

TEST_P(store_contract, people_block_is_idempotent_listed_most_recent_first_and_undone_by_unblock) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob", "Bob B");
  const user cat = add_user("cat");
  EXPECT_TRUE(p.block(ann.id, bob.id, 1'000).value());
  EXPECT_TRUE(p.block(ann.id, cat.id, 2'000).value());
  EXPECT_FALSE(p.block(ann.id, bob.id, 3'000).value());  // again: nothing changes

  const auto list = p.blocked_by(ann.id);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].blocked.id, cat.id);
  EXPECT_EQ(list[0].created_at, 2'000);
  EXPECT_EQ(list[1].blocked.id, bob.id);
  EXPECT_EQ(list[1].blocked.username, "bob");
  EXPECT_EQ(list[1].blocked.name, "Bob B");
  EXPECT_EQ(list[1].created_at, 1'000);  // the first block's time
  EXPECT_TRUE(p.blocked_by(bob.id).empty());

  EXPECT_TRUE(p.unblock(ann.id, bob.id));
  EXPECT_FALSE(p.unblock(ann.id, bob.id));
  EXPECT_FALSE(p.unblock(bob.id, ann.id));
  const auto after = p.blocked_by(ann.id);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].blocked.id, cat.id);
}

TEST_P(store_contract, people_block_relations_name_both_directions_also_in_session_snapshots) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  const user cat = add_user("cat");
  const user dan = add_user("dan");
  ASSERT_TRUE(p.block(ann.id, bob.id, next_time()).value());
  ASSERT_TRUE(p.block(ann.id, cat.id, next_time()).value());
  ASSERT_TRUE(p.block(dan.id, ann.id, next_time()).value());

  const auto rel = p.relations(ann.id);
  EXPECT_EQ(sorted(rel.blocked), (std::vector<user_id>{bob.id, cat.id}));
  EXPECT_EQ(rel.blocked_by, std::vector<user_id>{dan.id});
  const auto bobs = p.relations(bob.id);
  EXPECT_TRUE(bobs.blocked.empty());
  EXPECT_EQ(bobs.blocked_by, std::vector<user_id>{ann.id});

  const auto started = p.start(ann.id);
  EXPECT_EQ(sorted(started.blocks.blocked), (std::vector<user_id>{bob.id, cat.id}));
  EXPECT_EQ(started.blocks.blocked_by, std::vector<user_id>{dan.id});
  send(ann.id, dan.id, "hi");  // withheld, but in ann's stream
  const auto resumed = p.resume(ann.id, 0);
  EXPECT_EQ(sorted(resumed.blocks.blocked), (std::vector<user_id>{bob.id, cat.id}));
  EXPECT_EQ(resumed.blocks.blocked_by, std::vector<user_id>{dan.id});
  const auto dans = p.start(dan.id);
  EXPECT_EQ(dans.blocks.blocked, std::vector<user_id>{ann.id});
  EXPECT_TRUE(dans.blocks.blocked_by.empty());
  EXPECT_TRUE(p.start(cat.id).blocks.blocked.empty());
}

TEST_P(store_contract, people_block_beyond_the_quota_is_refused) {
  people_calls p(db());
  const user ann = add_user("ann");
  // Issued together, so that they share commits.
  const int n = query_limits::max_blocks + 1;
  completion_log<user> made;
  for (int i = 0; i < n; ++i)
    db().create_user(new_user{std::string("u").append(std::to_string(i)), "U", "hash", next_time()}, made.make(i));
  ASSERT_TRUE(made.wait_for(n));
  std::vector<user_id> ids;
  for (const auto& e : made.entries()) ids.push_back(e.outcome.value().id);
  std::sort(ids.begin(), ids.end());
  completion_log<bool> blocked;
  for (int i = 0; i < query_limits::max_blocks; ++i)
    db().block_user(ann.id, ids[static_cast<std::size_t>(i)], next_time(), blocked.make(i));
  ASSERT_TRUE(blocked.wait_for(static_cast<std::size_t>(query_limits::max_blocks)));
  for (const auto& e : blocked.entries()) ASSERT_TRUE(e.outcome.value());

  EXPECT_EQ(code_of(p.block(ann.id, ids.back(), next_time())), errc::quota_exceeded);
  EXPECT_FALSE(p.block(ann.id, ids.front(), next_time()).value());  // already blocked: not a new one
  EXPECT_EQ(p.blocked_by(ann.id).size(), static_cast<std::size_t>(query_limits::max_blocks));
  ASSERT_TRUE(p.unblock(ann.id, ids.front()));
  EXPECT_TRUE(p.block(ann.id, ids.back(), next_time()).value());
}

TEST_P(store_contract, people_a_sender_who_blocked_the_recipient_gets_errc_blocked_and_nothing_is_stored) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  ASSERT_TRUE(p.block(ann.id, bob.id, next_time()).value());
  const auto refused = p.send(send_request{ann.id, bob.id, "hello", std::nullopt, next_time(), 0});
  EXPECT_EQ(code_of(refused), errc::blocked);
  EXPECT_TRUE(history_of(ann.id, bob.id).empty());
  EXPECT_TRUE(pending_for(bob.id).empty());
  EXPECT_EQ(p.events(ann.id).latest, 0);

  // Blocked both ways: the sender's own block is what they hear of.
  ASSERT_TRUE(p.block(bob.id, ann.id, next_time()).value());
  EXPECT_EQ(code_of(p.send(send_request{ann.id, bob.id, "hello", std::nullopt, next_time(), 0})), errc::blocked);
  EXPECT_EQ(code_of(p.send(send_request{bob.id, ann.id, "hello", std::nullopt, next_time(), 0})), errc::blocked);

  ASSERT_TRUE(p.unblock(ann.id, bob.id));
  ASSERT_TRUE(p.unblock(bob.id, ann.id));
  const auto sent = p.send(send_request{ann.id, bob.id, "hello", std::nullopt, next_time(), 0});
  ASSERT_TRUE(sent);
  EXPECT_FALSE(sent->withheld);
  EXPECT_EQ(sent->stored.seq, 1);
}

TEST_P(store_contract, people_messages_to_a_blocker_are_withheld_from_them_everywhere_for_ever) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  const message before = send(bob.id, ann.id, "before the block").stored;
  const stream_pos ann_pos = p.events(ann.id).latest;
  ASSERT_TRUE(p.block(ann.id, bob.id, next_time()).value());

  const auto w = p.send(send_request{bob.id, ann.id, "you cannot see this", std::nullopt, next_time(), 0});
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->withheld);
  EXPECT_FALSE(w->duplicate);
  EXPECT_EQ(w->stored.seq, 2);
  // Only the sender's stream hears of it.
  ASSERT_EQ(w->stream.size(), 1u);
  EXPECT_EQ(w->stream[0].owner, bob.id);
  const message withheld = w->stored;

  // The sender sees it as any message of theirs.
  EXPECT_EQ(ids_of(history_of(bob.id, ann.id)), (std::vector<message_id>{withheld.id, before.id}));
  const auto bobs = p.previews(bob.id);
  ASSERT_EQ(bobs.size(), 1u);
  ASSERT_TRUE(bobs[0].last);
  EXPECT_EQ(bobs[0].last->id, withheld.id);
  EXPECT_EQ(bobs[0].unread, 0);

  // The recipient sees nothing of it.
  const auto check_invisible = [&] {
    EXPECT_EQ(ids_of(pending_for(ann.id)), std::vector<message_id>{before.id});
    EXPECT_EQ(ids_of(history_of(ann.id, bob.id)), std::vector<message_id>{before.id});
    EXPECT_EQ(ids_of(p.conversation(ann.id, withheld.conversation)), std::vector<message_id>{before.id});
    EXPECT_TRUE(p.conversation(ann.id, withheld.conversation, before.id).empty());
    EXPECT_EQ(ids_of(p.conversation(bob.id, withheld.conversation, before.id)), std::vector<message_id>{withheld.id});
    const auto previews = p.previews(ann.id);
    ASSERT_EQ(previews.size(), 1u);
    ASSERT_TRUE(previews[0].last);
    EXPECT_EQ(previews[0].last->id, before.id);
    EXPECT_EQ(previews[0].unread, 1);  // `before` only
    EXPECT_EQ(p.events(ann.id, ann_pos).events.size(), 0u);
    EXPECT_EQ(ids_of(p.start(ann.id).pending), std::vector<message_id>{before.id});
    EXPECT_TRUE(p.undelivered({withheld.id}).empty());
  };
  check_invisible();

  // Receipts and reads by the recipient change nothing, nor do they tell the sender.
  const stream_pos bob_pos = p.events(bob.id).latest;
  EXPECT_TRUE(p.deliver(ann.id, {withheld.id}, next_time()).delivered.empty());
  EXPECT_EQ(code_of(p.read(ann.id, {withheld.id}, next_time())), errc::forbidden);
  const auto still = history_of(bob.id, ann.id);
  ASSERT_EQ(still.size(), 2u);
  EXPECT_FALSE(still[0].delivered_at);
  EXPECT_FALSE(still[0].read_at);
  EXPECT_EQ(p.events(bob.id).latest, bob_pos);

  // Edits and deletes of it reach the sender's stream only.
  const auto edited = await<edit_result>([&](auto done) {
    db().edit_message(edit_request{bob.id, withheld.id, "edited", next_time(), 48 * 3600 * 1000}, done);
  });
  ASSERT_TRUE(edited);
  ASSERT_EQ(edited->stream.size(), 1u);
  EXPECT_EQ(edited->stream[0].owner, bob.id);
  const auto removed = await<delete_result>(
      [&](auto done) { db().delete_messages(delete_request{bob.id, {withheld.id}, next_time()}, done); });
  ASSERT_TRUE(removed);
  ASSERT_EQ(removed->stream.size(), 1u);
  EXPECT_EQ(removed->stream[0].owner, bob.id);

  // Not even after the unblock; later messages are seen again.
  ASSERT_TRUE(p.unblock(ann.id, bob.id));
  check_invisible();
  const auto after = p.send(send_request{bob.id, ann.id, "after the unblock", std::nullopt, next_time(), 0});
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->withheld);
  EXPECT_EQ(after->stream.size(), 2u);
  EXPECT_EQ(ids_of(history_of(ann.id, bob.id)), (std::vector<message_id>{after->stored.id, before.id}));
  EXPECT_EQ(p.previews(ann.id)[0].unread, 2);
}

TEST_P(store_contract, people_a_retry_of_a_withheld_message_is_withheld_too) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  ASSERT_TRUE(p.block(ann.id, bob.id, next_time()).value());
  const unix_ms now = next_time();
  const auto first = p.send(send_request{bob.id, ann.id, "x", std::string("7"), now, 60'000});
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->withheld);
  const auto again = p.send(send_request{bob.id, ann.id, "x", std::string("7"), now + 5, 60'000});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_TRUE(again->withheld);
  EXPECT_EQ(again->stored.id, first->stored.id);
}

TEST_P(store_contract, people_a_conversation_started_by_a_blocked_user_is_not_in_the_blockers_previews) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  const user cat = add_user("cat");
  send(cat.id, ann.id, "hello");
  ASSERT_TRUE(p.block(ann.id, bob.id, next_time()).value());
  ASSERT_TRUE(p.send(send_request{bob.id, ann.id, "hi", std::nullopt, next_time(), 0})->withheld);
  const auto previews = p.previews(ann.id);
  ASSERT_EQ(previews.size(), 1u);
  EXPECT_EQ(previews[0].peer.id, cat.id);
  EXPECT_TRUE(history_of(ann.id, bob.id).empty());
  EXPECT_TRUE(pending_for(ann.id).size() == 1u);
  EXPECT_EQ(p.previews(bob.id).size(), 1u);
}

TEST_P(store_contract, people_conversation_between_names_the_pairs_conversation) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  EXPECT_FALSE(p.between(ann.id, bob.id));
  const message m = send(ann.id, bob.id, "hi").stored;
  EXPECT_EQ(p.between(ann.id, bob.id), std::optional<conversation_id>(m.conversation));
  EXPECT_EQ(p.between(bob.id, ann.id), std::optional<conversation_id>(m.conversation));
  EXPECT_FALSE(p.between(ann.id, 9999));
}

// ---- deleted accounts ----

TEST_P(store_contract, people_delete_account_erases_what_the_user_said_and_keeps_the_partners_history) {
  people_calls p(db());
  const user ann = add_user("ann", "Ann A");
  const user bob = add_user("bob");
  const user cat = add_user("cat");
  const user dan = add_user("dan");
  p.upload("file-1", ann.id, next_time());
  const message a1 = send(ann.id, bob.id, "secret one").stored;
  const message b1 = send(bob.id, ann.id, "bob's own").stored;
  send_request with_file{ann.id, bob.id, "see file", std::nullopt, next_time(), 0};
  with_file.attachment = "file-1";
  const message a2 = p.send(with_file).value().stored;
  const message c1 = send(cat.id, ann.id, "cat's own").stored;
  send(ann.id, ann.id, "note to self");
  ASSERT_TRUE(p.block(ann.id, cat.id, next_time()).value());
  ASSERT_TRUE(p.block(dan.id, ann.id, next_time()).value());
  ASSERT_TRUE(p.add_device(ann.id, "fcm", "tok-ann", next_time()));
  p.seen({{ann.id, next_time()}});
  ASSERT_TRUE(p.file_for(bob.id, "file-1"));

  const unix_ms now = next_time();
  const auto gone = p.remove_account(ann.id, now);
  ASSERT_TRUE(gone) << gone.error().message;
  EXPECT_EQ(sorted(gone->partners), (std::vector<user_id>{bob.id, cat.id}));
  EXPECT_EQ(gone->messages_erased, 3);  // two to bob, one to herself
  EXPECT_EQ(gone->files_erased, 1);

  // The tombstone: found by id, never by name or search.
  const auto tomb = p.by_id(ann.id);
  ASSERT_TRUE(tomb);
  EXPECT_TRUE(tomb->deleted);
  EXPECT_EQ(tomb->username, "");
  EXPECT_EQ(tomb->name, "");
  EXPECT_FALSE(tomb->last_seen);
  EXPECT_FALSE(p.by_name("ann"));
  EXPECT_TRUE(search("ann").empty());
  EXPECT_TRUE(search("Ann A").empty());
  EXPECT_FALSE(p.update(profile_update{ann.id, std::string("Back"), std::nullopt}));

  // The partner's history keeps its order: her messages read as deleted, his own are kept.
  const auto h = history_of(bob.id, ann.id);
  ASSERT_EQ(ids_of(h), (std::vector<message_id>{a2.id, b1.id, a1.id}));
  EXPECT_EQ(h[0].seq, 3);
  EXPECT_EQ(h[0].content, "");
  EXPECT_TRUE(h[0].deleted_at);
  EXPECT_FALSE(h[0].attachment);
  EXPECT_EQ(h[1].content, "bob's own");
  EXPECT_FALSE(h[1].deleted_at);
  EXPECT_EQ(h[2].content, "");
  EXPECT_EQ(h[2].deleted_at, std::optional<unix_ms>(now));
  const auto cats = history_of(cat.id, ann.id);
  ASSERT_EQ(cats.size(), 1u);
  EXPECT_EQ(cats[0].id, c1.id);
  EXPECT_EQ(cats[0].content, "cat's own");
  EXPECT_FALSE(p.file_for(bob.id, "file-1"));

  const auto previews = p.previews(bob.id);
  ASSERT_EQ(previews.size(), 1u);
  EXPECT_EQ(previews[0].peer.id, ann.id);
  EXPECT_TRUE(previews[0].peer.deleted);
  EXPECT_EQ(previews[0].peer.username, "");
  EXPECT_EQ(previews[0].peer.name, "");
  ASSERT_TRUE(previews[0].last);
  EXPECT_EQ(previews[0].last->content, "");

  // Her blocks, push devices and stream are gone.
  EXPECT_TRUE(p.blocked_by(ann.id).empty());
  EXPECT_TRUE(p.relations(cat.id).blocked_by.empty());
  EXPECT_TRUE(p.relations(dan.id).blocked.empty());
  EXPECT_TRUE(p.devices(ann.id).empty());
  EXPECT_TRUE(p.events(ann.id).events.empty());

  // Nobody writes to her any more, and she cannot be deleted twice.
  EXPECT_EQ(code_of(p.send(send_request{bob.id, ann.id, "hello?", std::nullopt, next_time(), 0})),
            errc::unknown_recipient);
  EXPECT_EQ(code_of(p.send(send_request{dan.id, ann.id, "first", std::nullopt, next_time(), 0})),
            errc::unknown_recipient);
  EXPECT_FALSE(p.between(dan.id, ann.id));
  EXPECT_EQ(code_of(p.remove_account(ann.id, next_time())), errc::not_found);
  EXPECT_EQ(code_of(p.remove_account(9999, next_time())), errc::not_found);

  // Survives a restart.
  reopen();
  people_calls q(db());
  EXPECT_TRUE(q.by_id(ann.id)->deleted);
  EXPECT_EQ(history_of(bob.id, ann.id)[2].content, "");
}

TEST_P(store_contract, people_a_deleted_username_is_free_only_after_its_quarantine) {
  people_calls p(db());
  const user ann = add_user("Ann");
  const user bob = add_user("bob");
  const message m = send(bob.id, ann.id, "hi").stored;
  const unix_ms deleted_at = next_time();
  ASSERT_TRUE(p.remove_account(ann.id, deleted_at));

  const auto register_as = [&](const std::string& name, unix_ms reclaim_before) {
    new_user u{name, name, "hash", next_time()};
    u.reclaim_deleted_before = reclaim_before;
    return await<user>([&](auto done) { db().create_user(u, done); });
  };
  EXPECT_EQ(code_of(register_as("ann", 0)), errc::username_taken);
  EXPECT_EQ(code_of(register_as("ANN", deleted_at)), errc::username_taken);  // deleted at, not before
  EXPECT_FALSE(p.by_name("ann"));

  const auto again = register_as("aNN", deleted_at + 1);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_NE(again->id, ann.id);
  EXPECT_EQ(again->username, "aNN");
  EXPECT_EQ(p.by_name("ann")->account.id, again->id);
  EXPECT_EQ(code_of(register_as("ann", deleted_at + 1)), errc::username_taken);  // held by the new user

  // The tombstone keeps its id and its conversation.
  const auto tomb = p.by_id(ann.id);
  ASSERT_TRUE(tomb);
  EXPECT_TRUE(tomb->deleted);
  EXPECT_EQ(ids_of(history_of(bob.id, ann.id)), std::vector<message_id>{m.id});
  EXPECT_TRUE(history_of(bob.id, again->id).empty());
  const auto found = search("ann");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, again->id);
  // The new user starts a conversation of their own with bob.
  const message fresh = send(bob.id, again->id, "welcome").stored;
  EXPECT_NE(fresh.conversation, m.conversation);
  EXPECT_EQ(fresh.seq, 1);
}

// ---- push devices ----

TEST_P(store_contract, people_push_devices_are_listed_oldest_first_and_removed_by_their_owner) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  EXPECT_TRUE(p.add_device(ann.id, "fcm", "t1", 1'000));
  EXPECT_TRUE(p.add_device(ann.id, "apns", "t2", 2'000));
  EXPECT_FALSE(p.add_device(ann.id, "fcm", "t1", 3'000));  // known: nothing changes
  EXPECT_TRUE(p.add_device(ann.id, "webpush", "t1", 4'000));  // same token, another platform
  EXPECT_EQ(p.devices(ann.id), (std::vector<std::string>{"fcm:t1", "apns:t2", "webpush:t1"}));
  const auto listed = await<std::vector<push_device>>([&](auto done) { db().push_devices(ann.id, done); }).value();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].created_at, 1'000);

  // The device changed hands.
  EXPECT_TRUE(p.add_device(bob.id, "apns", "t2", 5'000));
  EXPECT_EQ(p.devices(ann.id), (std::vector<std::string>{"fcm:t1", "webpush:t1"}));
  EXPECT_EQ(p.devices(bob.id), std::vector<std::string>{"apns:t2"});

  EXPECT_FALSE(p.remove_device(bob.id, "fcm", "t1"));  // not his
  EXPECT_FALSE(p.remove_device(ann.id, "apns", "t2"));
  EXPECT_TRUE(p.remove_device(ann.id, "fcm", "t1"));
  EXPECT_FALSE(p.remove_device(ann.id, "fcm", "t1"));
  EXPECT_EQ(p.devices(ann.id), std::vector<std::string>{"webpush:t1"});
}

TEST_P(store_contract, people_push_devices_beyond_the_cap_drop_the_oldest) {
  people_calls p(db());
  const user ann = add_user("ann");
  const int n = query_limits::max_push_devices + 2;
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(p.add_device(ann.id, "fcm", std::string("t").append(std::to_string(100 + i)), 1'000 + i));
  const auto list = p.devices(ann.id);
  ASSERT_EQ(list.size(), static_cast<std::size_t>(query_limits::max_push_devices));
  EXPECT_EQ(list.front(), "fcm:t102");
  EXPECT_EQ(list.back(), std::string("fcm:t").append(std::to_string(100 + n - 1)));
}

// ---- undelivered ----

TEST_P(store_contract, people_undelivered_keeps_only_what_no_device_received_in_the_order_given) {
  people_calls p(db());
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  const user cat = add_user("cat");
  const message delivered = send(bob.id, ann.id, "1").stored;
  const message read = send(bob.id, ann.id, "2").stored;
  const message removed = send(bob.id, ann.id, "3").stored;
  const message waiting = send(bob.id, ann.id, "4").stored;
  const message to_cat = send(bob.id, cat.id, "5").stored;
  ASSERT_EQ(p.deliver(ann.id, {delivered.id}, next_time()).delivered.size(), 1u);
  ASSERT_TRUE(p.read(ann.id, {read.id}, next_time()));
  ASSERT_TRUE(await<delete_result>(
      [&](auto done) { db().delete_messages(delete_request{bob.id, {removed.id}, next_time()}, done); }));
  ASSERT_TRUE(p.block(cat.id, bob.id, next_time()).value());
  const message withheld = send(bob.id, cat.id, "6").stored;

  EXPECT_EQ(p.undelivered({to_cat.id, delivered.id, read.id, removed.id, withheld.id, waiting.id, 9999}),
            (std::vector<message_id>{to_cat.id, waiting.id}));
  EXPECT_TRUE(p.undelivered({}).empty());
}

}  // namespace chatrix::storage::testing
