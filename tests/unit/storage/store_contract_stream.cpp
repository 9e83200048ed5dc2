// The storage contract, stream part (store.hpp, "the per-user event stream", edits and
// deletes, replies, attachments, files, paging): what device sync relies on, on every
// backend. Compiled into each backend's binary next to store_contract.cpp. The factories'
// stores keep the default SYNC_RETENTION of 30 days.

#include "store_contract.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace chatrix::storage::testing {
namespace {

constexpr unix_ms day_ms = 24LL * 3600 * 1000;
constexpr unix_ms retention_ms = 30 * day_ms;

/// What an entry says, comparable in one expectation: (owner, pos, kind, conversation, ids).
using entry_view = std::tuple<user_id, stream_pos, stream_kind, conversation_id, std::vector<message_id>>;

entry_view view(const stream_entry& e) { return {e.owner, e.pos, e.kind, e.conversation, e.ids}; }

std::vector<entry_view> views(const std::vector<stream_entry>& entries) {
  std::vector<entry_view> out;
  for (const auto& e : entries) out.push_back(view(e));
  return out;
}

errc code_of(const auto& r) { return r.has_value() ? errc{} : r.error().code; }

std::vector<message_id> ids_of(const std::vector<message>& messages) {
  std::vector<message_id> out;
  for (const auto& m : messages) out.push_back(m.id);
  return out;
}

std::vector<stream_pos> positions(const stream_page& page) {
  std::vector<stream_pos> out;
  for (const auto& e : page.events) out.push_back(e.entry.pos);
  return out;
}

}  // namespace

/// Shorthands of the stream tests.
class stream_calls {
 public:
  explicit stream_calls(store& s) : s_(s) {}

  stream_page events(user_id viewer, stream_pos since, int limit = 100) {
    return await<stream_page>([&](auto done) { s_.stream_events(viewer, since, limit, done); }).value();
  }
  delivered_result deliver(user_id recipient, std::vector<message_id> ids, unix_ms at) {
    return await<delivered_result>([&](auto done) { s_.mark_delivered(recipient, ids, at, done); }).value();
  }
  read_result read(user_id reader, std::vector<message_id> ids, unix_ms at) {
    return await<read_result>([&](auto done) { s_.mark_read(reader, ids, at, done); }).value();
  }
  result<edit_result> edit(user_id editor, message_id id, const std::string& content, unix_ms now,
                           unix_ms window = 48 * 3600 * 1000) {
    return await<edit_result>([&](auto done) {
      s_.edit_message(edit_request{editor, id, content, now, window}, done);
    });
  }
  result<delete_result> remove(user_id requester, std::vector<message_id> ids, unix_ms now) {
    return await<delete_result>([&](auto done) { s_.delete_messages(delete_request{requester, ids, now}, done); });
  }
  result<send_result> send(send_request req) {
    return await<send_result>([&](auto done) { s_.append_message(req, done); });
  }
  bool create_file(const std::string& id, user_id owner, unix_ms created_at, const std::string& name = "a.txt",
                   const std::string& type = "text/plain") {
    stored_file f;
    f.info = file_info{id, name, type, 0};
    f.owner = owner;
    f.created_at = created_at;
    return await<bool>([&](auto done) { s_.create_file(f, done); }).value();
  }
  bool append_chunk(const std::string& id, int index, const std::string& bytes) {
    return await<bool>([&](auto done) { s_.append_file_chunk(id, index, bytes, done); }).value();
  }
  bool finish(const std::string& id, std::int64_t size, int chunks) {
    return await<bool>([&](auto done) { s_.finish_file(id, size, chunks, done); }).value();
  }
  /// A complete one-chunk file.
  void upload(const std::string& id, user_id owner, unix_ms created_at, const std::string& bytes) {
    ASSERT_TRUE(create_file(id, owner, created_at));
    ASSERT_TRUE(append_chunk(id, 0, bytes));
    ASSERT_TRUE(finish(id, static_cast<std::int64_t>(bytes.size()), 1));
  }
  std::optional<stored_file> file_for(user_id viewer, const std::string& id) {
    return await<std::optional<stored_file>>([&](auto done) { s_.file_for(viewer, id, done); }).value();
  }
  result<std::string> chunk(const std::string& id, int index) {
    return await<std::string>([&](auto done) { s_.read_file_chunk(id, index, done); });
  }
  result<std::vector<message>> conversation(user_id viewer, conversation_id chat, std::optional<message_id> before,
                                            std::optional<message_id> after, int limit = 50) {
    return await<std::vector<message>>(
        [&](auto done) { s_.conversation_messages(viewer, chat, before, after, limit, done); });
  }
  std::vector<chat_preview> previews(user_id viewer, int limit) {
    return await<std::vector<chat_preview>>([&](auto done) { s_.chat_previews(viewer, limit, done); }).value();
  }
  std::vector<chat_preview> previews_after(user_id viewer, preview_cursor before, int limit) {
    return await<std::vector<chat_preview>>([&](auto done) { s_.chat_previews_page(viewer, before, limit, done); })
        .value();
  }

 private:
  store& s_;
};

// ---- positions ----

TEST_P(store_contract, stream_append_adds_a_message_event_to_the_sender_and_the_recipient) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const send_result first = send(ann.id, bob.id, "one");
  const conversation_id chat = first.stored.conversation;
  EXPECT_EQ(views(first.stream), (std::vector<entry_view>{{ann.id, 1, stream_kind::message, chat, {first.stored.id}},
                                                          {bob.id, 1, stream_kind::message, chat, {first.stored.id}}}));
  for (const auto& e : first.stream) EXPECT_EQ(e.at, first.stored.created_at);
  const send_result second = send(bob.id, ann.id, "two");
  EXPECT_EQ(views(second.stream),
            (std::vector<entry_view>{{bob.id, 2, stream_kind::message, chat, {second.stored.id}},
                                     {ann.id, 2, stream_kind::message, chat, {second.stored.id}}}));

  stream_calls s(db());
  const stream_page page = s.events(ann.id, 0);
  EXPECT_FALSE(page.expired);
  EXPECT_EQ(page.latest, 2);
  ASSERT_EQ(positions(page), (std::vector<stream_pos>{1, 2}));
  ASSERT_EQ(page.events[0].messages.size(), 1u);
  EXPECT_EQ(page.events[0].messages[0].content, "one");
  EXPECT_EQ(page.events[0].messages[0].sender, ann.id);
  ASSERT_EQ(page.events[1].messages.size(), 1u);
  EXPECT_EQ(page.events[1].messages[0].content, "two");
  EXPECT_EQ(page.events[1].entry.owner, ann.id);
}

TEST_P(store_contract, stream_a_retry_adds_no_event_and_a_conversation_with_oneself_one) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const unix_ms now = next_time();
  const send_result original = send(ann.id, bob.id, "hi", "7", now, 60'000);
  const send_result retry = send(ann.id, bob.id, "hi", "7", now + 5, 60'000);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_TRUE(retry.stream.empty());
  stream_calls s(db());
  EXPECT_EQ(s.events(bob.id, 0).latest, 1);

  const send_result note = send(ann.id, ann.id, "note to self");
  EXPECT_EQ(views(note.stream),
            (std::vector<entry_view>{{ann.id, 2, stream_kind::message, note.stored.conversation, {note.stored.id}}}));
  EXPECT_EQ(original.stream.size(), 2u);
}

TEST_P(store_contract, stream_positions_are_gap_free_per_user_under_concurrent_writes) {
  const user ann = add_user("ann"), bob = add_user("bob"), cat = add_user("cat");
  completion_log<send_result> log;
  constexpr int n = 60;
  for (int i = 0; i < n; ++i) {
    const user_id to = i % 2 ? bob.id : cat.id;
    db().append_message(
        send_request{ann.id, to, std::string("m").append(std::to_string(i)), std::nullopt, next_time(), 0},
        log.make(i));
  }
  ASSERT_TRUE(log.wait_for(n));
  std::map<user_id, std::vector<stream_pos>> seen;
  for (const auto& e : log.entries()) {
    ASSERT_TRUE(e.outcome.has_value());
    for (const auto& entry : e.outcome->stream) seen[entry.owner].push_back(entry.pos);
  }
  for (auto& [owner, list] : seen) std::sort(list.begin(), list.end());
  const auto one_to = [](int count) {
    std::vector<stream_pos> out;
    for (int i = 1; i <= count; ++i) out.push_back(i);
    return out;
  };
  EXPECT_EQ(seen[ann.id], one_to(n));
  EXPECT_EQ(seen[bob.id], one_to(n / 2));
  EXPECT_EQ(seen[cat.id], one_to(n / 2));
  stream_calls s(db());
  const stream_page page = s.events(ann.id, 0, 1000);
  EXPECT_EQ(positions(page), one_to(n));
  // The stream is in commit order: ann's messages to one person in the order they were stored.
  // Across conversations ids are not commit-ordered (PostgreSQL takes them from a sequence on
  // several writer connections at once), so only each conversation's order is checked.
  std::map<conversation_id, message_id> last_in;
  for (const auto& ev : page.events) {
    auto& last = last_in[ev.entry.conversation];
    EXPECT_LT(last, ev.entry.ids.front());
    last = ev.entry.ids.front();
  }
}

// ---- receipts and reads ----

TEST_P(store_contract, stream_mark_delivered_adds_one_received_event_per_sender_and_conversation) {
  const user ann = add_user("ann"), bob = add_user("bob"), cat = add_user("cat");
  const send_result a1 = send(ann.id, bob.id, "a1"), a2 = send(ann.id, bob.id, "a2"), c1 = send(cat.id, bob.id, "c1");
  stream_calls s(db());
  const unix_ms at = next_time();
  const delivered_result r = s.deliver(bob.id, {a1.stored.id, c1.stored.id, a2.stored.id}, at);
  EXPECT_EQ(r.delivered.size(), 3u);
  EXPECT_EQ(
      views(r.stream),
      (std::vector<entry_view>{{ann.id, 3, stream_kind::received, a1.stored.conversation, {a1.stored.id, a2.stored.id}},
                               {cat.id, 2, stream_kind::received, c1.stored.conversation, {c1.stored.id}}}));
  for (const auto& e : r.stream) EXPECT_EQ(e.at, at);
  const delivered_result again = s.deliver(bob.id, {a1.stored.id}, next_time());
  EXPECT_TRUE(again.delivered.empty());
  EXPECT_TRUE(again.stream.empty()) << "nothing new, no event";
  EXPECT_EQ(s.events(bob.id, 0).latest, 3) << "the recipient's stream has its messages only";
  const stream_page ann_page = s.events(ann.id, 2);
  ASSERT_EQ(ann_page.events.size(), 1u);
  EXPECT_EQ(ann_page.events[0].entry.kind, stream_kind::received);
  EXPECT_EQ(ann_page.events[0].entry.ids, (std::vector<message_id>{a1.stored.id, a2.stored.id}));
}

TEST_P(store_contract, stream_mark_read_adds_received_and_read_for_the_sender_and_read_self_for_the_reader) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const send_result a1 = send(ann.id, bob.id, "a1"), a2 = send(ann.id, bob.id, "a2");
  const conversation_id chat = a1.stored.conversation;
  stream_calls s(db());
  s.deliver(bob.id, {a1.stored.id}, next_time());  // ann: 3
  const read_result r = s.read(bob.id, {a1.stored.id, a2.stored.id}, next_time());
  EXPECT_EQ(views(r.stream),
            (std::vector<entry_view>{{ann.id, 4, stream_kind::received, chat, {a2.stored.id}},
                                     {ann.id, 5, stream_kind::read, chat, {a1.stored.id, a2.stored.id}},
                                     {bob.id, 3, stream_kind::read_self, chat, {a1.stored.id, a2.stored.id}}}));
  const read_result again = s.read(bob.id, {a1.stored.id}, next_time());
  EXPECT_TRUE(again.stream.empty());
  const stream_page page = s.events(bob.id, 2);
  ASSERT_EQ(page.events.size(), 1u);
  EXPECT_EQ(page.events[0].entry.kind, stream_kind::read_self);
  EXPECT_TRUE(page.events[0].messages.empty()) << "only message and edited events carry messages";

  // A refused read adds nothing.
  const auto forbidden =
      await<read_result>([&](auto done) { db().mark_read(ann.id, {a1.stored.id}, next_time(), done); });
  ASSERT_FALSE(forbidden.has_value());
  EXPECT_EQ(forbidden.error().code, errc::forbidden);
  EXPECT_EQ(s.events(ann.id, 0).latest, 5);
}

// ---- reading the stream ----

TEST_P(store_contract, stream_events_page_after_since_and_report_latest) {
  const user ann = add_user("ann"), bob = add_user("bob");
  for (int i = 0; i < 5; ++i) send(ann.id, bob.id, std::string("m").append(std::to_string(i)));
  stream_calls s(db());
  EXPECT_EQ(positions(s.events(bob.id, 0, 2)), (std::vector<stream_pos>{1, 2}));
  const stream_page middle = s.events(bob.id, 2, 2);
  EXPECT_EQ(positions(middle), (std::vector<stream_pos>{3, 4}));
  EXPECT_EQ(middle.latest, 5);
  const stream_page end = s.events(bob.id, 5);
  EXPECT_FALSE(end.expired);
  EXPECT_TRUE(end.events.empty()) << "since == latest: up to date";

  const stream_page beyond = s.events(bob.id, 6);
  EXPECT_TRUE(beyond.expired) << "a position never issued";
  EXPECT_TRUE(beyond.events.empty());
  EXPECT_EQ(beyond.latest, 5);

  const user cat = add_user("cat");
  const stream_page empty = s.events(cat.id, 0);
  EXPECT_FALSE(empty.expired);
  EXPECT_EQ(empty.latest, 0);
  EXPECT_TRUE(s.events(cat.id, 1).expired);
}

TEST_P(store_contract, stream_session_start_and_resume_read_one_snapshot) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const send_result m1 = send(ann.id, bob.id, "one");
  send(ann.id, bob.id, "two");
  send(ann.id, bob.id, "three");

  const auto start = await<session_snapshot>([&](auto done) { db().session_start(bob.id, 10, 10, done); }).value();
  EXPECT_EQ(start.latest, 3);
  EXPECT_EQ(start.pending.size(), 3u);

  const auto resumed =
      await<session_snapshot>([&](auto done) { db().session_resume(bob.id, 10, 1, 1, 10, done); }).value();
  ASSERT_EQ(resumed.previews.size(), 1u);
  EXPECT_EQ(resumed.previews[0].conversation, m1.stored.conversation);
  EXPECT_TRUE(resumed.pending.empty()) << "with a valid since, the stream instead of pending";
  ASSERT_TRUE(resumed.stream.has_value());
  EXPECT_FALSE(resumed.stream->expired);
  EXPECT_EQ(positions(*resumed.stream), std::vector<stream_pos>{2}) << "events_limit applies";
  EXPECT_EQ(resumed.latest, 3);
  EXPECT_EQ(resumed.stream->latest, 3);

  const auto expired =
      await<session_snapshot>([&](auto done) { db().session_resume(bob.id, 10, 99, 10, 2, done); }).value();
  ASSERT_TRUE(expired.stream.has_value());
  EXPECT_TRUE(expired.stream->expired);
  EXPECT_TRUE(expired.stream->events.empty());
  EXPECT_EQ(expired.pending.size(), 2u) << "an expired since gets the pending messages instead";
  EXPECT_EQ(expired.latest, 3);
}

// ---- retention ----

TEST_P(store_contract, stream_retention_forgets_old_events_and_expires_since_before_them) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const unix_ms t0 = next_time();
  send(ann.id, bob.id, "old 1", std::nullopt, t0);
  send(ann.id, bob.id, "old 2", std::nullopt, t0 + 1);
  stream_calls s(db());
  EXPECT_FALSE(s.events(bob.id, 0).expired) << "nothing is pruned yet";

  // A write more than the retention later forgets the old events (a few per write: two here).
  const send_result fresh = send(ann.id, bob.id, "new", std::nullopt, t0 + retention_ms + 10);
  EXPECT_EQ(fresh.stream[1].pos, 3) << "positions keep counting";
  EXPECT_TRUE(s.events(bob.id, 0).expired);
  EXPECT_TRUE(s.events(bob.id, 1).expired);
  const stream_page after = s.events(bob.id, 2);
  EXPECT_FALSE(after.expired) << "since at the last forgotten position misses nothing";
  EXPECT_EQ(positions(after), std::vector<stream_pos>{3});
  EXPECT_TRUE(s.events(ann.id, 1).expired) << "every user's old events go";

  // Messages are not events: history keeps them.
  EXPECT_EQ(history_of(ann.id, bob.id).size(), 3u);
}

TEST_P(store_contract, stream_retention_also_forgets_the_events_of_idle_streams) {
  const user ann = add_user("ann"), bob = add_user("bob"), cat = add_user("cat");
  const unix_ms t0 = next_time();
  send(ann.id, cat.id, "old", std::nullopt, t0);
  stream_calls s(db());
  // Nothing is written to cat's stream again; other people's writes still forget its old
  // event, a few streams at a time (each write here is its own batch).
  for (int i = 0; i < 100 && !s.events(cat.id, 0).expired; ++i)
    send(ann.id, bob.id, "later", std::nullopt, t0 + retention_ms + 10 + i);
  EXPECT_TRUE(s.events(cat.id, 0).expired);
  EXPECT_FALSE(s.events(cat.id, 1).expired);
}

TEST_P(store_contract, stream_retention_keeps_events_younger_than_it) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const unix_ms t0 = next_time();
  send(ann.id, bob.id, "recent", std::nullopt, t0);
  send(ann.id, bob.id, "later", std::nullopt, t0 + retention_ms - day_ms);
  stream_calls s(db());
  EXPECT_EQ(positions(s.events(bob.id, 0)), (std::vector<stream_pos>{1, 2}));
}

// ---- edits ----

TEST_P(store_contract, edit_replaces_the_content_and_tells_every_member) {
  const user ann = add_user("ann"), bob = add_user("bob");
  const send_result sent = send(ann.id, bob.id, "helo");
  stream_calls s(db());
  const unix_ms at = sent.stored.created_at + 1000;
  const auto edited = s.edit(ann.id, sent.stored.id, "hello", at);
  ASSERT_TRUE(edited.has_value()) << edited.error().message;
  EXPECT_EQ(edited->edited.id, sent.stored.id);
  EXPECT_EQ(edited->edited.content, "hello");
  EXPECT_EQ(edited->edited.edited_at, at);
  EXPECT_EQ(edited->edited.created_at, sent.stored.created_at);
  const conversation_id chat = sent.stored.conversation;
  EXPECT_EQ(views(edited->stream), (std::vector<entry_view>{{ann.id, 2, stream_kind::edited, chat, {sent.stored.id}},
                                                            {bob.id, 2, stream_kind::edited, chat, {sent.stored.id}}}));

  const auto history = history_of(ann.id, bob.id);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].content, "hello");
  EXPECT_EQ(history[0].edited_at, at);
  const stream_page page = s.events(bob.id, 1);
  ASSERT_EQ(page.events.size(), 1u);
  EXPECT_EQ(page.events[0].entry.kind, stream_kind::edited);
  ASSERT_EQ(page.events[0].messages.size(), 1u);
  EXPECT_EQ(page.events[0].messages[0].content, "hello");
  const stream_page first = s.events(bob.id, 0, 1);
  ASSERT_EQ(first.events.size(), 1u);
  EXPECT_EQ(first.events[0].messages.at(0).content, "hello") << "events render the message as it is now";
  const auto previews = s.previews(bob.id, 10);
  ASSERT_EQ(previews.size(), 1u);
  ASSERT_TRUE(previews[0].last.has_value());
  EXPECT_EQ(previews[0].last->content, "hello");
  EXPECT_EQ(previews[0].last->edited_at, at);
}

TEST_P(store_contract, edit_is_refused_to_others_outside_the_window_and_on_deleted_messages) {
  const user ann = add_user("ann"), bob = add_user("bob"), cat = add_user("cat");
  const send_result sent = send(ann.id, bob.id, "original");
  stream_calls s(db());
  const unix_ms created = sent.stored.created_at;
  const unix_ms window = 1000;
  EXPECT_EQ(code_of(s.edit(bob.id, sent.stored.id, "x", created + 1, window)), errc::forbidden);
  EXPECT_EQ(code_of(s.edit(cat.id, sent.stored.id, "x", created + 1, window)), errc::not_found);
  EXPECT_EQ(code_of(s.edit(ann.id, sent.stored.id + 1000, "x", created + 1, window)), errc::not_found);
  EXPECT_EQ(code_of(s.edit(ann.id, sent.stored.id, "x", created + window + 1, window)), errc::edit_window_closed);
  EXPECT_EQ(history_of(ann.id, bob.id).at(0).content, "original");
  EXPECT_EQ(s.events(ann.id, 0).latest, 1) << "refusals add no event";
  EXPECT_TRUE(s.edit(ann.id, sent.stored.id, "at the edge", created + window, window).has_value())
      << "the window includes its last millisecond";

  ASSERT_TRUE(s.remove(ann.id, {sent.stored.id}, created + 2).has_value());
  EXPECT_EQ(code_of(s.edit(ann.id, sent.stored.id, "back", created + 3, window)), errc::invalid_field);
}

// ---- deletes ----

TEST_P(store_contract, delete_empties_the_messages_everywhere_and_tells_every_member) {
  const user ann = add_user("ann"), bob = add_user("bob");
  stream_calls s(db());
  s.upload("file-1", ann.id, next_time(), "bytes");
  send_request with_file{ann.id, bob.id, "secret one", std::nullopt, next_time(), 0};
  with_file.attachment = "file-1";
  const send_result m1 = s.send(with_file).value();
  const send_result m2 = send(ann.id, bob.id, "secret two");
  const send_result kept = send(ann.id, bob.id, "kept");
  ASSERT_TRUE(s.file_for(bob.id, "file-1").has_value());

  const unix_ms at = next_time();
  const auto deleted = s.remove(ann.id, {m1.stored.id, m2.stored.id, m1.stored.id}, at);
  ASSERT_TRUE(deleted.has_value()) << deleted.error().message;
  const conversation_id chat = m1.stored.conversation;
  EXPECT_EQ(deleted->conversation, chat);
  EXPECT_EQ(deleted->deleted, (std::vector<message_id>{m1.stored.id, m2.stored.id}));
  EXPECT_EQ(deleted->deleted_at, at);
  EXPECT_EQ(views(deleted->stream),
            (std::vector<entry_view>{{ann.id, 4, stream_kind::deleted, chat, {m1.stored.id, m2.stored.id}},
                                     {bob.id, 4, stream_kind::deleted, chat, {m1.stored.id, m2.stored.id}}}));

  const auto check = [&](const message& m) {
    if (m.id == kept.stored.id) {
      EXPECT_EQ(m.content, "kept");
      EXPECT_FALSE(m.deleted_at.has_value());
      return;
    }
    EXPECT_EQ(m.content, "") << m.id;
    EXPECT_EQ(m.deleted_at, at) << m.id;
    EXPECT_FALSE(m.attachment.has_value()) << m.id;
  };
  const auto history = history_of(ann.id, bob.id);
  ASSERT_EQ(history.size(), 3u);
  for (const auto& m : history) check(m);
  for (const auto& m : pending_for(bob.id)) check(m);
  const stream_page page = s.events(bob.id, 0);
  for (const auto& e : page.events)
    for (const auto& m : e.messages) check(m);
  EXPECT_EQ(page.events.back().entry.kind, stream_kind::deleted);
  EXPECT_TRUE(page.events.back().messages.empty());
  EXPECT_FALSE(s.file_for(bob.id, "file-1").has_value()) << "no message carries the file any more";
  EXPECT_TRUE(s.file_for(ann.id, "file-1").has_value()) << "the uploader keeps it";

  // The last message of a conversation, deleted: the preview shows it deleted.
  ASSERT_TRUE(s.remove(ann.id, {kept.stored.id}, next_time()).has_value());
  const auto previews = s.previews(bob.id, 10);
  ASSERT_EQ(previews.size(), 1u);
  ASSERT_TRUE(previews[0].last.has_value());
  EXPECT_EQ(previews[0].last->content, "");
  EXPECT_TRUE(previews[0].last->deleted_at.has_value());

  const auto again = s.remove(ann.id, {m1.stored.id}, next_time());
  ASSERT_TRUE(again.has_value()) << "deleting again is not an error";
  EXPECT_TRUE(again->deleted.empty());
  EXPECT_TRUE(again->stream.empty()) << "and not news";
  EXPECT_EQ(again->conversation, chat);
}

TEST_P(store_contract, delete_is_refused_to_others_and_across_conversations_and_changes_nothing) {
  const user ann = add_user("ann"), bob = add_user("bob"), cat = add_user("cat");
  const send_result to_bob = send(ann.id, bob.id, "to bob");
  const send_result to_cat = send(ann.id, cat.id, "to cat");
  stream_calls s(db());
  EXPECT_EQ(code_of(s.remove(bob.id, {to_bob.stored.id}, next_time())), errc::forbidden);
  EXPECT_EQ(code_of(s.remove(cat.id, {to_bob.stored.id}, next_time())), errc::not_found);
  EXPECT_EQ(code_of(s.remove(ann.id, {to_bob.stored.id, to_bob.stored.id + 1000}, next_time())), errc::not_found);
  EXPECT_EQ(code_of(s.remove(ann.id, {to_bob.stored.id, to_cat.stored.id}, next_time())), errc::invalid_field);
  EXPECT_EQ(code_of(s.remove(ann.id, {}, next_time())), errc::invalid_field);
  EXPECT_EQ(history_of(ann.id, bob.id).at(0).content, "to bob");
  EXPECT_EQ(history_of(ann.id, cat.id).at(0).content, "to cat");
  EXPECT_EQ(s.events(ann.id, 0).latest, 2);
}

// ---- replies and attachments ----

TEST_P(store_contract, replies_name_a_message_of_the_same_conversation) {
  const user ann = add_user("ann"), bob = add_user("bob"), cat = add_user("cat");
  const send_result question = send(ann.id, bob.id, "lunch?");
  const send_result elsewhere = send(ann.id, cat.id, "hi cat");
  stream_calls s(db());
  send_request reply{bob.id, ann.id, "yes", std::nullopt, next_time(), 0};
  reply.reply_to = question.stored.id;
  const send_result answer = s.send(reply).value();
  EXPECT_EQ(answer.stored.reply_to, question.stored.id);
  EXPECT_EQ(history_of(ann.id, bob.id).at(0).reply_to, question.stored.id);
  EXPECT_EQ(pending_for(ann.id).at(0).reply_to, question.stored.id);
  const stream_page page = s.events(ann.id, 2);
  ASSERT_EQ(page.events.size(), 1u);
  EXPECT_EQ(page.events[0].messages.at(0).reply_to, question.stored.id);

  reply.reply_to = elsewhere.stored.id;
  EXPECT_EQ(code_of(s.send(reply)), errc::invalid_field) << "a message of another conversation";
  reply.reply_to = elsewhere.stored.id + 1000;
  EXPECT_EQ(code_of(s.send(reply)), errc::invalid_field) << "no such message";
  reply.reply_to.reset();
  EXPECT_EQ(s.send(reply).value().stored.seq, 3) << "the refused sends took no number";
  EXPECT_FALSE(history_of(ann.id, bob.id).at(0).reply_to.has_value());
}

TEST_P(store_contract, attachments_are_complete_files_of_the_sender_and_come_back_with_the_message) {
  const user ann = add_user("ann"), bob = add_user("bob"), cat = add_user("cat");
  stream_calls s(db());
  s.upload("ann-file", ann.id, next_time(), "12345");
  ASSERT_TRUE(s.create_file("ann-partial", ann.id, next_time(), "p.bin", "application/octet-stream"));
  s.upload("bob-file", bob.id, next_time(), "b");

  send_request req{ann.id, bob.id, "", std::nullopt, next_time(), 0};
  for (const char* bad : {"ann-partial", "bob-file", "no-such-file"}) {
    req.attachment = bad;
    EXPECT_EQ(code_of(s.send(req)), errc::invalid_field) << bad;
  }
  EXPECT_FALSE(s.file_for(bob.id, "ann-file").has_value()) << "not sent yet";

  req.attachment = "ann-file";
  const send_result sent = s.send(req).value();
  const file_info expected{"ann-file", "a.txt", "text/plain", 5};
  const auto same_file = [&](const std::optional<file_info>& f) {
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->id, expected.id);
    EXPECT_EQ(f->name, expected.name);
    EXPECT_EQ(f->type, expected.type);
    EXPECT_EQ(f->size, expected.size);
  };
  same_file(sent.stored.attachment);
  EXPECT_EQ(sent.stored.seq, 1);
  same_file(history_of(ann.id, bob.id).at(0).attachment);
  same_file(pending_for(bob.id).at(0).attachment);
  same_file(s.events(bob.id, 0).events.at(0).messages.at(0).attachment);
  same_file(s.previews(bob.id, 1).at(0).last->attachment);

  const auto for_bob = s.file_for(bob.id, "ann-file");
  ASSERT_TRUE(for_bob.has_value()) << "a participant of a conversation where it was sent";
  EXPECT_EQ(for_bob->owner, ann.id);
  EXPECT_TRUE(for_bob->complete);
  EXPECT_EQ(for_bob->chunks, 1);
  EXPECT_FALSE(s.file_for(cat.id, "ann-file").has_value());
}

// ---- files ----

TEST_P(store_contract, files_are_written_in_chunks_and_readable_once_complete) {
  const user ann = add_user("ann");
  stream_calls s(db());
  const unix_ms t = next_time();
  const std::string first("a\0b", 3), second(file_chunk_bytes, '\xff');
  ASSERT_TRUE(s.create_file("f1", ann.id, t, "photo.png", "image/png"));
  EXPECT_FALSE(s.create_file("f1", ann.id, t)) << "ids are unique";
  ASSERT_TRUE(s.append_chunk("f1", 0, first));
  EXPECT_FALSE(s.append_chunk("f1", 0, "again")) << "a chunk is written once";
  ASSERT_TRUE(s.append_chunk("f1", 1, second));
  EXPECT_FALSE(s.file_for(ann.id, "f1").has_value()) << "invisible until finished";
  EXPECT_EQ(code_of(s.chunk("f1", 0)), errc::not_found);
  const auto size = static_cast<std::int64_t>(first.size() + second.size());
  EXPECT_FALSE(s.finish("f1", size + 1, 2)) << "the size must be what was written";
  EXPECT_FALSE(s.finish("f1", size, 3)) << "and the chunk count";
  ASSERT_TRUE(s.finish("f1", size, 2));
  EXPECT_FALSE(s.finish("f1", size, 2)) << "finished once";
  EXPECT_FALSE(s.append_chunk("f1", 2, "late")) << "a complete file takes no more chunks";

  const auto f = s.file_for(ann.id, "f1");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->info.id, "f1");
  EXPECT_EQ(f->info.name, "photo.png");
  EXPECT_EQ(f->info.type, "image/png");
  EXPECT_EQ(f->info.size, size);
  EXPECT_EQ(f->owner, ann.id);
  EXPECT_EQ(f->created_at, t);
  EXPECT_EQ(f->chunks, 2);
  EXPECT_EQ(s.chunk("f1", 0).value(), first);
  EXPECT_EQ(s.chunk("f1", 1).value(), second);
  EXPECT_EQ(code_of(s.chunk("f1", 2)), errc::not_found);
  EXPECT_EQ(code_of(s.chunk("nope", 0)), errc::not_found);
  EXPECT_FALSE(s.append_chunk("nope", 0, "x"));
  EXPECT_FALSE(s.finish("nope", 0, 0));

  ASSERT_TRUE(s.create_file("empty", ann.id, t));
  EXPECT_TRUE(s.finish("empty", 0, 0)) << "an empty file has no chunk";
  EXPECT_EQ(s.file_for(ann.id, "empty")->info.size, 0);
}

TEST_P(store_contract, files_left_incomplete_for_a_day_are_forgotten_by_later_uploads) {
  const user ann = add_user("ann");
  stream_calls s(db());
  const unix_ms t0 = next_time();
  ASSERT_TRUE(s.create_file("abandoned", ann.id, t0));
  ASSERT_TRUE(s.append_chunk("abandoned", 0, "part"));
  s.upload("done", ann.id, t0, "whole");
  ASSERT_TRUE(s.create_file("recent", ann.id, t0 + day_ms - 1000));
  ASSERT_TRUE(s.create_file("next day", ann.id, t0 + day_ms + 1000));
  EXPECT_FALSE(s.append_chunk("abandoned", 1, "more")) << "forgotten";
  EXPECT_FALSE(s.finish("abandoned", 4, 1));
  EXPECT_TRUE(s.append_chunk("recent", 0, "x")) << "younger than a day";
  EXPECT_EQ(s.chunk("done", 0).value(), "whole") << "complete files stay";
}

// ---- paging ----

TEST_P(store_contract, conversation_messages_page_both_ways_for_participants_only) {
  const user ann = add_user("ann"), bob = add_user("bob"), cat = add_user("cat");
  std::vector<message_id> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(send(i % 2 ? bob.id : ann.id, i % 2 ? ann.id : bob.id, "m").stored.id);
  const message_id other = send(ann.id, cat.id, "elsewhere").stored.id;
  const conversation_id chat = history_of(ann.id, bob.id).at(0).conversation;
  stream_calls s(db());

  EXPECT_EQ(ids_of(s.conversation(ann.id, chat, std::nullopt, std::nullopt).value()),
            ids_of(history_of(ann.id, bob.id)))
      << "no bound: the newest, newest first";
  EXPECT_EQ(ids_of(s.conversation(bob.id, chat, std::nullopt, std::nullopt, 2).value()),
            (std::vector<message_id>{ids[4], ids[3]}));
  EXPECT_EQ(ids_of(s.conversation(bob.id, chat, ids[3], std::nullopt, 2).value()),
            (std::vector<message_id>{ids[2], ids[1]}));
  EXPECT_EQ(ids_of(s.conversation(bob.id, chat, std::nullopt, ids[1], 2).value()),
            (std::vector<message_id>{ids[2], ids[3]}))
      << "after: oldest first";
  EXPECT_EQ(ids_of(s.conversation(bob.id, chat, std::nullopt, 0).value()), ids);
  EXPECT_EQ(ids_of(s.conversation(bob.id, chat, std::nullopt, other).value()), std::vector<message_id>{})
      << "an id of another conversation bounds by id";
  EXPECT_EQ(ids_of(s.conversation(bob.id, chat, other, std::nullopt).value()),
            (std::vector<message_id>{ids[4], ids[3], ids[2], ids[1], ids[0]}));
  EXPECT_EQ(s.conversation(bob.id, chat, std::nullopt, std::nullopt, 1000).value().size(), 5u);

  EXPECT_EQ(code_of(s.conversation(cat.id, chat, std::nullopt, std::nullopt)), errc::not_found);
  EXPECT_EQ(code_of(s.conversation(ann.id, chat + 1000, std::nullopt, std::nullopt)), errc::not_found);
}

TEST_P(store_contract, chat_previews_page_continues_after_the_cursor_most_recent_first) {
  const user ann = add_user("ann");
  std::vector<user> peers;
  for (int i = 0; i < 5; ++i) peers.push_back(add_user(std::string("peer").append(std::to_string(i))));
  const unix_ms same = next_time();
  // Two conversations updated at the same millisecond: the id breaks the tie.
  send(ann.id, peers[0].id, "a", std::nullopt, same);
  send(peers[1].id, ann.id, "b", std::nullopt, same);
  for (int i = 2; i < 5; ++i) send(ann.id, peers[i].id, "c");
  stream_calls s(db());
  const auto all = s.previews(ann.id, 10);
  ASSERT_EQ(all.size(), 5u);

  std::vector<conversation_id> paged;
  std::optional<preview_cursor> cursor;
  for (int round = 0; round < 4; ++round) {
    const auto page = cursor ? s.previews_after(ann.id, *cursor, 2) : s.previews(ann.id, 2);
    if (page.empty()) break;
    for (const auto& p : page) paged.push_back(p.conversation);
    cursor = preview_cursor{page.back().updated_at, page.back().conversation};
  }
  std::vector<conversation_id> expected;
  for (const auto& p : all) expected.push_back(p.conversation);
  EXPECT_EQ(paged, expected);
  const auto tail = s.previews_after(ann.id, preview_cursor{all[1].updated_at, all[1].conversation}, 10);
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail[0].peer.id, all[2].peer.id);
  EXPECT_EQ(tail[0].unread, all[2].unread);
  ASSERT_TRUE(tail[0].last.has_value());
  EXPECT_EQ(tail[0].last->id, all[2].last->id);
}

}  // namespace chatrix::storage::testing
