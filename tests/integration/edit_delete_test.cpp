// EDIT (14) and DELETE (15) through the real server: who hears of a change (every device of
// both people, the one that made it included) at which stream position, what history and
// previews show afterwards, each refusal, the edit window, and that a deleted message's
// content is gone from the database itself.
#include "message_changes_fixture.hpp"

#include "support/file_text.hpp"
#include "support/test_database.hpp"
#include "support/test_store.hpp"

#include <filesystem>
#include <random>
#include <thread>

namespace chatrix::test {
namespace {

std::int64_t pos_of(const json::value& frame) {
  const auto pos = int_field(frame, "pos");
  EXPECT_GT(pos, 0) << json::serialize(frame);
  return pos;
}

class edit_delete : public message_changes_test {
 protected:
  void SetUp() override {
    message_changes_test::SetUp();
    alice = make_user("alice");
    bob = make_user("bob");
  }
  test_user alice, bob;
};

TEST_F(edit_delete, an_edit_reaches_every_device_of_both_people_with_their_stream_positions) {
  session a1 = connect_authed(alice);
  session a2 = connect_authed(alice);
  session b1 = connect_authed(bob);
  session b2 = connect_authed(bob);
  const auto id = send_id(a1, text_to("bob", "original", 1));
  const auto bob_message_pos = pos_of(next(b1, ev_text));
  next(b2, ev_text);
  const auto alice_message_pos = pos_of(next(a2, ev_sent));

  edit(a1, id, "changed");
  std::vector<json::value> frames;
  for (const auto* s : {&a1, &a2, &b1, &b2}) frames.push_back(next(*s, ev_edit));
  for (const auto& f : frames) {
    const auto& b = body_of(f);
    EXPECT_EQ(int_field(b, "message_id"), id);
    EXPECT_GT(int_field(b, "chat_id"), 0);
    EXPECT_EQ(str_field(b, "content"), "changed");
    EXPECT_TRUE(is_rfc3339(str_field(b, "edited_at"))) << json::serialize(f);
    EXPECT_EQ(b, body_of(frames[0])) << "every device gets the same change";
  }
  // One event per person: both of a person's devices see the same position, after the
  // message's own in that person's stream.
  EXPECT_EQ(pos_of(frames[0]), pos_of(frames[1]));
  EXPECT_EQ(pos_of(frames[2]), pos_of(frames[3]));
  EXPECT_GT(pos_of(frames[0]), alice_message_pos);
  EXPECT_GT(pos_of(frames[2]), bob_message_pos);

  // A later change comes later in each stream.
  edit(a2, id, "changed again");
  const auto a_again = next(a1, ev_edit);
  const auto b_again = next(b2, ev_edit);
  EXPECT_EQ(str_field(body_of(b_again), "content"), "changed again");
  EXPECT_GT(pos_of(a_again), pos_of(frames[0]));
  EXPECT_GT(pos_of(b_again), pos_of(frames[2]));
  next(a2, ev_edit);
  next(b1, ev_edit);

  const auto r = row(history(b1, bob.id, alice.id), id);
  EXPECT_EQ(str_field(r, "content"), "changed again");
  EXPECT_EQ(str_field(r, "edited_at"), str_field(body_of(a_again), "edited_at"));
  EXPECT_FALSE(has_field(r, "deleted"));

  const auto preview = preview_with(bob, alice.id);
  const auto& last = field_of(preview, "last_message");
  EXPECT_EQ(int_field(last, "id"), id);
  EXPECT_EQ(str_field(last, "content"), "changed again");
  EXPECT_TRUE(is_rfc3339(str_field(last, "edited_at"))) << json::serialize(preview);
}

TEST_F(edit_delete, only_the_sender_may_edit_and_only_existing_messages) {
  auto carol = make_user("carol");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  session c = connect_authed(carol);
  const auto id = send_id(a, text_to("bob", "mine", 1));
  next(b, ev_text);

  edit(b, id, "the recipient's words");
  EXPECT_EQ(refusal(b, ev_edit), "forbidden");
  // Somebody outside the conversation learns nothing, not even that the message exists.
  edit(c, id, "a stranger's words");
  EXPECT_EQ(refusal(c, ev_edit), "not_found");
  edit(a, id + 1000, "no such message");
  EXPECT_EQ(refusal(a, ev_edit), "not_found");
  edit(a, id, "");
  EXPECT_EQ(refusal(a, ev_edit), "content_empty");
  edit(a, id, std::string(8 * 1024 + 1, 'x'));
  EXPECT_EQ(refusal(a, ev_edit), "content_too_long");
  a->send_json(ev_edit, json::object{{"message_id", "one"}, {"content", "x"}});
  EXPECT_EQ(refusal(a, ev_edit), "invalid_field");

  a->expect_no_frame(300ms, {ev_received, ev_synced});
  b->expect_no_frame(300ms, {ev_received, ev_synced});
  EXPECT_EQ(str_field(row(history(a, alice.id, bob.id), id), "content"), "mine");
  EXPECT_FALSE(has_field(row(history(a, alice.id, bob.id), id), "edited_at"));
}

TEST_F(edit_delete, a_delete_reaches_every_device_and_leaves_rows_marked_deleted) {
  session a1 = connect_authed(alice);
  session a2 = connect_authed(alice);
  session b1 = connect_authed(bob);
  session b2 = connect_authed(bob);
  const auto kept = send_id(a1, text_to("bob", "stays", 1));
  const auto first = send_id(a1, text_to("bob", "goes", 2));
  const auto second = send_id(a1, text_to("bob", "goes too", 3));
  for (const auto* s : {&b1, &b2})
    for (int i = 0; i < 3; ++i) next(*s, ev_text);
  for (int i = 0; i < 3; ++i) next(a2, ev_sent);

  remove(a2, json::array{first, second});
  std::vector<json::value> frames;
  for (const auto* s : {&a1, &a2, &b1, &b2}) frames.push_back(next(*s, ev_delete));
  for (const auto& f : frames) {
    const auto& b = body_of(f);
    EXPECT_EQ(field_of(b, "message_ids"), (json::array{first, second}));
    EXPECT_GT(int_field(b, "chat_id"), 0);
    EXPECT_TRUE(is_rfc3339(str_field(b, "deleted_at"))) << json::serialize(f);
    EXPECT_EQ(b, body_of(frames[0]));
  }
  EXPECT_EQ(pos_of(frames[0]), pos_of(frames[1]));
  EXPECT_EQ(pos_of(frames[2]), pos_of(frames[3]));

  const auto rows = history(b1, bob.id, alice.id);
  ASSERT_EQ(rows.size(), 3u) << json::serialize(rows);
  for (auto id : {first, second}) {
    const auto r = row(rows, id);
    EXPECT_TRUE(bool_field(r, "deleted")) << json::serialize(r);
    EXPECT_EQ(str_field(r, "content"), "");
  }
  EXPECT_EQ(str_field(row(rows, kept), "content"), "stays");
  EXPECT_FALSE(has_field(row(rows, kept), "deleted"));

  const auto preview = preview_with(bob, alice.id);
  const auto& last = field_of(preview, "last_message");
  EXPECT_EQ(int_field(last, "id"), second);
  EXPECT_TRUE(bool_field(last, "deleted")) << json::serialize(preview);
  EXPECT_EQ(str_field(last, "content"), "");

  // Deleting again changes nothing: no error, and nobody hears of it.
  remove(a1, json::array{first});
  for (const auto* s : {&a1, &a2, &b1, &b2}) (*s)->expect_no_frame(300ms, {ev_received, ev_synced});
  // A deleted message cannot be edited back to life.
  edit(a1, first, "back");
  EXPECT_EQ(refusal(a1, ev_edit), "invalid_field");
}

TEST_F(edit_delete, delete_refusals) {
  auto carol = make_user("carol");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  const auto to_bob = send_id(a, text_to("bob", "to bob", 1));
  const auto to_carol = send_id(a, text_to("carol", "to carol", 2));
  next(b, ev_text);

  remove(b, json::array{to_bob});
  EXPECT_EQ(refusal(b, ev_delete), "forbidden");
  remove(a, json::array{to_carol + 1000});
  EXPECT_EQ(refusal(a, ev_delete), "not_found");
  remove(a, json::array{to_bob, to_carol});
  EXPECT_EQ(refusal(a, ev_delete), "invalid_field");
  remove(a, json::array{});
  EXPECT_EQ(refusal(a, ev_delete), "invalid_field");
  json::array too_many;
  for (int i = 0; i < 101; ++i) too_many.push_back(to_bob);
  remove(a, too_many);
  EXPECT_EQ(refusal(a, ev_delete), "invalid_field");

  b->expect_no_frame(300ms, {ev_received, ev_synced});
  const auto rows = history(a, alice.id, bob.id);
  EXPECT_EQ(str_field(row(rows, to_bob), "content"), "to bob");
}

TEST_F(edit_delete, a_deleted_message_is_gone_from_the_database) {
  std::mt19937_64 random{std::random_device{}()};
  const std::string secret = "secret-" + std::to_string(random());
  session a = connect_authed(alice);
  const auto id = send_id(a, text_to("bob", secret, 1));
  // An edit leaves nothing behind either: the words before it are as private as after.
  edit(a, id, secret + "-edited");
  next(a, ev_edit);
  remove(a, json::array{id});
  next(a, ev_delete);

  if (testing_postgres()) {
    // Every row of every table, as text.
    const auto tables = query_database(server(),
                                       "SELECT quote_ident(table_name) FROM information_schema.tables "
                                       "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'");
    ASSERT_FALSE(tables.empty());
    for (const auto& t : tables) {
      const auto hits =
          query_database(server(), "SELECT count(*) FROM " + t[0] + " AS r WHERE r::text LIKE '%" + secret + "%'");
      EXPECT_EQ(hits.at(0).at(0), "0") << "table " << t[0] << " still holds the content";
    }
    return;
  }
  // SQLite: the bytes of every file of the database (main file, WAL, anything else), once the
  // server has stopped and written everything back.
  ASSERT_TRUE(server().stop(10s).has_value());
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(server().data_dir())) {
    if (!entry.is_regular_file()) continue;
    ++files;
    EXPECT_EQ(read_file_text(entry.path()).find(secret), std::string::npos) << entry.path() << " still holds the content";
  }
  EXPECT_GT(files, 0u);
}

class edit_window : public message_changes_test {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"EDIT_WINDOW", "1s"}}; }
};

TEST_F(edit_window, an_edit_after_the_window_is_refused_and_a_delete_is_not) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  const auto id = send_id(a, text_to("bob", "quick", 1));
  edit(a, id, "quick fix");
  EXPECT_EQ(str_field(body_of(next(a, ev_edit)), "content"), "quick fix");

  // The window is measured by the server's clock from the message's creation: nothing a
  // client could wait on, so the test waits it out once.
  std::this_thread::sleep_for(1100ms);
  edit(a, id, "too late");
  EXPECT_EQ(refusal(a, ev_edit), "edit_window_closed");
  EXPECT_EQ(str_field(row(history(a, alice.id, bob.id), id), "content"), "quick fix");

  // Deleting has no window.
  remove(a, json::array{id});
  EXPECT_EQ(field_of(body_of(next(a, ev_delete)), "message_ids"), json::array{id});
}

class edit_limits : public message_changes_test {
 protected:
  std::map<std::string, std::string> server_env() const override {
    return {{"MESSAGE_RATE", "1/h"}, {"MESSAGE_BURST", "3"}, {"STORAGE_QUOTA", "1K"}};
  }
};

TEST_F(edit_limits, an_edit_takes_a_message_token_and_counts_against_the_storage_quota) {
  auto alice = make_user("alice");
  make_user("bob");
  session a = connect_authed(alice);
  const auto id = send_id(a, text_to("bob", std::string(600, 'x'), 1));  // token 1, 600 bytes
  edit(a, id, std::string(600, 'y'));                                      // token 2, over 1 KiB
  auto over_quota = next(a, ev_err);
  EXPECT_EQ(err_code(over_quota), "quota_exceeded");
  EXPECT_EQ(int_field(body_of(over_quota), "ref_type"), ev_edit);
  EXPECT_GT(int_field(body_of(over_quota), "retry_after_ms"), 0);
  edit(a, id, "short");  // token 3, within the quota
  EXPECT_EQ(str_field(body_of(next(a, ev_edit)), "content"), "short");
  edit(a, id, "one more");  // no token left
  auto limited = next(a, ev_err);
  EXPECT_EQ(err_code(limited), "rate_limited");
  EXPECT_EQ(int_field(body_of(limited), "ref_type"), ev_edit);
  EXPECT_GT(int_field(body_of(limited), "retry_after_ms"), 0);
}

}  // namespace
}  // namespace chatrix::test
