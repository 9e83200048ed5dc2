// The PostgreSQL store's event stream, edits, deletes, replies, attachments, files and
// paging: what the results and the database hold after each write, and the stream under
// concurrency (several writer connections and two stores writing crossing pairs at once:
// positions gap-free per user, no deadlock).

#include "store_contract.hpp"

#include "storage/postgres/postgres_store.hpp"
#include "support/pg_instance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

postgres_options options(std::chrono::milliseconds retention = std::chrono::hours(24)) {
  postgres_options opts;
  opts.pool_size = 2;
  opts.writers = 3;
  opts.sync_retention = retention;
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

user make_user(store& s, const std::string& name) {
  return must<user>([&](auto done) { s.create_user(new_user{name, name, "h", 1}, done); });
}

send_result send(store& s, user_id from, user_id to, std::string content, unix_ms now = 1000,
                 std::optional<message_id> reply_to = {}, std::optional<std::string> attachment = {}) {
  send_request req{from, to, std::move(content), std::nullopt, now, 0};
  req.reply_to = reply_to;
  req.attachment = std::move(attachment);
  return must<send_result>([&](auto done) { s.append_message(req, done); });
}

stream_page events_of(store& s, user_id viewer, stream_pos since = 0, int limit = 100) {
  return must<stream_page>([&](auto done) { s.stream_events(viewer, since, limit, done); });
}

/// (owner, pos, kind, ids) of entries, sorted, for comparisons.
using entry_key = std::tuple<user_id, stream_pos, int, std::vector<message_id>>;
std::vector<entry_key> keys(const std::vector<stream_entry>& entries) {
  std::vector<entry_key> out;
  for (const auto& e : entries) out.emplace_back(e.owner, e.pos, static_cast<int>(e.kind), e.ids);
  std::sort(out.begin(), out.end());
  return out;
}

class pg_stream : public ::testing::Test {
 protected:
  void SetUp() override { s_ = std::make_unique<postgres_store>(url_, options()); }
  void TearDown() override {
    if (s_) s_->shutdown();
  }
  store& db() { return *s_; }
  std::string query(const std::string& sql) { return server().query(db_name(url_), sql); }

  std::string url_ = server().create_database();
  std::unique_ptr<postgres_store> s_;
};

TEST_F(pg_stream, writes_add_their_events_to_the_streams_of_the_people_concerned) {
  const user ann = make_user(db(), "ann"), bob = make_user(db(), "bob");
  const send_result first = send(db(), ann.id, bob.id, "hi", 1000);
  ASSERT_EQ(first.stream.size(), 2u);
  EXPECT_EQ(keys(first.stream), (std::vector<entry_key>{{ann.id, 1, 0, {first.stored.id}},
                                                        {bob.id, 1, 0, {first.stored.id}}}));
  for (const auto& e : first.stream) {
    EXPECT_EQ(e.conversation, first.stored.conversation);
    EXPECT_EQ(e.at, 1000);
  }
  const send_result second = send(db(), bob.id, ann.id, "hello", 1010);
  EXPECT_EQ(keys(second.stream), (std::vector<entry_key>{{ann.id, 2, 0, {second.stored.id}},
                                                         {bob.id, 2, 0, {second.stored.id}}}));

  // A retry is not news.
  send_request retry{ann.id, bob.id, "again", "m1", 1020, 60'000};
  const auto original = must<send_result>([&](auto done) { db().append_message(retry, done); });
  const auto duplicate = must<send_result>([&](auto done) { db().append_message(retry, done); });
  EXPECT_EQ(original.stream.size(), 2u);
  EXPECT_TRUE(duplicate.duplicate);
  EXPECT_TRUE(duplicate.stream.empty());

  // Receipts: one received event in the sender's stream per conversation.
  const auto delivered = must<delivered_result>(
      [&](auto done) { db().mark_delivered(bob.id, {first.stored.id, original.stored.id}, 1030, done); });
  EXPECT_EQ(keys(delivered.stream),
            (std::vector<entry_key>{{ann.id, 4, 1, {first.stored.id, original.stored.id}}}));
  const auto again = must<delivered_result>([&](auto done) { db().mark_delivered(bob.id, {first.stored.id}, 1031, done); });
  EXPECT_TRUE(again.delivered.empty());
  EXPECT_TRUE(again.stream.empty()) << "nothing newly delivered, no event";

  // A read: received (for what it delivered) and read in the sender's, read_self in the reader's.
  const auto read = must<read_result>([&](auto done) { db().mark_read(ann.id, {second.stored.id}, 1040, done); });
  EXPECT_EQ(keys(read.stream), (std::vector<entry_key>{{ann.id, 5, 3, {second.stored.id}},
                                                       {bob.id, 4, 1, {second.stored.id}},
                                                       {bob.id, 5, 2, {second.stored.id}}}));

  // Read back: every event, oldest first, with the messages of message events.
  const stream_page page = events_of(db(), bob.id);
  EXPECT_FALSE(page.expired);
  EXPECT_EQ(page.latest, 5);
  ASSERT_EQ(page.events.size(), 5u);
  for (std::size_t i = 0; i < page.events.size(); ++i) EXPECT_EQ(page.events[i].entry.pos, static_cast<stream_pos>(i + 1));
  ASSERT_EQ(page.events[0].messages.size(), 1u);
  EXPECT_EQ(page.events[0].messages[0].content, "hi");
  EXPECT_EQ(page.events[0].entry.kind, stream_kind::message);
  EXPECT_EQ(page.events[3].entry.kind, stream_kind::received);
  EXPECT_TRUE(page.events[3].messages.empty());
  EXPECT_EQ(events_of(db(), bob.id, 3).events.size(), 2u);
  EXPECT_EQ(events_of(db(), bob.id, 0, 2).events.size(), 2u);
  EXPECT_TRUE(events_of(db(), bob.id, 5).events.empty());
  EXPECT_FALSE(events_of(db(), bob.id, 5).expired);
  EXPECT_TRUE(events_of(db(), bob.id, 6).expired) << "never issued";
  EXPECT_TRUE(events_of(db(), bob.id, -1).expired);
  const stream_page nobody = events_of(db(), make_user(db(), "cy").id);
  EXPECT_EQ(nobody.latest, 0);
  EXPECT_FALSE(nobody.expired);
  EXPECT_EQ(query("SELECT count(*) FROM stream_events"), "10");
}

TEST_F(pg_stream, session_start_and_resume_read_one_snapshot) {
  const user ann = make_user(db(), "ann"), bob = make_user(db(), "bob");
  const auto m1 = send(db(), ann.id, bob.id, "one", 1000);
  const auto m2 = send(db(), ann.id, bob.id, "two", 1010);
  const auto start = must<session_snapshot>([&](auto done) { db().session_start(bob.id, 10, 10, done); });
  EXPECT_EQ(start.latest, 2);
  EXPECT_EQ(start.previews.size(), 1u);
  EXPECT_EQ(start.pending.size(), 2u);
  EXPECT_FALSE(start.stream.has_value());

  const auto resumed = must<session_snapshot>([&](auto done) { db().session_resume(bob.id, 10, 1, 10, 10, done); });
  EXPECT_EQ(resumed.latest, 2);
  ASSERT_EQ(resumed.previews.size(), 1u);
  EXPECT_EQ(resumed.previews[0].last->id, m2.stored.id);
  EXPECT_TRUE(resumed.pending.empty());
  ASSERT_TRUE(resumed.stream.has_value());
  EXPECT_FALSE(resumed.stream->expired);
  ASSERT_EQ(resumed.stream->events.size(), 1u);
  EXPECT_EQ(resumed.stream->events[0].entry.pos, 2);
  ASSERT_EQ(resumed.stream->events[0].messages.size(), 1u);
  EXPECT_EQ(resumed.stream->events[0].messages[0].id, m2.stored.id);

  const auto expired = must<session_snapshot>([&](auto done) { db().session_resume(bob.id, 10, 7, 10, 10, done); });
  ASSERT_TRUE(expired.stream.has_value());
  EXPECT_TRUE(expired.stream->expired);
  EXPECT_TRUE(expired.stream->events.empty());
  ASSERT_EQ(expired.pending.size(), 2u) << "expired: the pending messages instead";
  EXPECT_EQ(expired.pending[0].id, m1.stored.id);
  EXPECT_EQ(expired.latest, 2);
}

TEST_F(pg_stream, old_events_are_forgotten_a_few_at_a_time_and_since_below_them_expires) {
  s_->shutdown();
  s_ = std::make_unique<postgres_store>(url_, options(std::chrono::milliseconds(1000)));
  const user ann = make_user(db(), "ann"), bob = make_user(db(), "bob");
  for (int i = 0; i < 40; ++i) send(db(), ann.id, bob.id, "old", 1000 + i);
  EXPECT_EQ(events_of(db(), bob.id).events.size(), 40u) << "nothing is older than the retention yet";
  send(db(), ann.id, bob.id, "new", 100'000);
  // This write added one event to bob's stream: it forgets 1 + 8 of them, from the oldest (8
  // more if the write also drew bob's stream at random).
  const stream_pos pruned = std::stoll(query("SELECT pruned_through FROM stream_heads WHERE user_id = " +
                                             std::to_string(bob.id)));
  EXPECT_TRUE(pruned == 9 || pruned == 17) << pruned;
  EXPECT_TRUE(events_of(db(), bob.id, pruned - 1).expired);
  const auto page = events_of(db(), bob.id, pruned);
  EXPECT_FALSE(page.expired);
  EXPECT_EQ(page.events.front().entry.pos, pruned + 1);
  for (int i = 1; i <= 4; ++i) send(db(), ann.id, bob.id, "newer", 100'000 + i);
  EXPECT_EQ(query("SELECT pruned_through FROM stream_heads WHERE user_id = " + std::to_string(bob.id)), "40")
      << "the new events are kept";
  EXPECT_EQ(events_of(db(), bob.id, 40).events.size(), 5u);
  EXPECT_EQ(query("SELECT count(*) FROM stream_events WHERE user_id = " + std::to_string(bob.id)), "5");
}

// One transaction holding every kind of write (the writer groups appends and receipts, and
// ends with one flush for all): each result gets exactly its own events, and each stream's
// positions follow the order the writes were applied in.
TEST_F(pg_stream, one_batch_of_every_kind_of_write_hands_each_its_own_events) {
  const user ann = make_user(db(), "ann"), bob = make_user(db(), "bob");
  const auto m1 = send(db(), ann.id, bob.id, "one", 1000);
  const auto m2 = send(db(), bob.id, ann.id, "two", 1001);

  postgres_options opts = options();
  opts.writers = 1;  // one batch, one transaction
  gate_guard gate;
  opts.before_write_batch = [f = gate.future()] { f.wait(); };
  postgres_store gated(url_, opts);
  completion_log<send_result> sent;
  completion_log<delivered_result> delivered;
  completion_log<read_result> read;
  completion_log<edit_result> edited;
  completion_log<delete_result> deleted;
  gated.mark_delivered(bob.id, {m1.stored.id}, 2000, delivered.make(0));
  gated.append_message(send_request{ann.id, bob.id, "three", std::nullopt, 2001, 0}, sent.make(0));
  gated.mark_read(ann.id, {m2.stored.id}, 2002, read.make(0));
  gated.edit_message(edit_request{ann.id, m1.stored.id, "one!", 2003, 60'000}, edited.make(0));
  gated.append_message(send_request{bob.id, ann.id, "four", std::nullopt, 2004, 0}, sent.make(1));
  gated.delete_messages(delete_request{bob.id, {m2.stored.id}, 2005}, deleted.make(0));
  gated.mark_delivered(bob.id, {m1.stored.id}, 2006, delivered.make(1));  // nothing new
  const auto batches = gated.committed_batches();
  gate.open();
  ASSERT_TRUE(sent.wait_for(2) && delivered.wait_for(2) && read.wait_for(1) && edited.wait_for(1) &&
              deleted.wait_for(1));
  EXPECT_EQ(gated.committed_batches(), batches + 1) << "one transaction";

  std::vector<stream_entry> reported;
  const auto take = [&](const auto& log) {
    for (const auto& e : log.entries()) {
      ASSERT_TRUE(e.outcome.has_value()) << e.outcome.error().message;
      reported.insert(reported.end(), e.outcome->stream.begin(), e.outcome->stream.end());
    }
  };
  take(sent);
  take(delivered);
  take(read);
  take(edited);
  take(deleted);
  message_id three = 0, four = 0;
  for (const auto& e : sent.entries()) (e.tag == 0 ? three : four) = e.outcome->stored.id;
  // Appends go first in a batch, then the rest in call order.
  EXPECT_EQ(keys(reported), (std::vector<entry_key>{{ann.id, 3, 0, {three}},
                                                    {ann.id, 4, 0, {four}},
                                                    {ann.id, 5, 1, {m1.stored.id}},
                                                    {ann.id, 6, 3, {m2.stored.id}},
                                                    {ann.id, 7, 4, {m1.stored.id}},
                                                    {ann.id, 8, 5, {m2.stored.id}},
                                                    {bob.id, 3, 0, {three}},
                                                    {bob.id, 4, 0, {four}},
                                                    {bob.id, 5, 1, {m2.stored.id}},
                                                    {bob.id, 6, 2, {m2.stored.id}},
                                                    {bob.id, 7, 4, {m1.stored.id}},
                                                    {bob.id, 8, 5, {m2.stored.id}}}));
  for (const auto& e : delivered.entries()) {
    if (e.tag == 1) {
      EXPECT_TRUE(e.outcome->stream.empty()) << "nothing newly delivered";
    }
  }
  std::vector<stream_entry> stored;
  for (const user_id u : {ann.id, bob.id})
    for (const auto& e : events_of(db(), u, 2).events) stored.push_back(e.entry);
  EXPECT_EQ(keys(stored), keys(reported));
  gated.shutdown();
}

// Several writer connections per store and two stores: crossing pairs (every user writes with
// both neighbours), receipts and reads, all at once. Every user's stream must be 1..N without
// a gap or a repeat, hold exactly the events the results reported, and no transaction may
// have deadlocked.
TEST_F(pg_stream, crossing_pairs_on_several_writers_and_stores_keep_every_stream_gap_free_without_deadlocks) {
  postgres_store other(url_, options());
  constexpr int users = 8;
  constexpr int rounds = 60;
  std::vector<user> people;
  for (int i = 0; i < users; ++i) people.push_back(make_user(db(), "u" + std::to_string(i)));
  const std::string deadlocks_before =
      query("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()");

  completion_log<send_result> sent;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      store& s = t == 0 ? static_cast<store&>(db()) : static_cast<store&>(other);
      for (int r = 0; r < rounds; ++r) {
        for (int i = 0; i < users; ++i) {
          // Store 0 writes i -> i+1, store 1 writes i+1 -> i: the same pairs from both ends.
          const user& a = people[static_cast<std::size_t>(i)];
          const user& b = people[static_cast<std::size_t>((i + 1) % users)];
          if (t == 0)
            s.append_message(send_request{a.id, b.id, "x", std::nullopt, 1000 + r, 0}, sent.make(i));
          else
            s.append_message(send_request{b.id, a.id, "y", std::nullopt, 1000 + r, 0}, sent.make(i));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(sent.wait_for(2 * rounds * users));

  // Receipts and reads of everything, from both stores at once, per recipient.
  std::map<user_id, std::vector<message_id>> to;
  std::vector<stream_entry> reported;
  for (const auto& e : sent.entries()) {
    ASSERT_TRUE(e.outcome.has_value()) << e.outcome.error().message;
    to[e.outcome->stored.recipient].push_back(e.outcome->stored.id);
    reported.insert(reported.end(), e.outcome->stream.begin(), e.outcome->stream.end());
  }
  completion_log<delivered_result> delivered;
  completion_log<read_result> read;
  std::size_t receipts = 0, reads = 0;
  for (const auto& [recipient, ids] : to) {
    for (std::size_t i = 0; i < ids.size(); i += 10) {
      std::vector<message_id> chunk(ids.begin() + static_cast<std::ptrdiff_t>(i),
                                    ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + 10)));
      if ((i / 10) % 2 == 0) {
        db().mark_delivered(recipient, chunk, 5000, delivered.make(0));
        ++receipts;
      } else {
        other.mark_read(recipient, chunk, 5000, read.make(0));
        ++reads;
      }
    }
  }
  ASSERT_TRUE(delivered.wait_for(receipts));
  ASSERT_TRUE(read.wait_for(reads));
  for (const auto& e : delivered.entries()) {
    ASSERT_TRUE(e.outcome.has_value()) << e.outcome.error().message;
    reported.insert(reported.end(), e.outcome->stream.begin(), e.outcome->stream.end());
  }
  for (const auto& e : read.entries()) {
    ASSERT_TRUE(e.outcome.has_value()) << e.outcome.error().message;
    reported.insert(reported.end(), e.outcome->stream.begin(), e.outcome->stream.end());
  }

  std::vector<stream_entry> stored;
  for (const user& u : people) {
    const auto page = events_of(db(), u.id, 0, 100000);
    ASSERT_FALSE(page.events.empty());
    for (std::size_t i = 0; i < page.events.size(); ++i)
      ASSERT_EQ(page.events[i].entry.pos, static_cast<stream_pos>(i + 1)) << "user " << u.username;
    EXPECT_EQ(page.latest, static_cast<stream_pos>(page.events.size()));
    // Each user is in two pairs, sending and receiving rounds messages in each.
    EXPECT_EQ(std::count_if(page.events.begin(), page.events.end(),
                            [](const stream_event& e) { return e.entry.kind == stream_kind::message; }),
              4 * rounds);
    for (const auto& e : page.events) stored.push_back(e.entry);
  }
  EXPECT_EQ(keys(reported), keys(stored)) << "the results report exactly what is stored";
  EXPECT_EQ(query("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"), deadlocks_before);
  other.shutdown();
}

TEST_F(pg_stream, edits_and_deletes_by_the_sender_reach_both_streams_and_leave_no_text_behind) {
  const user ann = make_user(db(), "ann"), bob = make_user(db(), "bob"), cy = make_user(db(), "cy");
  const auto m = send(db(), ann.id, bob.id, "secret words", 1000);
  const auto other = send(db(), ann.id, cy.id, "to cy", 1001);

  const auto edited = must<edit_result>(
      [&](auto done) { db().edit_message(edit_request{ann.id, m.stored.id, "fixed", 2000, 10'000}, done); });
  EXPECT_EQ(edited.edited.content, "fixed");
  EXPECT_EQ(edited.edited.edited_at, 2000);
  EXPECT_EQ(keys(edited.stream),
            (std::vector<entry_key>{{ann.id, 3, 4, {m.stored.id}}, {bob.id, 2, 4, {m.stored.id}}}));
  const auto page = events_of(db(), bob.id, 1);
  ASSERT_EQ(page.events.size(), 1u);
  ASSERT_EQ(page.events[0].messages.size(), 1u);
  EXPECT_EQ(page.events[0].messages[0].content, "fixed");

  EXPECT_EQ(fails_with<edit_result>(
                [&](auto done) { db().edit_message(edit_request{bob.id, m.stored.id, "x", 2000, 10'000}, done); }),
            errc::forbidden);
  EXPECT_EQ(fails_with<edit_result>(
                [&](auto done) { db().edit_message(edit_request{cy.id, m.stored.id, "x", 2000, 10'000}, done); }),
            errc::not_found);
  EXPECT_EQ(fails_with<edit_result>(
                [&](auto done) { db().edit_message(edit_request{ann.id, 999999, "x", 2000, 10'000}, done); }),
            errc::not_found);
  EXPECT_EQ(fails_with<edit_result>(
                [&](auto done) { db().edit_message(edit_request{ann.id, m.stored.id, "x", 20'000, 10'000}, done); }),
            errc::edit_window_closed);

  EXPECT_EQ(fails_with<delete_result>(
                [&](auto done) { db().delete_messages(delete_request{ann.id, {m.stored.id, other.stored.id}, 3000}, done); }),
            errc::invalid_field);
  EXPECT_EQ(fails_with<delete_result>(
                [&](auto done) { db().delete_messages(delete_request{bob.id, {m.stored.id}, 3000}, done); }),
            errc::forbidden);
  EXPECT_EQ(fails_with<delete_result>(
                [&](auto done) { db().delete_messages(delete_request{cy.id, {m.stored.id}, 3000}, done); }),
            errc::not_found);
  const auto deleted = must<delete_result>(
      [&](auto done) { db().delete_messages(delete_request{ann.id, {m.stored.id, m.stored.id}, 3000}, done); });
  EXPECT_EQ(deleted.conversation, m.stored.conversation);
  EXPECT_EQ(deleted.deleted, std::vector<message_id>{m.stored.id});
  EXPECT_EQ(deleted.deleted_at, 3000);
  EXPECT_EQ(keys(deleted.stream),
            (std::vector<entry_key>{{ann.id, 4, 5, {m.stored.id}}, {bob.id, 3, 5, {m.stored.id}}}));
  const auto twice = must<delete_result>(
      [&](auto done) { db().delete_messages(delete_request{ann.id, {m.stored.id}, 3100}, done); });
  EXPECT_TRUE(twice.deleted.empty());
  EXPECT_TRUE(twice.stream.empty()) << "deleting again is not news";
  EXPECT_EQ(fails_with<edit_result>(
                [&](auto done) { db().edit_message(edit_request{ann.id, m.stored.id, "x", 3200, 10'000}, done); }),
            errc::invalid_field);

  const auto history = must<std::vector<message>>([&](auto done) { db().history(ann.id, bob.id, std::nullopt, 10, done); });
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].content, "");
  EXPECT_EQ(history[0].deleted_at, 3000);
  // No row of any table holds the text (stream events hold ids only).
  EXPECT_EQ(query("SELECT count(*) FROM messages WHERE content LIKE '%secret%' OR content = 'fixed'"), "0");
  EXPECT_EQ(query("SELECT count(*) FROM stream_events WHERE ids::text LIKE '%secret%'"), "0");
}

std::string upload(store& s, user_id owner, const std::string& id, const std::vector<std::string>& chunks) {
  EXPECT_TRUE(must<bool>([&](auto done) {
    s.create_file(stored_file{file_info{id, "a \"b\".png", "image/png", 0}, owner, 5000, false, 0}, done);
  }));
  std::int64_t size = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_TRUE(must<bool>([&](auto done) { s.append_file_chunk(id, static_cast<int>(i), chunks[i], done); }));
    size += static_cast<std::int64_t>(chunks[i].size());
  }
  EXPECT_TRUE(must<bool>([&](auto done) { s.finish_file(id, size, static_cast<int>(chunks.size()), done); }));
  return id;
}

TEST_F(pg_stream, files_are_stored_in_chunks_and_served_to_the_uploader_and_the_conversation_only) {
  const user ann = make_user(db(), "ann"), bob = make_user(db(), "bob"), cy = make_user(db(), "cy");
  const std::string binary("\x00\xff\x10 bytes\x00", 9);
  upload(db(), ann.id, "file-1", {binary, "second"});
  const auto mine = must<std::optional<stored_file>>([&](auto done) { db().file_for(ann.id, "file-1", done); });
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(mine->info.name, "a \"b\".png");
  EXPECT_EQ(mine->info.type, "image/png");
  EXPECT_EQ(mine->info.size, 15);
  EXPECT_EQ(mine->chunks, 2);
  EXPECT_EQ(mine->owner, ann.id);
  EXPECT_EQ(must<std::string>([&](auto done) { db().read_file_chunk("file-1", 0, done); }), binary);
  EXPECT_EQ(must<std::string>([&](auto done) { db().read_file_chunk("file-1", 1, done); }), "second");
  EXPECT_EQ(fails_with<std::string>([&](auto done) { db().read_file_chunk("file-1", 2, done); }), errc::not_found);
  EXPECT_FALSE(must<std::optional<stored_file>>([&](auto done) { db().file_for(bob.id, "file-1", done); }).has_value());

  // Incomplete: invisible, and not attachable.
  EXPECT_TRUE(must<bool>([&](auto done) {
    db().create_file(stored_file{file_info{"file-2", "n", "t", 0}, ann.id, 5000, false, 0}, done);
  }));
  EXPECT_FALSE(must<std::optional<stored_file>>([&](auto done) { db().file_for(ann.id, "file-2", done); }).has_value());
  EXPECT_FALSE(must<bool>([&](auto done) { db().finish_file("file-2", 10, 1, done); })) << "a chunk is missing";
  send_request bad{ann.id, bob.id, "", std::nullopt, 6000, 0};
  bad.attachment = "file-2";
  EXPECT_EQ(fails_with<send_result>([&](auto done) { db().append_message(bad, done); }), errc::invalid_field);
  bad.attachment = "file-1";
  bad.sender = bob.id;
  bad.recipient = ann.id;
  EXPECT_EQ(fails_with<send_result>([&](auto done) { db().append_message(bad, done); }), errc::invalid_field)
      << "not bob's file";

  // Sent to bob: bob may download it, cy still not; history and the stream carry it.
  const auto sent = send(db(), ann.id, bob.id, "", 7000, std::nullopt, "file-1");
  ASSERT_TRUE(sent.stored.attachment.has_value());
  EXPECT_EQ(sent.stored.attachment->name, "a \"b\".png");
  EXPECT_EQ(sent.stored.attachment->size, 15);
  EXPECT_TRUE(must<std::optional<stored_file>>([&](auto done) { db().file_for(bob.id, "file-1", done); }).has_value());
  EXPECT_FALSE(must<std::optional<stored_file>>([&](auto done) { db().file_for(cy.id, "file-1", done); }).has_value());
  const auto history = must<std::vector<message>>([&](auto done) { db().history(ann.id, bob.id, std::nullopt, 10, done); });
  ASSERT_EQ(history.size(), 1u);
  ASSERT_TRUE(history[0].attachment.has_value());
  EXPECT_EQ(history[0].attachment->id, "file-1");
  const auto page = events_of(db(), bob.id);
  ASSERT_EQ(page.events.size(), 1u);
  ASSERT_TRUE(page.events[0].messages[0].attachment.has_value());
  EXPECT_EQ(page.events[0].messages[0].attachment->type, "image/png");

  // Deleting the message takes the attachment off it.
  must<delete_result>([&](auto done) { db().delete_messages(delete_request{ann.id, {sent.stored.id}, 8000}, done); });
  const auto after = must<std::vector<message>>([&](auto done) { db().history(ann.id, bob.id, std::nullopt, 10, done); });
  EXPECT_FALSE(after[0].attachment.has_value());
  EXPECT_FALSE(must<std::optional<stored_file>>([&](auto done) { db().file_for(bob.id, "file-1", done); }).has_value());

  // An upload abandoned for more than a day is forgotten by a later one.
  EXPECT_TRUE(must<bool>([&](auto done) {
    db().create_file(stored_file{file_info{"file-3", "n", "t", 0}, ann.id, 5000 + 2 * 86'400'000, false, 0}, done);
  }));
  EXPECT_EQ(query("SELECT count(*) FROM files WHERE id = 'file-2'"), "0");
}

TEST_F(pg_stream, replies_name_a_message_of_the_same_conversation) {
  const user ann = make_user(db(), "ann"), bob = make_user(db(), "bob"), cy = make_user(db(), "cy");
  const auto first = send(db(), ann.id, bob.id, "question", 1000);
  const auto elsewhere = send(db(), ann.id, cy.id, "other", 1001);
  const auto reply = send(db(), bob.id, ann.id, "answer", 1002, first.stored.id);
  EXPECT_EQ(reply.stored.reply_to, first.stored.id);
  send_request bad{bob.id, ann.id, "x", std::nullopt, 1003, 0};
  bad.reply_to = elsewhere.stored.id;
  EXPECT_EQ(fails_with<send_result>([&](auto done) { db().append_message(bad, done); }), errc::invalid_field);
  bad.reply_to = 999999;
  EXPECT_EQ(fails_with<send_result>([&](auto done) { db().append_message(bad, done); }), errc::invalid_field);
  const auto pending = must<std::vector<message>>([&](auto done) { db().pending_messages(ann.id, 0, 10, done); });
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].reply_to, first.stored.id);
}

TEST_F(pg_stream, conversation_messages_page_both_ways_for_participants_only) {
  const user ann = make_user(db(), "ann"), bob = make_user(db(), "bob"), cy = make_user(db(), "cy");
  std::vector<message_id> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(send(db(), i % 2 ? bob.id : ann.id, i % 2 ? ann.id : bob.id,
                                                 "m" + std::to_string(i), 1000 + i).stored.id);
  const conversation_id chat =
      must<std::vector<message>>([&](auto done) { db().history(ann.id, bob.id, std::nullopt, 1, done); })[0].conversation;
  const auto page = [&](user_id viewer, std::optional<message_id> before, std::optional<message_id> after, int limit) {
    return await<std::vector<message>>(
        [&](auto done) { db().conversation_messages(viewer, chat, before, after, limit, done); });
  };
  const auto ids_of = [](const std::vector<message>& ms) {
    std::vector<message_id> out;
    for (const auto& m : ms) out.push_back(m.id);
    return out;
  };
  EXPECT_EQ(ids_of(page(ann.id, {}, {}, 2).value()), (std::vector<message_id>{ids[4], ids[3]}));
  EXPECT_EQ(ids_of(page(bob.id, ids[3], {}, 2).value()), (std::vector<message_id>{ids[2], ids[1]}));
  EXPECT_EQ(ids_of(page(bob.id, {}, ids[1], 2).value()), (std::vector<message_id>{ids[2], ids[3]}));
  EXPECT_EQ(ids_of(page(bob.id, {}, 0, 10).value()), ids);
  EXPECT_TRUE(page(bob.id, ids[0], {}, 10).value().empty());
  EXPECT_EQ(page(cy.id, {}, {}, 10).error().code, errc::not_found);
  EXPECT_EQ(await<std::vector<message>>([&](auto done) {
              db().conversation_messages(ann.id, chat + 1000, std::nullopt, std::nullopt, 10, done);
            }).error().code,
            errc::not_found);
}

TEST_F(pg_stream, preview_pages_continue_after_the_cursor_most_recent_first) {
  const user ann = make_user(db(), "ann");
  std::vector<user> peers;
  for (int i = 0; i < 5; ++i) {
    peers.push_back(make_user(db(), "p" + std::to_string(i)));
    send(db(), peers.back().id, ann.id, "hi", 1000 + i * 10);
  }
  const auto first = must<std::vector<chat_preview>>([&](auto done) { db().chat_previews(ann.id, 2, done); });
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].peer.id, peers[4].id);
  const auto next = must<std::vector<chat_preview>>([&](auto done) {
    db().chat_previews_page(ann.id, preview_cursor{first[1].updated_at, first[1].conversation}, 2, done);
  });
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].peer.id, peers[2].id);
  EXPECT_EQ(next[1].peer.id, peers[1].id);
  EXPECT_EQ(next[0].unread, 1);
  ASSERT_TRUE(next[0].last.has_value());
  const auto last = must<std::vector<chat_preview>>([&](auto done) {
    db().chat_previews_page(ann.id, preview_cursor{next[1].updated_at, next[1].conversation}, 2, done);
  });
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].peer.id, peers[0].id);
}

}  // namespace
}  // namespace chatrix::storage::testing
