// chatrix-cli's people commands against the real server: typing and presence in listen
// --events, block/unblock/blocks, rename, presence on|off, export, devices and delete-account.
#include "cli_fixture.hpp"
#include "support/file_text.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace chatrix::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class cli_people : public cli {
 protected:
  // A short grace, so that a CLI run that ends does not keep its user online for long.
  void SetUp() override {
    server_.set_env("PRESENCE_GRACE", "1s");
    cli::SetUp();
  }

  /// `user`'s `args --json` that must succeed, as records.
  std::vector<json::object> records_of(const std::string& user, std::vector<std::string> args,
                                       const std::string& input = "") {
    args.emplace_back("--json");
    const auto result = run(user, args, input);
    EXPECT_EQ(result.exit_code, exit_ok) << result.err;
    return result.records();
  }

  /// `user`'s `args` that the server must refuse with `code`.
  void expect_refused(const std::string& user, const std::vector<std::string>& args, const std::string& code,
                      const std::string& input = "") {
    const auto result = run(user, args, input);
    EXPECT_EQ(result.exit_code, exit_refused) << result.out;
    EXPECT_NE(result.err.find(code), std::string::npos) << result.err;
  }

  static const json::object* find_event(const std::vector<json::object>& records, const std::string& event,
                                        const std::function<bool(const json::object&)>& accept) {
    for (const auto& record : records) {
      const auto* name = record.if_contains("event");
      if (name && name->is_string() && name->get_string() == event && accept(record)) return &record;
    }
    return nullptr;
  }
};

TEST_F(cli_people, listen_events_show_typing_and_presence) {
  register_user("alice");
  register_user("bob");
  ASSERT_EQ(run("alice", {"send", "bob", "hello"}).exit_code, exit_ok);

  cli_process listener(server_.dir(), {"listen", "--events", "--json", "--count", "2", "--timeout", "20"},
                       env_of("bob"));
  // In step (the pending message printed): what follows is live.
  bool synced = false;
  for (const auto deadline = std::chrono::steady_clock::now() + 10s;
       !synced && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(10ms))
    synced = listener.output_so_far().find("\"synced\"") != std::string::npos;
  ASSERT_TRUE(synced) << listener.output_so_far();

  // Hiding her presence changes what Bob sees of Alice, whether she was online or not: a
  // presence event at once.
  ASSERT_EQ(run("alice", {"presence", "off"}).exit_code, exit_ok);
  const auto typed = records_of("alice", {"typing", "bob", "--for", "1"});
  ASSERT_EQ(typed.size(), 1u);
  EXPECT_EQ(typed[0].at("typing").as_bool(), true);
  EXPECT_EQ(typed[0].at("seconds").as_double(), 1.0);
  ASSERT_EQ(run("alice", {"send", "bob", "there"}).exit_code, exit_ok);

  const auto heard = listener.wait();
  ASSERT_EQ(heard.exit_code, exit_ok) << heard.err;
  const auto records = heard.records();
  const auto* started = find_event(records, "typing", [](const json::object& r) { return r.at("typing").as_bool(); });
  ASSERT_NE(started, nullptr) << heard.out;
  EXPECT_EQ(started->at("from").as_string(), "alice");
  EXPECT_GT(started->at("chat_id").as_int64(), 0);
  EXPECT_FALSE(started->contains("pos"));
  EXPECT_NE(find_event(records, "typing", [](const json::object& r) { return !r.at("typing").as_bool(); }), nullptr)
      << heard.out;
  const auto* hidden = find_event(records, "presence", [](const json::object& r) { return !r.at("online").as_bool(); });
  ASSERT_NE(hidden, nullptr) << heard.out;
  EXPECT_EQ(hidden->at("username").as_string(), "alice");
  EXPECT_GT(hidden->at("user_id").as_int64(), 0);
  EXPECT_TRUE(hidden->at("last_seen").is_null());
  EXPECT_FALSE(hidden->contains("pos"));

  expect_refused("alice", {"typing", "nobody_at_all"}, "unknown_recipient");
  const auto stopped = records_of("alice", {"typing", "bob", "--stop"});
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].at("typing").as_bool(), false);
}

TEST_F(cli_people, block_withholds_messages_until_unblocked) {
  register_user("alice");
  register_user("bob");
  const auto blocked = records_of("bob", {"block", "alice"});
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_EQ(blocked[0].at("username").as_string(), "alice");
  EXPECT_TRUE(blocked[0].at("blocked_at").is_string());
  const auto list = records_of("bob", {"blocks"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("id"), blocked[0].at("id"));

  // Alice is not told; Bob never sees it, and may not write to someone he blocked.
  ASSERT_EQ(run("alice", {"send", "bob", "withheld"}).exit_code, exit_ok);
  expect_refused("bob", {"send", "alice", "hi"}, "blocked");
  EXPECT_EQ(run("bob", {"history", "alice"}).out.find("withheld"), std::string::npos);

  EXPECT_EQ(records_of("bob", {"unblock", "alice"}).size(), 1u);
  EXPECT_TRUE(records_of("bob", {"blocks"}).empty());
  expect_refused("bob", {"unblock", "alice"}, "not_found");
  expect_refused("bob", {"block", "nobody_at_all"}, "not_found");
  expect_refused("bob", {"block", "bob"}, "invalid_field");
  EXPECT_EQ(run("bob", {"history", "alice"}).out.find("withheld"), std::string::npos) << "withheld for good";
}

TEST_F(cli_people, rename_presence_and_export) {
  register_user("alice");
  register_user("bob");
  ASSERT_EQ(run("alice", {"send", "bob", "hello"}).exit_code, exit_ok);

  const auto renamed = records_of("alice", {"rename", "Alice", "Liddell"});
  ASSERT_EQ(renamed.size(), 1u);
  EXPECT_EQ(renamed[0].at("name").as_string(), "Alice Liddell");
  EXPECT_EQ(renamed[0].at("show_presence").as_bool(), true);
  const auto previews = records_of("bob", {"previews"});
  ASSERT_EQ(previews.size(), 1u);
  EXPECT_EQ(previews[0].at("name").as_string(), "Alice Liddell");
  EXPECT_TRUE(previews[0].at("online").is_bool());

  EXPECT_EQ(records_of("alice", {"presence", "off"}).at(0).at("show_presence").as_bool(), false);
  EXPECT_EQ(records_of("alice", {"presence"}).at(0).at("show_presence").as_bool(), false);
  EXPECT_NE(run("alice", {"presence"}).out.find("presence hidden"), std::string::npos);
  EXPECT_EQ(run("alice", {"presence", "maybe"}).exit_code, exit_usage);
  const auto hidden = records_of("bob", {"previews"});
  ASSERT_EQ(hidden.size(), 1u);
  EXPECT_EQ(hidden[0].at("online").as_bool(), false);
  EXPECT_TRUE(hidden[0].at("last_seen").is_null());

  const auto exported = records_of("alice", {"export", "--out", "alice-export.json"});
  ASSERT_EQ(exported.size(), 1u);
  EXPECT_GT(exported[0].at("size").as_int64(), 0);
  const json::value document = json::parse(read_file_text(server_.dir() / "alice-export.json"));
  EXPECT_EQ(document.at("format").as_string(), "chatrix-export/1");
  EXPECT_EQ(document.at("account").at("username").as_string(), "alice");
  EXPECT_EQ(document.at("account").at("name").as_string(), "Alice Liddell");
  ASSERT_EQ(document.at("conversations").as_array().size(), 1u);
  EXPECT_EQ(document.at("conversations").at(0).at("messages").at(0).at("content").as_string(), "hello");
  const auto to_stdout = run("alice", {"export"});
  ASSERT_EQ(to_stdout.exit_code, exit_ok) << to_stdout.err;
  EXPECT_EQ(json::parse(to_stdout.out).at("format").as_string(), "chatrix-export/1");
}

TEST_F(cli_people, devices_add_list_remove) {
  register_user("alice");
  const auto added = records_of("alice", {"devices", "add", "fcm", "token-of-a-phone"});
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].at("platform").as_string(), "fcm");
  EXPECT_EQ(added[0].at("token").as_string(), "token-of-a-phone");
  const auto listed = records_of("alice", {"devices"});
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("token").as_string(), "token-of-a-phone");
  EXPECT_EQ(records_of("alice", {"devices", "remove", "fcm", "token-of-a-phone"}).at(0).at("removed").as_bool(), true);
  EXPECT_TRUE(records_of("alice", {"devices"}).empty());
  expect_refused("alice", {"devices", "remove", "fcm", "token-of-a-phone"}, "not_found");
  expect_refused("alice", {"devices", "add", "Not A Platform", "t"}, "invalid_field");
  EXPECT_EQ(run("alice", {"devices", "add", "fcm"}).exit_code, exit_usage);
}

TEST_F(cli_people, delete_account_needs_the_password_and_ends_every_login) {
  register_user("alice");
  register_user("bob");
  ASSERT_EQ(run("alice", {"send", "bob", "hello"}).exit_code, exit_ok);

  expect_refused("alice", {"delete-account", "--password", "not-the-password"}, "bad_credentials");
  EXPECT_TRUE(std::filesystem::exists(login_file("alice")));
  // The password as login reads it: here a line of stdin.
  const auto deleted = records_of("alice", {"delete-account"}, "pw-alice-long\n");
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].at("deleted").as_bool(), true);
  EXPECT_FALSE(std::filesystem::exists(login_file("alice")));
  EXPECT_EQ(run("alice", {"whoami"}).exit_code, exit_unauthorized);
  expect_refused("alice", {"login", "alice", "--password", "pw-alice-long"}, "bad_credentials");

  const auto previews = records_of("bob", {"previews"});
  ASSERT_EQ(previews.size(), 1u);
  EXPECT_EQ(previews[0].at("deleted").as_bool(), true);
  EXPECT_EQ(previews[0].at("name").as_string(), "Deleted account");
  const auto messages = records_of("bob", {"messages", std::to_string(previews[0].at("chat_id").as_int64())});
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].at("deleted").as_bool(), true);
  EXPECT_EQ(messages[0].at("content").as_string(), "");
}

}  // namespace
}  // namespace chatrix::test
