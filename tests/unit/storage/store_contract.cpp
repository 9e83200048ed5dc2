// The storage contract: what every storage::store backend must do, written once against
// the interface. Each backend instantiates store_contract with its factory.

#include "store_contract.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace chatrix::storage::testing {
namespace {

std::vector<std::string> usernames(const std::vector<user>& users) {
  std::vector<std::string> out;
  for (const user& u : users) out.push_back(u.username);
  return out;
}

std::vector<message_id> ids_of(const std::vector<message>& messages) {
  std::vector<message_id> out;
  for (const message& m : messages) out.push_back(m.id);
  return out;
}

std::vector<message_id> ids_of(const std::vector<message_ref>& refs) {
  std::vector<message_id> out;
  for (const message_ref& r : refs) out.push_back(r.id);
  return out;
}

}  // namespace

// ---- users ----

TEST_P(store_contract, creates_users_and_finds_them_by_id_and_by_name_ignoring_case) {
  auto created = await<user>([&](auto done) {
    db().create_user(new_user{"Alice", "Alice Liddell", "argon2:xyz", 1000}, done);
  });
  ASSERT_TRUE(created.has_value()) << created.error().message;
  EXPECT_GT(created->id, 0);
  EXPECT_EQ(created->username, "Alice");
  EXPECT_EQ(created->name, "Alice Liddell");

  const user bob = add_user("bob");
  EXPECT_NE(bob.id, created->id);

  auto by_id = await<std::optional<user>>([&](auto done) { db().find_user_by_id(created->id, done); });
  ASSERT_TRUE(by_id.has_value());
  ASSERT_TRUE(by_id->has_value());
  EXPECT_EQ((*by_id)->id, created->id);
  EXPECT_EQ((*by_id)->username, "Alice");
  EXPECT_EQ((*by_id)->name, "Alice Liddell");

  auto by_name =
      await<std::optional<user_credentials>>([&](auto done) { db().find_user_by_name("aLICE", done); });
  ASSERT_TRUE(by_name.has_value());
  ASSERT_TRUE(by_name->has_value());
  EXPECT_EQ((*by_name)->account.id, created->id);
  EXPECT_EQ((*by_name)->account.username, "Alice");  // the spelling chosen at registration
  EXPECT_EQ((*by_name)->password_hash, "argon2:xyz");
}

TEST_P(store_contract, usernames_are_unique_without_regard_to_case) {
  const user first = add_user("Carol", "Carol One");
  for (const char* taken : {"Carol", "carol", "CAROL", "cArOl"}) {
    auto again = await<user>([&](auto done) { db().create_user(new_user{taken, "Other", "h", 1}, done); });
    ASSERT_FALSE(again.has_value()) << taken;
    EXPECT_EQ(again.error().code, errc::username_taken) << taken;
  }
  // The failed attempts changed nothing.
  auto found = await<std::optional<user_credentials>>([&](auto done) { db().find_user_by_name("carol", done); });
  ASSERT_TRUE(found.has_value() && found->has_value());
  EXPECT_EQ((*found)->account.id, first.id);
  EXPECT_EQ((*found)->account.name, "Carol One");
  EXPECT_EQ(usernames(search("carol")), std::vector<std::string>{"Carol"}) << "one user named carol";
}

TEST_P(store_contract, missing_users_are_not_found) {
  add_user("dave");
  auto by_name = await<std::optional<user_credentials>>([&](auto done) { db().find_user_by_name("davey", done); });
  ASSERT_TRUE(by_name.has_value());
  EXPECT_FALSE(by_name->has_value());
  auto by_id = await<std::optional<user>>([&](auto done) { db().find_user_by_id(987654321, done); });
  ASSERT_TRUE(by_id.has_value());
  EXPECT_FALSE(by_id->has_value());
}

// ---- search ----

TEST_P(store_contract, search_ranks_exact_then_prefix_then_other_matches) {
  // Created in an order that differs from the expected ranking.
  add_user("snob", "Jim Bobson");
  add_user("alice_bob", "Alice");
  add_user("bobcat", "Cat");
  add_user("zed", "Bob");
  add_user("marley", "BOB Marley");
  add_user("kim", "Bobbie Kim");
  add_user("Bobby", "B");
  add_user("zbobz", "Z");
  const user bob = add_user("bob", "Robert");
  add_user("amy", "bob");
  add_user("rob", "nobody");

  EXPECT_EQ(usernames(search("BOB")), (std::vector<std::string>{
                                          "bob",                              // exact username
                                          "zed", "amy",                       // exact display name, by id
                                          "Bobby", "bobcat",                  // username prefix, by username
                                          "marley", "kim",                    // display-name prefix, by name
                                          "alice_bob", "snob", "zbobz",       // the rest, by "bob…" suffix
                                      }));
  const auto found = search("bob", 4);
  EXPECT_EQ(usernames(found), (std::vector<std::string>{"bob", "zed", "amy", "Bobby"})) << "cut by the limit";
  EXPECT_EQ(found[0].id, bob.id);
  EXPECT_EQ(found[0].name, "Robert");

  // A user matching in both username and name appears once.
  EXPECT_EQ(usernames(search("arl")), std::vector<std::string>{"marley"});
  // Display names are searched too.
  EXPECT_EQ(usernames(search("OBER")), std::vector<std::string>{"bob"});
  EXPECT_TRUE(search("nomatch").empty());
  // A match never spans the username and the display name.
  EXPECT_TRUE(search("bjim").empty());
}

TEST_P(store_contract, short_fragments_match_any_substring_of_username_and_display_name) {
  add_user("alice", "Alice");
  add_user("bob", "Robert");
  add_user("lisa", "Lisa Li");
  add_user("carol", "Caroline");
  add_user("eli", "Eli");
  add_user("dave", "Dave");
  add_user("eva", "Eva");
  // Prefix tiers first (lisa), then the rest by the text from the match on: "li" (eli),
  // "lice" (alice), "line" (carol's display name).
  EXPECT_EQ(usernames(search("li")), (std::vector<std::string>{"lisa", "eli", "alice", "carol"}));
  EXPECT_EQ(usernames(search("LI", 2)), (std::vector<std::string>{"lisa", "eli"}));
  // Two letters of a display name, in any case: "Robert" starts with them, "carol" has them.
  EXPECT_EQ(usernames(search("Ro")), (std::vector<std::string>{"bob", "carol"}));
  // One character, inside words only: "va" (eva) before "ve" (dave).
  EXPECT_EQ(usernames(search("v")), (std::vector<std::string>{"eva", "dave"}));
  EXPECT_EQ(usernames(search("V", 1)), (std::vector<std::string>{"eva"}));
  // A space is a character like any other.
  EXPECT_EQ(usernames(search("a l")), std::vector<std::string>{"lisa"});
  EXPECT_TRUE(search("q").empty());
  EXPECT_TRUE(search("zz").empty());
}

TEST_P(store_contract, search_folds_ascii_case_only) {
  const user elo = add_user("elo", "Élodie");
  add_user("emile", "Émile Zola");
  EXPECT_EQ(usernames(search("ÉLODIE")), std::vector<std::string>{"elo"}) << "A-Z fold, É stays";
  EXPECT_TRUE(search("élodie").empty()) << "no Unicode case folding";
  EXPECT_EQ(usernames(search("LODIE")), std::vector<std::string>{"elo"});
  EXPECT_EQ(usernames(search("É")), (std::vector<std::string>{"elo", "emile"})) << "display-name prefix, by name";
  EXPECT_EQ(search("é").size(), 0u);
  EXPECT_EQ(search("odie")[0].id, elo.id);
}

TEST_P(store_contract, search_returns_at_most_limit_results) {
  add_user("bob");
  add_user("bobby");
  add_user("bobcat");
  add_user("alice_bob");
  EXPECT_EQ(usernames(search("bob", 2)), (std::vector<std::string>{"bob", "bobby"}));
  EXPECT_EQ(search("bob", 1).size(), 1u);
  EXPECT_EQ(search("bob", 4).size(), 4u);
  EXPECT_TRUE(search("bob", 0).empty());
  EXPECT_TRUE(search("bob", -5).empty());
  EXPECT_TRUE(search("", 10).empty()) << "an empty fragment is no search";

  for (int i = 0; i < query_limits::max_search_results + 10; ++i) add_user("clamp" + std::to_string(100 + i));
  EXPECT_EQ(search("clamp", 1000).size(), static_cast<std::size_t>(query_limits::max_search_results));
}

TEST_P(store_contract, search_treats_wildcards_and_quotes_as_plain_characters) {
  add_user("x_yz");
  add_user("xayz");
  add_user("pct", "100% sure");
  add_user("pctb", "1000 sure");
  EXPECT_EQ(usernames(search("x_y")), std::vector<std::string>{"x_yz"});
  EXPECT_EQ(usernames(search("x_")), std::vector<std::string>{"x_yz"});
  EXPECT_EQ(usernames(search("0% s")), std::vector<std::string>{"pct"});
  EXPECT_EQ(usernames(search("%")), std::vector<std::string>{"pct"});
  EXPECT_EQ(usernames(search("_")), std::vector<std::string>{"x_yz"});
  EXPECT_TRUE(search("%%%").empty());
  EXPECT_TRUE(search("___").empty());
  EXPECT_TRUE(search("\\").empty());
  // Query-language characters must neither fail nor widen the search.
  for (const char* odd : {"\"", "a\"b", "\"x_yz\"", "pct OR xayz", "x*", "NEAR(x y)", "pct:"}) {
    auto r = await<std::vector<user>>([&](auto done) { db().search_users(odd, 10, done); });
    ASSERT_TRUE(r.has_value()) << odd << ": " << r.error().message;
    EXPECT_TRUE(r->empty()) << odd << " found " << ::testing::PrintToString(usernames(*r));
  }
}

// A few thousand users, not a million (too slow to build in CI). The ranking never
// collects the whole match set: each tier is an index walk stopped by LIMIT (see the
// backend's search implementation), so these results and their cost do not grow with the
// number of matching users; the SQLite backend's test checks the query plans.
TEST_P(store_contract, search_ranks_and_limits_among_thousands_of_users) {
  constexpr int count = 3000;
  completion_log<user> log;
  for (int i = 0; i < count; ++i) {
    db().create_user(new_user{"user" + std::to_string(i), "Person " + std::to_string(i), "h", i}, log.make(i));
  }
  ASSERT_TRUE(log.wait_for(count));
  for (const auto& e : log.entries()) ASSERT_TRUE(e.outcome.has_value()) << e.tag;

  const auto found = search("USER1", 50);
  ASSERT_EQ(found.size(), 50u);
  EXPECT_EQ(found[0].username, "user1");
  std::vector<std::string> rest;
  for (std::size_t i = 1; i < found.size(); ++i) rest.push_back(found[i].username);
  EXPECT_TRUE(std::is_sorted(rest.begin(), rest.end()));
  EXPECT_EQ(rest.front(), "user10");
  for (const auto& name : rest) EXPECT_EQ(name.rfind("user1", 0), 0u) << name;

  const auto exact = search("user2999", 50);
  ASSERT_EQ(exact.size(), 1u);
  EXPECT_EQ(exact[0].username, "user2999");

  // 111 display names contain "son 12"; only the limit comes back, ordered by the text
  // from the match on ("son 12", "son 120", "son 1200", ...), then by id.
  const auto by_name = search("son 12", 30);
  ASSERT_EQ(by_name.size(), 30u);
  EXPECT_EQ(by_name[0].name, "Person 12");
  std::vector<std::pair<std::string, user_id>> keys;
  for (const user& u : by_name) {
    const auto at = u.name.find("son 12");
    ASSERT_NE(at, std::string::npos) << u.name;
    keys.emplace_back(u.name.substr(at), u.id);
  }
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end())) << ::testing::PrintToString(usernames(by_name));

  // One character, in thousands of names: "9" ends user9, user19, ... (by id), then "90"...
  const auto nines = search("9", 50);
  ASSERT_EQ(nines.size(), 50u);
  EXPECT_EQ(nines[0].username, "user9");
  EXPECT_EQ(nines[1].username, "user19");
  for (const user& u : nines) EXPECT_EQ(u.username.back(), '9') << u.username;
}

// ---- append ----

TEST_P(store_contract, append_creates_the_conversation_once_with_gap_free_seq) {
  const user a = add_user("anna");
  const user b = add_user("ben");
  const auto first = send(a.id, b.id, "hello");
  const auto second = send(b.id, a.id, "hi anna");
  const auto third = send(a.id, b.id, "how are you");
  EXPECT_FALSE(first.duplicate);
  EXPECT_GT(first.stored.conversation, 0);
  EXPECT_EQ(second.stored.conversation, first.stored.conversation);
  EXPECT_EQ(third.stored.conversation, first.stored.conversation);
  EXPECT_EQ(first.stored.seq, 1);
  EXPECT_EQ(second.stored.seq, 2);
  EXPECT_EQ(third.stored.seq, 3);
  EXPECT_LT(first.stored.id, second.stored.id);
  EXPECT_LT(second.stored.id, third.stored.id);

  EXPECT_EQ(first.stored.sender, a.id);
  EXPECT_EQ(first.stored.recipient, b.id);
  EXPECT_EQ(first.stored.content, "hello");
  EXPECT_FALSE(first.stored.delivered_at.has_value());
  EXPECT_FALSE(first.stored.read_at.has_value());

  // Another pair gets its own conversation, numbered from 1.
  const user c = add_user("cleo");
  const auto other = send(c.id, a.id, "hey");
  EXPECT_NE(other.stored.conversation, first.stored.conversation);
  EXPECT_EQ(other.stored.seq, 1);

  const auto stored = history_of(a.id, b.id);
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[2].id, first.stored.id);
  EXPECT_EQ(stored[2].content, "hello");
  EXPECT_EQ(stored[2].created_at, first.stored.created_at);
}

TEST_P(store_contract, concurrent_appends_to_a_new_pair_share_one_conversation) {
  const user a = add_user("amy");
  const user b = add_user("bill");
  constexpr int threads = 4;
  constexpr int per_thread = 50;
  completion_log<send_result> log;
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const bool forward = (t + i) % 2 == 0;
        send_request req{forward ? a.id : b.id, forward ? b.id : a.id, std::to_string(t * per_thread + i),
                         std::nullopt, 1000 + i, 0};
        db().append_message(std::move(req), log.make(t * per_thread + i));
      }
    });
  }
  for (auto& s : senders) s.join();
  ASSERT_TRUE(log.wait_for(threads * per_thread));

  std::set<conversation_id> conversations;
  std::vector<std::int64_t> seqs;
  for (const auto& e : log.entries()) {
    ASSERT_TRUE(e.outcome.has_value()) << e.outcome.error().message;
    conversations.insert(e.outcome->stored.conversation);
    seqs.push_back(e.outcome->stored.seq);
  }
  EXPECT_EQ(conversations.size(), 1u);
  std::sort(seqs.begin(), seqs.end());
  for (int i = 0; i < threads * per_thread; ++i) ASSERT_EQ(seqs[static_cast<std::size_t>(i)], i + 1);
}

TEST_P(store_contract, writes_apply_and_complete_in_call_order) {
  const user a = add_user("ava");
  const user b = add_user("bo");
  constexpr int count = 100;
  completion_log<send_result> log;
  for (int i = 0; i < count; ++i) {
    db().append_message(send_request{a.id, b.id, std::to_string(i), std::nullopt, 5000 + i, 0}, log.make(i));
  }
  ASSERT_TRUE(log.wait_for(count));
  const auto entries = log.entries();
  for (int i = 0; i < count; ++i) {
    const auto& e = entries[static_cast<std::size_t>(i)];
    ASSERT_EQ(e.tag, i) << "callbacks out of call order";
    ASSERT_TRUE(e.outcome.has_value());
    EXPECT_EQ(e.outcome->stored.seq, i + 1);
    EXPECT_EQ(e.outcome->stored.content, std::to_string(i));
    if (i > 0) {
      EXPECT_GT(e.outcome->stored.id, entries[static_cast<std::size_t>(i - 1)].outcome->stored.id);
    }
  }
}

TEST_P(store_contract, many_writes_issued_at_once_all_complete_in_order) {
  // Group commit: a burst much larger than one transaction per write would handle quickly.
  const user a = add_user("gina");
  const user b = add_user("gus");
  constexpr int count = 2000;
  completion_log<send_result> log;
  for (int i = 0; i < count; ++i) {
    db().append_message(send_request{a.id, b.id, "burst", std::nullopt, 7000, 0}, log.make(i));
  }
  ASSERT_TRUE(log.wait_for(count));
  const auto entries = log.entries();
  for (int i = 0; i < count; ++i) {
    const auto& e = entries[static_cast<std::size_t>(i)];
    ASSERT_EQ(e.tag, i);
    ASSERT_TRUE(e.outcome.has_value()) << e.outcome.error().message;
    ASSERT_EQ(e.outcome->stored.seq, i + 1);
  }
}

TEST_P(store_contract, append_to_or_from_an_unknown_user_fails) {
  const user a = add_user("alma");
  for (const auto& [from, to] : {std::pair{a.id, user_id{999999}}, std::pair{user_id{999999}, a.id}}) {
    auto r = await<send_result>([&](auto done) {
      db().append_message(send_request{from, to, "hello?", std::nullopt, 1000, 0}, done);
    });
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, errc::unknown_recipient);
  }
  const user b = add_user("boris");
  EXPECT_EQ(send(a.id, b.id, "first").stored.seq, 1) << "failed appends left no trace";
}

TEST_P(store_contract, retries_within_the_window_return_the_original) {
  const user a = add_user("ada");
  const user b = add_user("bea");
  const user c = add_user("cid");
  constexpr unix_ms window = 5000;
  const auto original = send(a.id, b.id, "hi", "\"m1\"", 10'000, window);
  ASSERT_FALSE(original.duplicate);

  const auto retry = send(a.id, b.id, "hi", "\"m1\"", 12'000, window);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.stored.id, original.stored.id);
  EXPECT_EQ(retry.stored.seq, original.stored.seq);
  EXPECT_EQ(retry.stored.created_at, 10'000);

  EXPECT_FALSE(send(a.id, b.id, "hi!", "\"m1\"", 12'500, window).duplicate) << "different content";
  EXPECT_FALSE(send(a.id, b.id, "hi", "\"m2\"", 12'600, window).duplicate) << "different mark";
  EXPECT_FALSE(send(a.id, b.id, "hi", "17", 12'700, window).duplicate) << "different mark";
  EXPECT_FALSE(send(a.id, c.id, "hi", "\"m1\"", 12'800, window).duplicate) << "different recipient";
  EXPECT_FALSE(send(b.id, a.id, "hi", "\"m1\"", 12'900, window).duplicate) << "different sender";
  EXPECT_FALSE(send(a.id, b.id, "no mark", std::nullopt, 13'000, window).duplicate);
  EXPECT_FALSE(send(a.id, b.id, "no mark", std::nullopt, 13'100, window).duplicate) << "no mark: never a retry";

  // Older than the window: stored again.
  const auto late = send(a.id, b.id, "hi", "\"m1\"", 20'000, window);
  EXPECT_FALSE(late.duplicate);
  EXPECT_NE(late.stored.id, original.stored.id);
  // ...and that newer copy is what a retry now matches.
  const auto retry_late = send(a.id, b.id, "hi", "\"m1\"", 21'000, window);
  EXPECT_TRUE(retry_late.duplicate);
  EXPECT_EQ(retry_late.stored.id, late.stored.id);

  // Duplicates were not stored: a→b holds original, hi!, m2, 17, 2× no mark, late.
  EXPECT_EQ(history_of(a.id, b.id).size(), 8u);  // b→a "hi" is in the same conversation
}

// ---- receipts ----

TEST_P(store_contract, mark_delivered_returns_only_newly_delivered_messages) {
  const user a = add_user("al");
  const user b = add_user("bert");
  const auto m1 = send(a.id, b.id, "one").stored;
  const auto m2 = send(a.id, b.id, "two").stored;
  const auto to_a = send(b.id, a.id, "back").stored;

  auto first = await<delivered_result>(
      [&](auto done) { db().mark_delivered(b.id, {m1.id, to_a.id, m1.id, 424242}, 50'000, done); });
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->delivered.size(), 1u);
  EXPECT_EQ(first->delivered[0].id, m1.id);
  EXPECT_EQ(first->delivered[0].sender, a.id);
  EXPECT_EQ(first->delivered[0].recipient, b.id);

  auto second =
      await<delivered_result>([&](auto done) { db().mark_delivered(b.id, {m1.id, m2.id}, 60'000, done); });
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(ids_of(second->delivered), std::vector<message_id>{m2.id});

  auto third =
      await<delivered_result>([&](auto done) { db().mark_delivered(b.id, {m1.id, m2.id}, 70'000, done); });
  ASSERT_TRUE(third.has_value());
  EXPECT_TRUE(third->delivered.empty());

  const auto stored = history_of(a.id, b.id);
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[2].delivered_at, std::optional<unix_ms>(50'000)) << "first receipt time kept";
  EXPECT_EQ(stored[1].delivered_at, std::optional<unix_ms>(60'000));
  EXPECT_FALSE(stored[0].delivered_at.has_value()) << "b cannot deliver a message to a";
  EXPECT_FALSE(stored[2].read_at.has_value());
  EXPECT_TRUE(pending_for(b.id).empty());
  EXPECT_EQ(ids_of(pending_for(a.id)), std::vector<message_id>{to_a.id});
}

TEST_P(store_contract, mark_read_of_a_foreign_or_unknown_message_is_forbidden_and_changes_nothing) {
  const user a = add_user("axel");
  const user b = add_user("bjorn");
  const user c = add_user("cato");
  const auto m1 = send(a.id, b.id, "one").stored;
  const auto m2 = send(a.id, b.id, "two").stored;
  const auto to_a = send(b.id, a.id, "mine").stored;
  const auto c_to_a = send(c.id, a.id, "other").stored;

  for (const std::vector<message_id>& ids :
       {std::vector<message_id>{m1.id, to_a.id}, std::vector<message_id>{m1.id, c_to_a.id, m2.id},
        std::vector<message_id>{m2.id, 999999}, std::vector<message_id>{to_a.id}}) {
    auto r = await<read_result>([&](auto done) { db().mark_read(b.id, ids, 80'000, done); });
    ASSERT_FALSE(r.has_value()) << ::testing::PrintToString(ids);
    EXPECT_EQ(r.error().code, errc::forbidden);
  }
  for (const message& m : history_of(a.id, b.id)) {
    EXPECT_FALSE(m.read_at.has_value()) << m.id;
    EXPECT_FALSE(m.delivered_at.has_value()) << m.id;
  }
  EXPECT_EQ(ids_of(pending_for(b.id)), (std::vector<message_id>{m1.id, m2.id}));
}

TEST_P(store_contract, mark_read_returns_messages_not_read_before_and_counts_them_delivered) {
  const user a = add_user("arne");
  const user b = add_user("bodil");
  const auto m1 = send(a.id, b.id, "one").stored;
  const auto m2 = send(a.id, b.id, "two").stored;
  const auto m3 = send(a.id, b.id, "three").stored;
  ASSERT_TRUE(await<delivered_result>([&](auto done) { db().mark_delivered(b.id, {m2.id}, 10, done); }));

  auto first = await<read_result>([&](auto done) { db().mark_read(b.id, {m1.id, m1.id, m2.id}, 20, done); });
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(ids_of(first->read), (std::vector<message_id>{m1.id, m2.id})) << "each once, duplicates are fine";
  for (const message_ref& r : first->read) {
    EXPECT_EQ(r.sender, a.id);
    EXPECT_EQ(r.recipient, b.id);
  }
  // m2 had been received already; m1 is received by being read.
  ASSERT_EQ(ids_of(first->delivered), std::vector<message_id>{m1.id});
  EXPECT_EQ(first->delivered[0].sender, a.id);
  EXPECT_EQ(first->delivered[0].recipient, b.id);

  // A late receipt for a message delivered by reading it is not reported again.
  auto late = await<delivered_result>([&](auto done) { db().mark_delivered(b.id, {m1.id}, 25, done); });
  ASSERT_TRUE(late.has_value());
  EXPECT_TRUE(late->delivered.empty());

  auto second = await<read_result>([&](auto done) { db().mark_read(b.id, {m2.id, m3.id, m1.id}, 30, done); });
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(ids_of(second->read), std::vector<message_id>{m3.id});
  EXPECT_EQ(ids_of(second->delivered), std::vector<message_id>{m3.id});

  auto again = await<read_result>([&](auto done) { db().mark_read(b.id, {m3.id}, 40, done); });
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->read.empty());
  EXPECT_TRUE(again->delivered.empty());

  const auto stored = history_of(a.id, b.id);  // newest first: m3, m2, m1
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[2].read_at, std::optional<unix_ms>(20));
  EXPECT_EQ(stored[2].delivered_at, std::optional<unix_ms>(20)) << "read implies delivered";
  EXPECT_EQ(stored[1].read_at, std::optional<unix_ms>(20));
  EXPECT_EQ(stored[1].delivered_at, std::optional<unix_ms>(10)) << "an earlier receipt is kept";
  EXPECT_EQ(stored[0].read_at, std::optional<unix_ms>(30));
  EXPECT_EQ(stored[0].delivered_at, std::optional<unix_ms>(30));
  EXPECT_TRUE(pending_for(b.id).empty());
}

// ---- reads ----

TEST_P(store_contract, pending_messages_page_by_id_oldest_first) {
  const user a = add_user("abe");
  const user b = add_user("bob");
  std::vector<message_id> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(send(a.id, b.id, std::string("p").append(std::to_string(i))).stored.id);
    send(b.id, a.id, "not for b");
  }
  EXPECT_EQ(ids_of(pending_for(b.id, 0, 2)), (std::vector<message_id>{ids[0], ids[1]}));
  EXPECT_EQ(ids_of(pending_for(b.id, ids[1], 2)), (std::vector<message_id>{ids[2], ids[3]}));
  EXPECT_EQ(ids_of(pending_for(b.id, ids[3], 2)), (std::vector<message_id>{ids[4]}));
  EXPECT_TRUE(pending_for(b.id, ids[4], 2).empty());
  EXPECT_TRUE(pending_for(b.id, 0, 0).empty());
  const auto page = pending_for(b.id, 0, 1);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].content, "p0");
  EXPECT_EQ(page[0].sender, a.id);
  EXPECT_EQ(page[0].recipient, b.id);

  ASSERT_TRUE(await<delivered_result>([&](auto done) { db().mark_delivered(b.id, {ids[2]}, 1, done); }));
  EXPECT_EQ(ids_of(pending_for(b.id, 0, 10)), (std::vector<message_id>{ids[0], ids[1], ids[3], ids[4]}));
}

TEST_P(store_contract, history_pages_backwards_from_before) {
  const user a = add_user("ada");
  const user b = add_user("ben");
  const user c = add_user("cy");
  std::vector<message_id> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(i % 2 ? send(b.id, a.id, std::to_string(i)).stored.id : send(a.id, b.id, std::to_string(i)).stored.id);
  }
  const auto elsewhere = send(a.id, c.id, "elsewhere").stored;

  const auto page1 = history_of(a.id, b.id, std::nullopt, 4);
  EXPECT_EQ(ids_of(page1), (std::vector<message_id>{ids[9], ids[8], ids[7], ids[6]}));
  ASSERT_EQ(page1.size(), 4u);
  EXPECT_EQ(page1[0].content, "9");
  EXPECT_EQ(page1[0].seq, 10);
  const auto page2 = history_of(b.id, a.id, page1.back().id, 4);  // either order of the pair
  EXPECT_EQ(ids_of(page2), (std::vector<message_id>{ids[5], ids[4], ids[3], ids[2]}));
  const auto page3 = history_of(a.id, b.id, ids[2], 4);
  EXPECT_EQ(ids_of(page3), (std::vector<message_id>{ids[1], ids[0]}));
  EXPECT_TRUE(history_of(a.id, b.id, ids[0], 4).empty());

  // `before` need not be a message of this conversation.
  EXPECT_EQ(ids_of(history_of(a.id, b.id, elsewhere.id, 3)), (std::vector<message_id>{ids[9], ids[8], ids[7]}));
  EXPECT_EQ(ids_of(history_of(a.id, b.id, ids[5], 2)), (std::vector<message_id>{ids[4], ids[3]}));

  EXPECT_EQ(ids_of(history_of(c.id, a.id)), std::vector<message_id>{elsewhere.id});
  EXPECT_TRUE(history_of(b.id, c.id).empty()) << "no conversation yet";
  EXPECT_TRUE(history_of(a.id, b.id, std::nullopt, 0).empty());
}

TEST_P(store_contract, history_page_size_is_clamped) {
  const user a = add_user("hal");
  const user b = add_user("hub");
  const int count = query_limits::max_history_page + 5;
  completion_log<send_result> log;
  for (int i = 0; i < count; ++i) db().append_message(send_request{a.id, b.id, "x", std::nullopt, 1, 0}, log.make(i));
  ASSERT_TRUE(log.wait_for(static_cast<std::size_t>(count)));
  const auto page = history_of(a.id, b.id, std::nullopt, 100000);
  ASSERT_EQ(page.size(), static_cast<std::size_t>(query_limits::max_history_page));
  EXPECT_EQ(page.front().seq, count);
}

TEST_P(store_contract, previews_list_conversations_most_recent_first_with_unread_counts) {
  const user v = add_user("viewer", "The Viewer");
  const user p1 = add_user("peer1", "Peer One");
  const user p2 = add_user("peer2", "Peer Two");
  const user p3 = add_user("peer3");
  send(v.id, p1.id, "v to p1", std::nullopt, 1000);
  const auto p2_a = send(p2.id, v.id, "p2 to v", std::nullopt, 2000).stored;
  const auto p2_b = send(p2.id, v.id, "p2 to v again", std::nullopt, 2100).stored;
  const auto p1_last = send(p1.id, v.id, "p1 to v", std::nullopt, 3000).stored;
  send(p2.id, p3.id, "not the viewer's", std::nullopt, 4000);

  auto previews = await<std::vector<chat_preview>>([&](auto done) { db().chat_previews(v.id, 10, done); });
  ASSERT_TRUE(previews.has_value());
  ASSERT_EQ(previews->size(), 2u);
  const chat_preview& first = (*previews)[0];
  const chat_preview& second = (*previews)[1];
  EXPECT_EQ(first.peer.id, p1.id);
  EXPECT_EQ(first.peer.username, "peer1");
  EXPECT_EQ(first.peer.name, "Peer One");
  EXPECT_EQ(first.conversation, p1_last.conversation);
  EXPECT_EQ(first.updated_at, 3000);
  EXPECT_EQ(first.unread, 1);
  ASSERT_TRUE(first.last.has_value());
  EXPECT_EQ(first.last->id, p1_last.id);
  EXPECT_EQ(first.last->content, "p1 to v");
  EXPECT_EQ(first.last->sender, p1.id);

  EXPECT_EQ(second.peer.id, p2.id);
  EXPECT_EQ(second.updated_at, 2100);
  EXPECT_EQ(second.unread, 2);
  ASSERT_TRUE(second.last.has_value());
  EXPECT_EQ(second.last->id, p2_b.id);

  // The other side sees the same conversation with its own unread count.
  auto of_p1 = await<std::vector<chat_preview>>([&](auto done) { db().chat_previews(p1.id, 10, done); });
  ASSERT_TRUE(of_p1.has_value());
  ASSERT_EQ(of_p1->size(), 1u);
  EXPECT_EQ((*of_p1)[0].peer.id, v.id);
  EXPECT_EQ((*of_p1)[0].unread, 1);

  ASSERT_TRUE(await<read_result>([&](auto done) { db().mark_read(v.id, {p2_a.id, p2_b.id}, 5000, done); }));
  send(v.id, p2.id, "reply", std::nullopt, 6000);
  previews = await<std::vector<chat_preview>>([&](auto done) { db().chat_previews(v.id, 1, done); });
  ASSERT_TRUE(previews.has_value());
  ASSERT_EQ(previews->size(), 1u) << "limit";
  EXPECT_EQ((*previews)[0].peer.id, p2.id) << "the reply made it the most recent";
  EXPECT_EQ((*previews)[0].unread, 0);
  EXPECT_EQ((*previews)[0].updated_at, 6000);
  ASSERT_TRUE((*previews)[0].last.has_value());
  EXPECT_EQ((*previews)[0].last->content, "reply");

  auto none = await<std::vector<chat_preview>>([&](auto done) { db().chat_previews(p3.id + 1000, 10, done); });
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST_P(store_contract, session_start_reads_previews_and_the_first_pending_page_together) {
  const user v = add_user("sam");
  const user p = add_user("sue");
  const user q = add_user("syd");
  const auto first = send(p.id, v.id, "one").stored;
  const auto second = send(q.id, v.id, "two").stored;
  send(q.id, v.id, "three");
  send(v.id, p.id, "from the viewer: not pending for it");

  auto start = await<session_snapshot>([&](auto done) { db().session_start(v.id, 10, 2, done); });
  ASSERT_TRUE(start.has_value());
  ASSERT_EQ(start->previews.size(), 2u);
  EXPECT_EQ(start->previews[0].peer.id, p.id) << "most recent first, as chat_previews";
  EXPECT_EQ(start->previews[1].peer.id, q.id);
  EXPECT_EQ(start->previews[1].unread, 2);
  EXPECT_EQ(ids_of(start->pending), (std::vector<message_id>{first.id, second.id})) << "oldest first, one page";

  start = await<session_snapshot>([&](auto done) { db().session_start(v.id, 1, 0, done); });
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->previews.size(), 1u) << "each part has its own limit";
  EXPECT_TRUE(start->pending.empty());

  auto nobody = await<session_snapshot>([&](auto done) { db().session_start(q.id + 1000, 10, 10, done); });
  ASSERT_TRUE(nobody.has_value());
  EXPECT_TRUE(nobody->previews.empty());
  EXPECT_TRUE(nobody->pending.empty());
}

// ---- durability, queueing, threads ----

TEST_P(store_contract, data_survives_reopening) {
  const user a = add_user("Ann", "Ann A");
  const user b = add_user("bea");
  const auto m = send(a.id, b.id, "persisted").stored;
  ASSERT_TRUE(await<delivered_result>([&](auto done) { db().mark_delivered(b.id, {m.id}, 99, done); }));

  reopen();

  auto found = await<std::optional<user_credentials>>([&](auto done) { db().find_user_by_name("ann", done); });
  ASSERT_TRUE(found.has_value() && found->has_value());
  EXPECT_EQ((*found)->account.id, a.id);
  EXPECT_EQ((*found)->account.username, "Ann");
  EXPECT_EQ((*found)->password_hash, "hash:Ann");
  const auto stored = history_of(a.id, b.id);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].id, m.id);
  EXPECT_EQ(stored[0].content, "persisted");
  EXPECT_EQ(stored[0].delivered_at, std::optional<unix_ms>(99));
  EXPECT_EQ(usernames(search("ann")), std::vector<std::string>{"Ann"});

  const auto next = send(b.id, a.id, "still counting").stored;
  EXPECT_EQ(next.conversation, m.conversation);
  EXPECT_EQ(next.seq, 2);
  EXPECT_GT(next.id, m.id);
  auto taken = await<user>([&](auto done) { db().create_user(new_user{"ANN", "x", "h", 1}, done); });
  ASSERT_FALSE(taken.has_value());
  EXPECT_EQ(taken.error().code, errc::username_taken);
}

TEST_P(store_contract, a_full_write_queue_reports_overloaded) {
  std::unique_ptr<store> gated;
  gate_guard gate;  // destroyed first: a failed assertion cannot leave the writer blocked
  gated = factory_->make_gated(2, gate.future());
  if (!gated) GTEST_SKIP() << "backend has no write gate";

  completion_log<user> log;
  gated->create_user(new_user{"q1", "Q", "h", 1}, log.make(1));
  gated->create_user(new_user{"q2", "Q", "h", 1}, log.make(2));
  auto rejected = await<user>([&](auto done) { gated->create_user(new_user{"q3", "Q", "h", 1}, done); });
  ASSERT_FALSE(rejected.has_value());
  EXPECT_EQ(rejected.error().code, errc::overloaded);
  EXPECT_EQ(log.size(), 0u) << "the queued writes wait for the gate";

  gate.open();
  ASSERT_TRUE(log.wait_for(2));
  for (const auto& e : log.entries()) EXPECT_TRUE(e.outcome.has_value()) << e.tag;
  auto later = await<user>([&](auto done) { gated->create_user(new_user{"q3", "Q", "h", 1}, done); });
  EXPECT_TRUE(later.has_value()) << "room again once the queue drained";
  gated->shutdown();
}

TEST_P(store_contract, a_failing_write_does_not_affect_the_others_in_its_batch) {
  std::unique_ptr<store> gated;
  gate_guard gate;
  gated = factory_->make_gated(100, gate.future());
  if (!gated) GTEST_SKIP() << "backend has no write gate";

  // Queued behind the gate, these are written together.
  completion_log<user> log;
  gated->create_user(new_user{"dup", "first", "h", 1}, log.make(0));
  gated->create_user(new_user{"DUP", "second", "h", 1}, log.make(1));
  gated->create_user(new_user{"other", "third", "h", 1}, log.make(2));
  gate.open();
  ASSERT_TRUE(log.wait_for(3));
  const auto entries = log.entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_TRUE(entries[0].outcome.has_value());
  ASSERT_FALSE(entries[1].outcome.has_value());
  EXPECT_EQ(entries[1].outcome.error().code, errc::username_taken);
  EXPECT_TRUE(entries[2].outcome.has_value());

  auto dup = await<std::optional<user_credentials>>([&](auto done) { gated->find_user_by_name("dup", done); });
  ASSERT_TRUE(dup.has_value() && dup->has_value());
  EXPECT_EQ((*dup)->account.name, "first");
  auto other = await<std::optional<user_credentials>>([&](auto done) { gated->find_user_by_name("other", done); });
  ASSERT_TRUE(other.has_value() && other->has_value());
  gated->shutdown();
}

TEST_P(store_contract, callbacks_run_on_store_threads) {
  const user a = add_user("tom");
  const user b = add_user("tim");
  completion_log<send_result> writes;
  completion_log<std::vector<message>> reads;
  db().append_message(send_request{a.id, b.id, "x", std::nullopt, 1, 0}, writes.make(0));
  ASSERT_TRUE(writes.wait_for(1));
  db().pending_messages(b.id, 0, 10, reads.make(0));
  ASSERT_TRUE(reads.wait_for(1));
  EXPECT_NE(writes.entries()[0].thread, std::this_thread::get_id());
  EXPECT_NE(reads.entries()[0].thread, std::this_thread::get_id());
  ASSERT_TRUE(reads.entries()[0].outcome.has_value());
  EXPECT_EQ(reads.entries()[0].outcome->size(), 1u);
}

TEST_P(store_contract, ping_answers_until_shutdown) {
  auto up = await<bool>([&](auto done) { db().ping(done); });
  ASSERT_TRUE(up.has_value()) << up.error().message;
  EXPECT_TRUE(*up);
  db().shutdown();
  auto down = await<bool>([&](auto done) { db().ping(done); });
  ASSERT_FALSE(down.has_value());
  EXPECT_EQ(down.error().code, errc::unavailable);
}

TEST_P(store_contract, shutdown_finishes_queued_writes_and_later_calls_fail) {
  const user a = add_user("sam");
  const user b = add_user("sid");
  constexpr int count = 200;
  completion_log<send_result> log;
  for (int i = 0; i < count; ++i) db().append_message(send_request{a.id, b.id, "x", std::nullopt, 1, 0}, log.make(i));
  db().shutdown();
  // No waiting: shutdown returns after every queued callback ran.
  ASSERT_EQ(log.size(), static_cast<std::size_t>(count));
  for (const auto& e : log.entries()) EXPECT_TRUE(e.outcome.has_value()) << e.tag;
  db().shutdown();  // idempotent

  auto write = await<user>([&](auto done) { db().create_user(new_user{"late", "L", "h", 1}, done); });
  ASSERT_FALSE(write.has_value());
  EXPECT_EQ(write.error().code, errc::unavailable);
  auto read = await<std::optional<user>>([&](auto done) { db().find_user_by_id(a.id, done); });
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, errc::unavailable);

  reopen();
  EXPECT_EQ(history_of(a.id, b.id, std::nullopt, 1).front().seq, count) << "all of them were durable";
}

}  // namespace chatrix::storage::testing
