// What only the PostgreSQL store promises beyond the contract: connection string forms and
// redaction, migrations under an advisory lock, group commit from many threads, several
// stores (nodes) on one database, isolation of a statement that fails in a batch, and
// session_start's own statement answering as the two calls it replaces.

#include "store_contract.hpp"

#include "storage/postgres/conninfo.hpp"
#include "storage/postgres/migrations.hpp"
#include "storage/postgres/postgres_store.hpp"
#include "support/pg_instance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace chatrix::storage::testing {
namespace {

chatrix::testing::pg_instance& server() {
  static chatrix::testing::pg_instance instance;
  return instance;
}

std::string db_name(const std::string& url) { return url.substr(url.rfind('/') + 1); }

postgres_options small_pool() {
  postgres_options opts;
  opts.pool_size = 2;
  return opts;
}

user must_create(store& s, const std::string& username) {
  return await<user>([&](auto done) { s.create_user(new_user{username, username, "h", 1}, done); }).value();
}

// ---- connection strings ----

TEST(postgres_conninfo, redacts_passwords_in_urls) {
  EXPECT_EQ(redact_conninfo("postgres://chat:s3cret@db.example:5432/chat"), "postgres://chat:***@db.example:5432/chat");
  EXPECT_EQ(redact_conninfo("postgresql://chat:p@ss@db/chat?sslmode=require"),
            "postgresql://chat:***@db/chat?sslmode=require");
  EXPECT_EQ(redact_conninfo("postgresql://db/chat?user=chat&password=s3cret&sslmode=require"),
            "postgresql://db/chat?user=chat&password=***&sslmode=require");
  EXPECT_EQ(redact_conninfo("postgresql://chat@db/chat"), "postgresql://chat@db/chat") << "nothing to hide";
  EXPECT_EQ(redact_conninfo("postgres://db"), "postgres://db");
}

TEST(postgres_conninfo, redacts_passwords_in_key_value_strings) {
  EXPECT_EQ(redact_conninfo("host=db user=chat password=s3cret dbname=chat"),
            "host=db user=chat password=*** dbname=chat");
  EXPECT_EQ(redact_conninfo("host=db password = 'se cr\\'et' dbname=chat"), "host=db password = *** dbname=chat");
  EXPECT_EQ(redact_conninfo("password=s3cret"), "password=***");
  EXPECT_EQ(redact_conninfo("host=db dbname=chat"), "host=db dbname=chat");
  for (const char* s : {"host=db password=s3cret", "postgres://u:s3cret@h/d", "postgresql://h/d?password=s3cret"}) {
    EXPECT_EQ(redact_conninfo(s).find("s3cret"), std::string::npos) << s;
  }
}

TEST(postgres_conninfo, accepts_both_url_schemes_and_key_value_strings) {
  const std::string url = server().create_database();
  const std::string name = db_name(url);
  for (const std::string& conninfo :
       {url, "postgres://postgres@127.0.0.1:" + std::to_string(server().port()) + "/" + name,
        server().key_value_conninfo(name)}) {
    postgres_store s(conninfo, small_pool());
    auto found = await<std::optional<user>>([&](auto done) { s.find_user_by_id(1, done); });
    EXPECT_TRUE(found.has_value()) << conninfo;
    s.shutdown();
  }
}

TEST(postgres_conninfo, an_unreachable_database_fails_with_unavailable_without_the_password) {
  // Nothing listens on port 1 of loopback: refused at once.
  const auto started = std::chrono::steady_clock::now();
  auto opened = postgres_store::open("postgresql://chat:s3cret@127.0.0.1:1/chat", small_pool());
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, errc::unavailable);
  EXPECT_EQ(opened.error().message.find("s3cret"), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find("***"), std::string::npos) << opened.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));

  auto migrated = run_migrations("host=127.0.0.1 port=1 password=s3cret dbname=chat");
  ASSERT_FALSE(migrated.has_value());
  EXPECT_EQ(migrated.error().code, errc::unavailable);
  EXPECT_EQ(migrated.error().message.find("s3cret"), std::string::npos) << migrated.error().message;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// PGPASSWORD is a candidate too; the tests below want only what the string carries.
struct without_pgpassword {
  without_pgpassword() { ::unsetenv("PGPASSWORD"); }
};

TEST(postgres_conninfo, finds_the_password_in_every_form) {
  using postgres_detail::conninfo_secrets;
  without_pgpassword env;
  auto s = conninfo_secrets("postgres://u:p%40ss%20w@h/db");
  EXPECT_TRUE(contains(s, "p@ss w")) << "as libpq decodes it";
  EXPECT_TRUE(contains(s, "p%40ss%20w")) << "as written";
  s = conninfo_secrets("postgres://u:p@ss w@h/db");
  EXPECT_TRUE(contains(s, "p@ss w")) << "an unencoded '@'";
  EXPECT_TRUE(contains(s, "p%40ss%20w")) << "encoded";
  EXPECT_FALSE(contains(s, "p")) << "libpq's reading of the first '@', too short to scrub";
  EXPECT_TRUE(contains(conninfo_secrets("POSTGRES://u:s3cret@h/db"), "s3cret")) << "scheme in upper case";
  s = conninfo_secrets("postgres://u:50%off@host/db");
  EXPECT_TRUE(contains(s, "50%off")) << "libpq cannot parse it, the password is still found";
  s = conninfo_secrets("postgresql://h/db?user=u&password=s3cr%21t&sslmode=disable");
  EXPECT_TRUE(contains(s, "s3cr!t"));
  EXPECT_TRUE(contains(s, "s3cr%21t"));
  s = conninfo_secrets("host=h password='se cr\\'et' dbname=d");
  EXPECT_TRUE(contains(s, "se cr'et"));
  EXPECT_TRUE(contains(conninfo_secrets("host=h password=plain dbname=d"), "plain"));
  EXPECT_TRUE(conninfo_secrets("postgres://u@h/db").empty());
  EXPECT_TRUE(conninfo_secrets("host=h user=u dbname=d").empty());
  ::setenv("PGPASSWORD", "from-env", 1);
  EXPECT_TRUE(contains(conninfo_secrets("host=h user=u dbname=d"), "from-env"));
  ::unsetenv("PGPASSWORD");
}

TEST(postgres_conninfo, scrub_replaces_every_form_of_the_password) {
  using postgres_detail::conninfo_secrets;
  using postgres_detail::scrub;
  without_pgpassword env;
  // The message libpq gives for this URL, which once reached the log.
  EXPECT_EQ(scrub("invalid percent-encoded token: \"50%off\"", conninfo_secrets("postgres://u:50%off@host/db")),
            "invalid percent-encoded token: \"***\"");
  const auto secrets = conninfo_secrets("postgres://u:p%40ss%20w@h/db");
  EXPECT_EQ(scrub("a p@ss w b p%40ss%20w c p@ss w", secrets), "a *** b *** c ***");
  EXPECT_EQ(scrub("nothing here", secrets), "nothing here");
  EXPECT_EQ(scrub("xabcx abx", {"abc", "ab"}), "x***x ***x") << "longest first";
  EXPECT_EQ(scrub("**", {"*"}), "******") << "terminates when the mask holds the secret";
}

TEST(postgres_conninfo, scheme_case_is_ignored_everywhere) {
  EXPECT_EQ(postgres_detail::normalize_conninfo("POSTGRES://u@h/db"), "postgres://u@h/db");
  EXPECT_EQ(postgres_detail::normalize_conninfo("PostgreSQL://u@h/Db"), "postgresql://u@h/Db");
  EXPECT_EQ(postgres_detail::normalize_conninfo("host=H"), "host=H");
  EXPECT_EQ(redact_conninfo("POSTGRES://u:s3cret@h/db"), "POSTGRES://u:***@h/db");
  EXPECT_EQ(redact_conninfo("PostgreSQL://h/db?password=s3cret"), "PostgreSQL://h/db?password=***");
  // Delimiters left unencoded in the password defeat the URL syntax; the scrub still applies.
  for (const char* url : {"postgres://u:pa?ss@h/db", "postgres://u:pa/ss@h/db", "postgres://u:pa#ss@h/db"}) {
    EXPECT_EQ(redact_conninfo(url).find("pa?ss"), std::string::npos) << url;
    EXPECT_EQ(redact_conninfo(url).find("pa/ss"), std::string::npos) << url;
    EXPECT_EQ(redact_conninfo(url).find("pa#ss"), std::string::npos) << url;
  }
  // And the store connects with such a URL (libpq alone would take it for a database name).
  const std::string url = server().create_database();
  std::string upper = url;
  upper.replace(0, std::string("postgresql").size(), "POSTGRESQL");
  postgres_store s(upper, small_pool());
  auto found = await<std::optional<user>>([&](auto done) { s.find_user_by_id(1, done); });
  EXPECT_TRUE(found.has_value()) << found.error().message;
  s.shutdown();
}

TEST(postgres_conninfo, a_malformed_string_is_reported_without_libpq_text) {
  for (const char* url : {"postgres://u:50%off@127.0.0.1:1/db", "POSTGRES://u:50%off@127.0.0.1:1/db?x=1",
                          "host=127.0.0.1 password='50%off", "postgres://u:off@off@127.0.0.1:1/db"}) {
    auto opened = postgres_store::open(url, small_pool());
    ASSERT_FALSE(opened.has_value()) << url;
    EXPECT_EQ(opened.error().code, errc::unavailable);
    EXPECT_NE(opened.error().message.find("malformed connection string"), std::string::npos) << opened.error().message;
    EXPECT_EQ(opened.error().message.find("off"), std::string::npos) << opened.error().message;
    auto migrated = run_migrations(url);
    ASSERT_FALSE(migrated.has_value());
    EXPECT_NE(migrated.error().message.find("malformed connection string"), std::string::npos);
    EXPECT_EQ(migrated.error().message.find("off"), std::string::npos) << migrated.error().message;
  }
}

TEST(postgres_conninfo, a_refused_password_is_never_shown) {
  const std::string role = "pw_store_role";
  server().query("postgres", "CREATE ROLE " + role + " LOGIN PASSWORD 'Right-9kq'");
  server().query("postgres", "CREATE DATABASE pw_store_db OWNER " + role);
  server().require_password(role);
  const std::string base = "127.0.0.1:" + std::to_string(server().port()) + "/pw_store_db";
  for (const std::string& url : {"postgres://" + role + ":Wr0ng%25-7zx@" + base,
                                 "POSTGRES://" + role + ":Wr0ng%-7zx@" + base,
                                 "host=127.0.0.1 port=" + std::to_string(server().port()) + " user=" + role +
                                     " password='Wr0ng%-7zx' dbname=pw_store_db"}) {
    auto opened = postgres_store::open(url, small_pool());
    ASSERT_FALSE(opened.has_value()) << url;
    EXPECT_EQ(opened.error().code, errc::unavailable);
    EXPECT_EQ(opened.error().message.find("7zx"), std::string::npos) << opened.error().message;
  }
  // The right one works (the refusal above was the password's, not the setup's).
  auto opened = postgres_store::open("postgres://" + role + ":Right-9kq@" + base, small_pool());
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  (*opened)->shutdown();
}

// ---- session settings ----

TEST(postgres_session, synchronous_commit_off_for_the_database_is_turned_on) {
  const std::string url = server().create_database();
  const std::string name = db_name(url);
  ASSERT_TRUE(run_migrations(url).has_value());
  // Records the setting in force in the session that inserts each message: the writer's.
  server().query(name, "CREATE TABLE seen_sync (value text)");
  server().query(name,
                 "CREATE FUNCTION note_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "INSERT INTO seen_sync VALUES (current_setting('synchronous_commit')); RETURN NEW; END $$");
  server().query(name, "CREATE TRIGGER note_sync AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION note_sync()");
  server().query("postgres", "ALTER DATABASE " + name + " SET synchronous_commit = off");
  ASSERT_EQ(server().query(name, "SHOW synchronous_commit"), "off") << "a new session gets the database's setting";

  postgres_store s(url, small_pool());
  const user a = must_create(s, "sync_a");
  const user b = must_create(s, "sync_b");
  auto sent = await<send_result>(
      [&](auto done) { s.append_message(send_request{a.id, b.id, "x", std::nullopt, 1, 0}, done); });
  ASSERT_TRUE(sent.has_value()) << sent.error().message;
  EXPECT_EQ(server().query(name, "SELECT string_agg(value, ',') FROM seen_sync"), "on");
  s.shutdown();

  // A stronger setting is left alone.
  server().query("postgres", "ALTER DATABASE " + name + " SET synchronous_commit = remote_apply");
  server().query(name, "DELETE FROM seen_sync");
  postgres_store s2(url, small_pool());
  sent = await<send_result>(
      [&](auto done) { s2.append_message(send_request{a.id, b.id, "y", std::nullopt, 2, 0}, done); });
  ASSERT_TRUE(sent.has_value()) << sent.error().message;
  EXPECT_EQ(server().query(name, "SELECT string_agg(value, ',') FROM seen_sync"), "remote_apply");
  s2.shutdown();
}

// ---- migrations ----

TEST(postgres_migrations, apply_once_and_a_second_open_is_a_no_op) {
  const std::string url = server().create_database();
  const std::string name = db_name(url);
  auto first = run_migrations(url);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(*first, postgres_detail::latest_schema_version);
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM schema_version"), std::to_string(postgres_detail::latest_schema_version));
  const std::string applied = server().query(name, "SELECT max(applied_at) FROM schema_version");

  {
    postgres_store s(url, small_pool());
    must_create(s, "kept");
    s.shutdown();
  }
  auto again = run_migrations(url);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, postgres_detail::latest_schema_version);
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM schema_version"), std::to_string(postgres_detail::latest_schema_version));
  EXPECT_EQ(server().query(name, "SELECT max(applied_at) FROM schema_version"), applied) << "nothing re-applied";
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM users"), "1") << "data untouched";
  // The search indexes exist, the trigram ones are gone.
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM pg_indexes WHERE indexname IN "
                                 "('users_username_prefix', 'users_name_folded', 'user_suffixes_pkey', "
                                 "'pending_messages_pkey', 'messages_unread', 'messages_retry', 'conversations_by_hi')"),
            "7");
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM pg_indexes WHERE indexname = 'messages_pending'"), "0")
      << "replaced by pending_messages (migration 5): receipts are HOT updates";
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%trgm'"), "0");
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"), "0")
      << "installing needs no extension";
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'messages'::regclass "
                                 "AND contype = 'f'"),
            "0")
      << "messages has no foreign keys (migration 4): the write functions check the users";
}

// Migration 3 on a database that already has users (and the trigram indexes of earlier
// releases): the new search finds them, the trigram indexes are dropped, and the functions
// nodes of the previous release call keep working during a rolling upgrade.
TEST(postgres_migrations, migration_3_indexes_existing_users_for_search) {
  const std::string url = server().create_database();
  const std::string name = db_name(url);
  server().query(name, postgres_detail::create_schema_version_table);
  for (int i = 0; i < 2; ++i) {
    const auto& m = postgres_detail::migrations[i];
    server().query(name, m.sql);
    server().query(name, "INSERT INTO schema_version VALUES (" + std::to_string(m.version) + ", 'old', 0)");
  }
  // What migration 1 of earlier releases also made, and migration 3 drops.
  server().query(name, "CREATE EXTENSION pg_trgm");
  server().query(name, "CREATE INDEX users_username_trgm ON users USING gin (username_folded gin_trgm_ops)");
  server().query(name, "CREATE INDEX users_name_trgm ON users USING gin (lower(name) gin_trgm_ops)");
  server().query(name, "INSERT INTO users (username, username_folded, name, password_hash, created_at) VALUES "
                       "('Alice', 'alice', 'Alice Liddell', 'h', 0), ('bob', 'bob', 'Robert', 'h', 0)");

  postgres_store s(url, small_pool());
  auto found = await<std::vector<user>>([&](auto done) { s.search_users("li", 10, done); });
  ASSERT_TRUE(found.has_value()) << found.error().message;
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].username, "Alice");
  found = await<std::vector<user>>([&](auto done) { s.search_users("RO", 10, done); });
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].username, "bob");
  // Users created afterwards are indexed by the trigger.
  must_create(s, "carol");
  found = await<std::vector<user>>([&](auto done) { s.search_users("ro", 10, done); });
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[1].username, "carol");
  s.shutdown();

  EXPECT_EQ(server().query(name, "SELECT string_agg(r_username, ',') FROM chatrix_search_users('ro', NULL, NULL, 10)"),
            "bob,carol");
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM chatrix_mark_read(1, '{}', 0)"), "0");
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%trgm'"), "0");
}

// Migration 5 on a database with delivered and undelivered messages: the undelivered ones
// stay pending, and the functions nodes of the previous release call keep the pending table
// right during a rolling upgrade.
TEST(postgres_migrations, migration_5_keeps_pending_messages_pending) {
  const std::string url = server().create_database();
  const std::string name = db_name(url);
  server().query(name, postgres_detail::create_schema_version_table);
  for (int i = 0; i < 4; ++i) {
    const auto& m = postgres_detail::migrations[i];
    ASSERT_EQ(m.version, i + 1);
    server().query(name, m.sql);
    server().query(name, "INSERT INTO schema_version VALUES (" + std::to_string(m.version) + ", 'old', 0)");
  }
  server().query(name, "INSERT INTO users (username, username_folded, name, password_hash, created_at) VALUES "
                       "('ann', 'ann', 'ann', 'h', 0), ('ben', 'ben', 'ben', 'h', 0)");
  const std::string ids = server().query(
      name, "SELECT string_agg(r_id::text, ',' ORDER BY r_ord) FROM chatrix_append_batch("
            "'{1,1,2}', '{2,2,1}', '{one,two,back}', '{NULL,NULL,NULL}', '{10,11,12}', 0)");
  const auto first = std::stoll(ids.substr(0, ids.find(',')));
  const auto second = std::stoll(ids.substr(ids.find(',') + 1, ids.rfind(',') - ids.find(',') - 1));
  ASSERT_EQ(server().query(name, "SELECT count(*) FROM chatrix_mark_delivered_batch('{0}', '{2}', '{" +
                                     std::to_string(first) + "}', '{20}')"),
            "1");

  postgres_store s(url, small_pool());
  auto pending = await<std::vector<message>>([&](auto done) { s.pending_messages(2, 0, 10, done); });
  ASSERT_TRUE(pending.has_value()) << pending.error().message;
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, second);
  EXPECT_EQ((*pending)[0].content, "two");
  pending = await<std::vector<message>>([&](auto done) { s.pending_messages(1, 0, 10, done); });
  ASSERT_TRUE(pending.has_value());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].content, "back");

  // chatrix_append is only called by nodes of the previous release.
  const auto old_node = std::stoll(server().query(name, "SELECT r_id FROM chatrix_append(1, 2, 'old node', NULL, 30, 0)"));
  pending = await<std::vector<message>>([&](auto done) { s.pending_messages(2, 0, 10, done); });
  ASSERT_TRUE(pending.has_value());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[1].id, old_node);

  auto receipts = await<delivered_result>([&](auto done) { s.mark_delivered(2, {second, old_node}, 40, done); });
  ASSERT_TRUE(receipts.has_value());
  EXPECT_EQ(receipts->delivered.size(), 2u);
  pending = await<std::vector<message>>([&](auto done) { s.pending_messages(2, 0, 10, done); });
  ASSERT_TRUE(pending.has_value());
  EXPECT_TRUE(pending->empty());
  s.shutdown();
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM messages WHERE delivered_at IS NULL"), "1") << "only 'back'";
  EXPECT_EQ(server().query(name, "SELECT count(*) FROM pending_messages"), "1");
}

TEST(postgres_migrations, stores_starting_at_once_on_a_fresh_database_all_succeed) {
  const std::string url = server().create_database();
  constexpr int nodes = 4;
  std::vector<std::optional<result<std::unique_ptr<postgres_store>>>> opened(nodes);
  std::vector<std::thread> starters;
  for (int i = 0; i < nodes; ++i) {
    starters.emplace_back([&, i] { opened[static_cast<std::size_t>(i)].emplace(postgres_store::open(url, small_pool())); });
  }
  for (auto& t : starters) t.join();
  for (auto& o : opened) ASSERT_TRUE(o && o->has_value()) << (o ? o->error().message : "not run");
  EXPECT_EQ(server().query(db_name(url), "SELECT count(*) FROM schema_version"), std::to_string(postgres_detail::latest_schema_version));
  EXPECT_EQ(server().query(db_name(url), "SELECT max(version) FROM schema_version"), std::to_string(postgres_detail::latest_schema_version));
  for (auto& o : opened) (**o)->shutdown();
}

TEST(postgres_migrations, a_newer_schema_is_refused) {
  const std::string url = server().create_database();
  ASSERT_TRUE(run_migrations(url).has_value());
  server().query(db_name(url), "INSERT INTO schema_version VALUES (99, 'from the future', 0)");
  auto opened = postgres_store::open(url, small_pool());
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, errc::unavailable);
  EXPECT_NE(opened.error().message.find("newer"), std::string::npos) << opened.error().message;
}

// ---- group commit ----

TEST(postgres_group_commit, concurrent_appends_from_many_threads_complete_in_order_per_thread) {
  const std::string url = server().create_database();
  postgres_store s(url, small_pool());
  const user a = must_create(s, "gc_a");
  const user b = must_create(s, "gc_b");
  constexpr int threads = 6;
  constexpr int per_thread = 500;
  completion_log<send_result> log;
  const auto before = s.committed_batches();
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const bool forward = (t + i) % 2 == 0;
        s.append_message(send_request{forward ? a.id : b.id, forward ? b.id : a.id,
                                      std::to_string(t) + ":" + std::to_string(i), std::nullopt, 1000 + i, 0},
                         log.make(t * per_thread + i));
      }
    });
  }
  for (auto& t : senders) t.join();
  ASSERT_TRUE(log.wait_for(threads * per_thread));

  std::map<int, int> last_seen;  // thread -> last index completed
  std::vector<std::int64_t> seqs;
  std::set<std::thread::id> callback_threads;
  for (const auto& e : log.entries()) {
    ASSERT_TRUE(e.outcome.has_value()) << e.outcome.error().message;
    const int t = e.tag / per_thread;
    const int i = e.tag % per_thread;
    const auto it = last_seen.find(t);
    if (it != last_seen.end()) {
      ASSERT_GT(i, it->second) << "thread " << t << ": callbacks out of submission order";
    }
    last_seen[t] = i;
    EXPECT_EQ(e.outcome->stored.content, std::to_string(t) + ":" + std::to_string(i));
    seqs.push_back(e.outcome->stored.seq);
    callback_threads.insert(e.thread);
  }
  std::sort(seqs.begin(), seqs.end());
  for (int i = 0; i < threads * per_thread; ++i) ASSERT_EQ(seqs[static_cast<std::size_t>(i)], i + 1) << "gap";
  const auto batches = s.committed_batches() - before;
  EXPECT_LT(batches, static_cast<std::uint64_t>(threads * per_thread)) << "writes shared transactions";
  EXPECT_EQ(callback_threads.size(), 1u) << "all on the store's thread";
  EXPECT_EQ(server().query(db_name(url), "SELECT count(*) FROM messages"), std::to_string(threads * per_thread));
  s.shutdown();
}

TEST(postgres_group_commit, two_stores_on_one_database_share_conversations_and_seq) {
  // Two nodes: conversation get-or-create and seq assignment must hold across them.
  const std::string url = server().create_database();
  postgres_store n1(url, small_pool());
  postgres_store n2(url, small_pool());
  const user a = must_create(n1, "node_a");
  const user b = must_create(n2, "node_b");
  constexpr int per_node = 300;
  completion_log<send_result> log;
  std::thread t1([&] {
    for (int i = 0; i < per_node; ++i) n1.append_message(send_request{a.id, b.id, "n1", std::nullopt, 1, 0}, log.make(i));
  });
  std::thread t2([&] {
    for (int i = 0; i < per_node; ++i) {
      n2.append_message(send_request{b.id, a.id, "n2", std::nullopt, 1, 0}, log.make(per_node + i));
    }
  });
  t1.join();
  t2.join();
  ASSERT_TRUE(log.wait_for(2 * per_node));
  std::set<conversation_id> conversations;
  std::vector<std::int64_t> seqs;
  for (const auto& e : log.entries()) {
    ASSERT_TRUE(e.outcome.has_value()) << e.outcome.error().message;
    conversations.insert(e.outcome->stored.conversation);
    seqs.push_back(e.outcome->stored.seq);
  }
  EXPECT_EQ(conversations.size(), 1u);
  std::sort(seqs.begin(), seqs.end());
  for (int i = 0; i < 2 * per_node; ++i) ASSERT_EQ(seqs[static_cast<std::size_t>(i)], i + 1);
  // ids grow with seq within the conversation (history paging relies on it).
  EXPECT_EQ(server().query(db_name(url),
                           "SELECT count(*) FROM messages m1 JOIN messages m2 ON m1.conversation_id = m2.conversation_id "
                           "AND m1.seq < m2.seq AND m1.id > m2.id"),
            "0");
  n1.shutdown();
  n2.shutdown();
}

// The writer sends consecutive appends as one chatrix_append_batch call; the outcomes must be
// those of storing them one by one.
TEST(postgres_group_commit, grouped_appends_match_one_by_one) {
  const std::string url = server().create_database();
  postgres_store s(url, small_pool());
  const user a = must_create(s, "grp_a");
  const user b = must_create(s, "grp_b");
  const user c = must_create(s, "grp_c");
  constexpr unix_ms window = 60'000;

  postgres_options opts = small_pool();
  gate_guard gate;
  opts.before_write_batch = [f = gate.future()] { f.wait(); };
  postgres_store gated(url, opts);
  completion_log<send_result> sent;
  gated.append_message(send_request{a.id, b.id, "one", "1", 1000, window}, sent.make(0));
  gated.append_message(send_request{b.id, a.id, "two", "1", 1001, window}, sent.make(1));  // other sender
  gated.append_message(send_request{a.id, b.id, "one", "1", 1002, window}, sent.make(2));  // a retry of 0
  gated.append_message(send_request{a.id, b.id, "one!", "1", 1003, window}, sent.make(3));  // new text
  gated.append_message(send_request{a.id, 999999, "lost", "2", 1004, window}, sent.make(4));
  gated.append_message(send_request{a.id, c.id, "three \"q\" \\ {x,y}", "3", 1005, window}, sent.make(5));
  gated.append_message(send_request{a.id, b.id, "four", std::nullopt, 1006, window}, sent.make(6));
  gate.open();
  ASSERT_TRUE(sent.wait_for(7));
  // Completion order is call order per writer only (another pair may be on another writer).
  auto e = sent.entries();
  std::sort(e.begin(), e.end(), [](const auto& x, const auto& y) { return x.tag < y.tag; });
  for (int i : {0, 1, 2, 3, 5, 6}) ASSERT_TRUE(e[static_cast<std::size_t>(i)].outcome.has_value()) << i;
  const message& one = e[0].outcome->stored;
  const message& two = e[1].outcome->stored;
  const message& one_again = e[3].outcome->stored;
  const message& three = e[5].outcome->stored;
  const message& four = e[6].outcome->stored;
  EXPECT_FALSE(e[0].outcome->duplicate);
  EXPECT_FALSE(e[1].outcome->duplicate);
  EXPECT_TRUE(e[2].outcome->duplicate);
  EXPECT_EQ(e[2].outcome->stored.id, one.id);
  EXPECT_EQ(e[2].outcome->stored.seq, one.seq);
  EXPECT_FALSE(e[3].outcome->duplicate) << "other content: not a retry";
  ASSERT_FALSE(e[4].outcome.has_value());
  EXPECT_EQ(e[4].outcome.error().code, errc::unknown_recipient);
  EXPECT_EQ(one.seq, 1);
  EXPECT_EQ(two.seq, 2);
  EXPECT_EQ(one_again.seq, 3);
  EXPECT_EQ(four.seq, 4);
  EXPECT_EQ(two.conversation, one.conversation);
  EXPECT_EQ(three.seq, 1);
  EXPECT_NE(three.conversation, one.conversation);
  EXPECT_LT(one.id, two.id);
  EXPECT_LT(two.id, one_again.id);
  EXPECT_LT(one_again.id, four.id);

  // What was stored is what was sent (quotes, backslashes and braces survive the array).
  auto history = await<std::vector<message>>([&](auto done) { s.history(a.id, c.id, std::nullopt, 10, done); });
  ASSERT_TRUE(history.has_value());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->front().content, "three \"q\" \\ {x,y}");
  // A retry after the commit is found in the database.
  auto later = await<send_result>(
      [&](auto done) { s.append_message(send_request{a.id, b.id, "one", "1", 2000, window}, done); });
  ASSERT_TRUE(later.has_value());
  EXPECT_TRUE(later->duplicate);
  EXPECT_EQ(later->stored.id, one.id);
  gated.shutdown();

  // Receipts of several calls in one batch: one chatrix_mark_delivered_batch call.
  gate_guard receipts_gate;
  postgres_options ropts = small_pool();
  ropts.before_write_batch = [f = receipts_gate.future()] { f.wait(); };
  postgres_store receipts_store(url, ropts);
  completion_log<delivered_result> receipts;
  receipts_store.mark_delivered(b.id, {one.id, one.id, two.id}, 5000, receipts.make(0));  // two is to a
  receipts_store.mark_delivered(b.id, {one.id, four.id}, 5000, receipts.make(1));         // one is taken
  receipts_store.mark_delivered(a.id, {two.id}, 6000, receipts.make(2));
  receipts_store.mark_delivered(a.id, {}, 6000, receipts.make(3));
  receipts_gate.open();
  ASSERT_TRUE(receipts.wait_for(4));
  auto r = receipts.entries();
  std::sort(r.begin(), r.end(), [](const auto& x, const auto& y) { return x.tag < y.tag; });
  auto ids = [](const result<delivered_result>& refs) {
    std::vector<message_id> out;
    for (const auto& ref : refs.value().delivered) out.push_back(ref.id);
    return out;
  };
  EXPECT_EQ(ids(r[0].outcome), std::vector<message_id>{one.id});
  EXPECT_EQ(ids(r[1].outcome), std::vector<message_id>{four.id});
  EXPECT_EQ(ids(r[2].outcome), std::vector<message_id>{two.id});
  EXPECT_TRUE(ids(r[3].outcome).empty());
  EXPECT_EQ(r[0].outcome->delivered.front().sender, a.id);
  EXPECT_EQ(r[0].outcome->delivered.front().recipient, b.id);
  auto pending_b = await<std::vector<message>>([&](auto done) { s.pending_messages(b.id, 0, 10, done); });
  ASSERT_TRUE(pending_b.has_value());
  ASSERT_EQ(pending_b->size(), 1u);
  EXPECT_EQ(pending_b->front().id, one_again.id);
  receipts_store.shutdown();
  s.shutdown();
}

TEST(postgres_group_commit, a_statement_error_fails_only_its_own_write) {
  // Invalid UTF-8 is rejected by the server: an SQL error inside the batch's pipeline,
  // which aborts the transaction. The other writes of the batch must still commit.
  const std::string url = server().create_database();
  postgres_store s(url, small_pool());
  const user a = must_create(s, "err_a");
  const user b = must_create(s, "err_b");

  // A second store whose writer waits for the gate, so that the three writes form one batch.
  postgres_options opts = small_pool();
  gate_guard gate;
  opts.before_write_batch = [f = gate.future()] { f.wait(); };
  postgres_store gated(url, opts);
  completion_log<send_result> log;
  gated.append_message(send_request{a.id, b.id, "before", std::nullopt, 1, 0}, log.make(0));
  gated.append_message(send_request{a.id, b.id, "bad \xff\xfe bytes", std::nullopt, 2, 0}, log.make(1));
  gated.append_message(send_request{a.id, b.id, "after", std::nullopt, 3, 0}, log.make(2));
  gate.open();
  ASSERT_TRUE(log.wait_for(3));
  const auto entries = log.entries();
  ASSERT_TRUE(entries[0].outcome.has_value()) << entries[0].outcome.error().message;
  ASSERT_FALSE(entries[1].outcome.has_value());
  EXPECT_EQ(entries[1].outcome.error().code, errc::internal);
  ASSERT_TRUE(entries[2].outcome.has_value()) << entries[2].outcome.error().message;
  EXPECT_EQ(entries[0].outcome->stored.seq, 1);
  EXPECT_EQ(entries[2].outcome->stored.seq, 2) << "the failed write left no gap";

  // And the connection is still good for the next batch.
  auto next = await<send_result>([&](auto done) {
    gated.append_message(send_request{b.id, a.id, "still fine", std::nullopt, 4, 0}, done);
  });
  ASSERT_TRUE(next.has_value()) << next.error().message;
  EXPECT_EQ(next->stored.seq, 3);
  gated.shutdown();
  s.shutdown();
}

// ---- connecting devices ----

std::string shown(const std::optional<unix_ms>& t) { return t ? std::to_string(*t) : "-"; }

std::string shown(const message& m) {
  return std::to_string(m.id) + "/" + std::to_string(m.conversation) + "/" + std::to_string(m.seq) + "/" +
         std::to_string(m.sender) + ">" + std::to_string(m.recipient) + "/" + m.content + "/" +
         std::to_string(m.created_at) + "/" + shown(m.delivered_at) + "/" + shown(m.read_at);
}

std::string shown(const chat_preview& p) {
  return std::to_string(p.conversation) + " " + std::to_string(p.peer.id) + ":" + p.peer.username + ":" +
         p.peer.name + " unread " + std::to_string(p.unread) + " at " + std::to_string(p.updated_at) + " last " +
         (p.last ? shown(*p.last) : "-");
}

template <class T>
std::vector<std::string> shown_all(const std::vector<T>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) out.push_back(shown(item));
  return out;
}

// session_start has a statement of its own (one round trip for a connecting device): it
// must answer, field by field, what chat_previews and pending_messages answer.
TEST(postgres_session_start, answers_as_previews_and_pending_messages_do) {
  postgres_store s(server().create_database(), small_pool());
  const user viewer = must_create(s, "viewer");
  std::vector<message_id> to_viewer;
  for (int i = 0; i < 6; ++i) {
    const user peer = must_create(s, "peer" + std::to_string(i));
    for (int k = 0; k <= i % 3; ++k) {
      const bool inbound = (i + k) % 2 == 0;
      send_request req{inbound ? peer.id : viewer.id, inbound ? viewer.id : peer.id, "m", std::nullopt, 100 * i + k, 0};
      req.content.append(std::to_string(i)).append(".").append(std::to_string(k));
      const auto sent = await<send_result>([&](auto done) { s.append_message(req, done); });
      ASSERT_TRUE(sent.has_value()) << sent.error().message;
      if (inbound) to_viewer.push_back(sent->stored.id);
    }
  }
  ASSERT_GE(to_viewer.size(), 4u);
  ASSERT_TRUE(await<delivered_result>([&](auto done) { s.mark_delivered(viewer.id, {to_viewer[0]}, 7, done); }));
  ASSERT_TRUE(await<read_result>([&](auto done) { s.mark_read(viewer.id, {to_viewer[1]}, 8, done); }));

  for (const auto& [previews_limit, pending_limit] : {std::pair{10, 10}, std::pair{3, 2}, std::pair{0, 1}}) {
    const auto start = await<session_snapshot>(
        [&](auto done) { s.session_start(viewer.id, previews_limit, pending_limit, done); });
    const auto previews =
        await<std::vector<chat_preview>>([&](auto done) { s.chat_previews(viewer.id, previews_limit, done); });
    const auto pending =
        await<std::vector<message>>([&](auto done) { s.pending_messages(viewer.id, 0, pending_limit, done); });
    ASSERT_TRUE(start.has_value()) << start.error().message;
    ASSERT_TRUE(previews.has_value() && pending.has_value());
    EXPECT_EQ(shown_all(start->previews), shown_all(*previews)) << previews_limit;
    EXPECT_EQ(shown_all(start->pending), shown_all(*pending)) << pending_limit;
  }
  s.shutdown();
}

}  // namespace
}  // namespace chatrix::storage::testing
