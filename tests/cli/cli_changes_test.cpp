// chatrix-cli's edit, delete, read and send --reply-to against the real server, and listen as a
// sync client: --since prints every event after a position, each with its pos, then synced.
#include "cli_fixture.hpp"

#include <gtest/gtest.h>

namespace chatrix::test {
namespace {

namespace json = boost::json;

class cli_changes : public cli {
 protected:
  /// `user`'s `args --json` that must succeed, as records.
  std::vector<json::object> records_of(const std::string& user, std::vector<std::string> args) {
    args.emplace_back("--json");
    const auto result = run(user, args);
    EXPECT_EQ(result.exit_code, exit_ok) << result.err;
    return result.records();
  }

  std::int64_t send(const std::string& from, const std::string& to, const std::string& text) {
    const auto sent = records_of(from, {"send", to, text});
    return sent.empty() ? 0 : sent[0].at("message_id").as_int64();
  }
};

TEST_F(cli_changes, edit_reply_read_and_delete) {
  register_user("alice");
  register_user("bob");
  const auto first = send("alice", "bob", "first draft");

  const auto edited = records_of("alice", {"edit", std::to_string(first), "final", "text"});
  ASSERT_EQ(edited.size(), 1u);
  EXPECT_EQ(edited[0].at("message_id").as_int64(), first);
  EXPECT_EQ(edited[0].at("content").as_string(), "final text");
  EXPECT_TRUE(edited[0].at("edited_at").is_string());
  EXPECT_GT(edited[0].at("pos").as_int64(), 0);
  EXPECT_GT(edited[0].at("chat_id").as_int64(), 0);

  const auto not_bobs = run("bob", {"edit", std::to_string(first), "hijacked"});
  EXPECT_EQ(not_bobs.exit_code, exit_refused);
  EXPECT_NE(not_bobs.err.find("forbidden"), std::string::npos) << not_bobs.err;
  const auto bob_deletes = run("bob", {"delete", std::to_string(first)});
  EXPECT_EQ(bob_deletes.exit_code, exit_refused);
  EXPECT_NE(bob_deletes.err.find("forbidden"), std::string::npos) << bob_deletes.err;

  const auto reply = records_of("bob", {"send", "alice", "an answer", "--reply-to", std::to_string(first)});
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(reply[0].at("reply_to").as_int64(), first);
  const auto read = records_of("bob", {"read", std::to_string(first)});
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].at("read").as_bool(), true);
  // Marking read what is not to you is refused as a whole.
  const auto not_to_alice = run("alice", {"read", std::to_string(first)});
  EXPECT_EQ(not_to_alice.exit_code, exit_refused);
  EXPECT_NE(not_to_alice.err.find("forbidden"), std::string::npos) << not_to_alice.err;

  auto rows = records_of("alice", {"history", "bob"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("content").as_string(), "final text");
  EXPECT_TRUE(rows[0].at("edited_at").is_string());
  EXPECT_EQ(rows[0].at("read").as_bool(), true);
  EXPECT_EQ(rows[1].at("reply_to").as_int64(), first);
  const auto text = run("alice", {"history", "bob"});
  EXPECT_NE(text.out.find("(edited)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(reply to #" + std::to_string(first) + ")"), std::string::npos) << text.out;

  // Deleted for everyone; deleting again is no error and no wait.
  const auto deleted = records_of("alice", {"delete", std::to_string(first)});
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].at("message_ids").as_array().at(0).as_int64(), first);
  EXPECT_EQ(records_of("alice", {"delete", std::to_string(first)}).size(), 1u);
  rows = records_of("bob", {"history", "alice"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("deleted").as_bool(), true);
  EXPECT_EQ(rows[0].at("content").as_string(), "");

}

TEST_F(cli_changes, listen_since_prints_what_happened_with_positions) {
  register_user("alice");
  register_user("bob");
  // A first visit: nothing yet, in step at 0.
  const auto start = records_of("bob", {"listen", "--events", "--until-synced"});
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(start[0].at("event").as_string(), "synced");
  const auto since = start[0].at("pos").as_int64();

  const auto id = send("alice", "bob", "one");
  records_of("alice", {"edit", std::to_string(id), "one, edited"});

  const auto caught_up = records_of("bob", {"listen", "--since", std::to_string(since), "--until-synced"});
  ASSERT_EQ(caught_up.size(), 3u);
  EXPECT_EQ(caught_up[0].at("event").as_string(), "message");
  EXPECT_EQ(caught_up[0].at("message_id").as_int64(), id);
  EXPECT_EQ(caught_up[0].at("content").as_string(), "one, edited") << "catch-up shows the message as it is now";
  EXPECT_EQ(caught_up[1].at("event").as_string(), "edited");
  EXPECT_EQ(caught_up[1].at("content").as_string(), "one, edited");
  EXPECT_EQ(caught_up[2].at("event").as_string(), "synced");
  const auto first_pos = caught_up[0].at("pos").as_int64();
  const auto edit_pos = caught_up[1].at("pos").as_int64();
  EXPECT_GT(first_pos, since);
  EXPECT_GT(edit_pos, first_pos);
  EXPECT_EQ(caught_up[2].at("pos").as_int64(), edit_pos);

  // From the latest position there is nothing to tell; text output says where it stands.
  const auto nothing_new = run("bob", {"listen", "--since", std::to_string(edit_pos), "--until-synced"});
  EXPECT_EQ(nothing_new.exit_code, exit_ok) << nothing_new.err;
  EXPECT_EQ(nothing_new.out, "in step at pos " + std::to_string(edit_pos) + "\n");

  // A position the server never issued: said, then the pending messages, then the latest pos.
  const auto expired = records_of("bob", {"listen", "--since", "999999999", "--until-synced"});
  ASSERT_GE(expired.size(), 2u);
  EXPECT_EQ(expired.front().at("event").as_string(), "sync_expired");
  EXPECT_EQ(expired.back().at("event").as_string(), "synced");
  EXPECT_EQ(expired.back().at("pos").as_int64(), edit_pos);
}

}  // namespace
}  // namespace chatrix::test
