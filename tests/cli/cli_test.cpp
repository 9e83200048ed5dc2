// chatrix-cli against the real server: each test starts chatrix, and runs the real chatrix-cli
// binary with a config dir (XDG_CONFIG_HOME) per user, as two people on two machines would.
#include "cli_fixture.hpp"
#include "support/file_text.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include <sys/stat.h>

namespace chatrix::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

TEST_F(cli, register_login_whoami_and_the_login_file) {
  const auto registered =
      run("alice", {"--json", "register", "alice", "--name", "Alice", "--password", "correct horse"});
  ASSERT_EQ(registered.exit_code, exit_ok) << registered.err;
  const auto reg_records = registered.records();
  ASSERT_EQ(reg_records.size(), 1u);
  EXPECT_EQ(reg_records[0].at("user").at("username").as_string(), "alice");
  EXPECT_EQ(reg_records[0].at("user").at("name").as_string(), "Alice");
  EXPECT_GT(reg_records[0].at("user").at("id").as_int64(), 0);
  EXPECT_EQ(reg_records[0].at("server").as_string(), server_url());

  // The password as a line on stdin (not a terminal), and the env variable.
  const auto from_stdin = run("alice", {"login", "alice"}, "correct horse\n");
  ASSERT_EQ(from_stdin.exit_code, exit_ok) << from_stdin.err;
  EXPECT_NE(from_stdin.out.find("logged in as alice (Alice)"), std::string::npos) << from_stdin.out;
  auto env = env_of("alice");
  env["CHATRIX_PASSWORD"] = "correct horse";
  const auto from_env = cli_process(server_.dir(), {"login", "alice", "--json"}, env).wait();
  ASSERT_EQ(from_env.exit_code, exit_ok) << from_env.err;

  // The token file: owner-only, in an owner-only directory, naming the server.
  struct stat file_stat {};
  ASSERT_EQ(::stat(login_file("alice").c_str(), &file_stat), 0);
  EXPECT_EQ(file_stat.st_mode & 0777, 0600u);
  struct stat dir_stat {};
  ASSERT_EQ(::stat(login_file("alice").parent_path().c_str(), &dir_stat), 0);
  EXPECT_EQ(dir_stat.st_mode & 0777, 0700u);
  EXPECT_NE(read_file_text(login_file("alice")).find(server_url()), std::string::npos);

  // whoami asks the server, at the saved address when none is given.
  const auto whoami = cli_process(server_.dir(), {"whoami", "--json"}, env_of("alice", false)).wait();
  ASSERT_EQ(whoami.exit_code, exit_ok) << whoami.err;
  const auto records = whoami.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("username").as_string(), "alice");
  EXPECT_EQ(records[0].at("name").as_string(), "Alice");
  EXPECT_EQ(records[0].at("id"), reg_records[0].at("user").at("id"));
  EXPECT_EQ(records[0].at("server").as_string(), server_url());
  const auto text = run("alice", {"whoami"});
  EXPECT_NE(text.out.find("alice (Alice)"), std::string::npos) << text.out;
}

TEST_F(cli, send_is_stored_and_listen_confirms_receipt) {
  register_user("alice");
  register_user("bob");

  // Bob listens while Alice sends and waits for RECEIVED: only Bob's ACK gets her one.
  cli_process listener(server_.dir(), {"listen", "--count", "1", "--json", "--timeout", "20"}, env_of("bob"));
  const auto sent =
      run("alice", {"send", "bob", "hello", "from", "the", "cli", "--received", "--timeout", "20", "--json"});
  ASSERT_EQ(sent.exit_code, exit_ok) << sent.err;
  const auto sent_records = sent.records();
  ASSERT_EQ(sent_records.size(), 1u);
  const auto message_id = sent_records[0].at("message_id").as_int64();
  EXPECT_EQ(sent_records[0].at("to").as_string(), "bob");
  EXPECT_EQ(sent_records[0].at("duplicate").as_bool(), false);
  EXPECT_EQ(sent_records[0].at("received").as_bool(), true);
  EXPECT_GT(sent_records[0].at("timestamp").as_int64(), 0);

  const auto heard = listener.wait();
  ASSERT_EQ(heard.exit_code, exit_ok) << heard.err;
  const auto messages = heard.records();
  ASSERT_EQ(messages.size(), 1u) << heard.out;
  EXPECT_EQ(messages[0].at("message_id").as_int64(), message_id);
  EXPECT_EQ(messages[0].at("from").as_string(), "alice");
  EXPECT_EQ(messages[0].at("to").as_string(), "bob");
  EXPECT_EQ(messages[0].at("content").as_string(), "hello from the cli");
  EXPECT_GT(messages[0].at("from_id").as_int64(), 0);
  EXPECT_TRUE(messages[0].contains("from_name"));
  EXPECT_TRUE(messages[0].contains("timestamp"));

  // A second message nobody has received yet: stored, not delivered.
  const auto later = run("alice", {"send", "bob", "are you there?"});
  ASSERT_EQ(later.exit_code, exit_ok) << later.err;
  EXPECT_NE(later.out.find(": stored"), std::string::npos) << later.out;

  const auto history = run("alice", {"history", "bob", "--json"});
  ASSERT_EQ(history.exit_code, exit_ok) << history.err;
  const auto rows = history.records();
  ASSERT_EQ(rows.size(), 2u) << history.out;
  EXPECT_EQ(rows[0].at("message_id").as_int64(), message_id);
  EXPECT_EQ(rows[0].at("delivered").as_bool(), true);
  EXPECT_EQ(rows[0].at("read").as_bool(), false);
  EXPECT_EQ(rows[1].at("content").as_string(), "are you there?");
  EXPECT_EQ(rows[1].at("delivered").as_bool(), false);
  EXPECT_EQ(rows[1].at("from").as_string(), "alice");
  EXPECT_EQ(rows[1].at("to").as_string(), "bob");
  EXPECT_TRUE(rows[1].at("created_at").is_string());
}

TEST_F(cli, listen_prints_pending_messages_and_times_out_short_of_count) {
  register_user("alice");
  register_user("bob");
  ASSERT_EQ(run("alice", {"send", "bob", "one"}).exit_code, exit_ok);
  ASSERT_EQ(run("alice", {"send", "bob", "two"}).exit_code, exit_ok);

  // Only the --count asked for; nothing else arrives before the timeout.
  const auto heard = run("bob", {"listen", "--count", "3", "--timeout", "1"});
  EXPECT_EQ(heard.exit_code, exit_timeout) << heard.err;
  EXPECT_NE(heard.err.find("timeout"), std::string::npos) << heard.err;
  EXPECT_NE(heard.out.find("alice: one"), std::string::npos) << heard.out;
  EXPECT_NE(heard.out.find("alice: two"), std::string::npos) << heard.out;

  // Without --count, --timeout is just where listening ends; both were confirmed, so they
  // are not pending any more.
  const auto again = run("bob", {"listen", "--timeout", "0.5"});
  EXPECT_EQ(again.exit_code, exit_ok) << again.err;
  EXPECT_EQ(again.out, "");
}

TEST_F(cli, search_history_paging_and_previews) {
  register_user("alice");
  register_user("bob");
  ASSERT_EQ(run("carol", {"register", "carol", "--name", "Carol Bobbins", "--password", "pw-carol-long"}).exit_code,
            exit_ok);
  for (const char* text : {"m1", "m2", "m3"}) ASSERT_EQ(run("alice", {"send", "bob", text}).exit_code, exit_ok);
  ASSERT_EQ(run("carol", {"send", "bob", "hi bob"}).exit_code, exit_ok);

  const auto found = run("alice", {"search", "bob", "--json"});
  ASSERT_EQ(found.exit_code, exit_ok) << found.err;
  const auto users = found.records();
  ASSERT_EQ(users.size(), 2u) << found.out;  // bob by username, carol by display name
  EXPECT_EQ(users[0].at("username").as_string(), "bob");
  EXPECT_EQ(users[1].at("username").as_string(), "carol");
  EXPECT_EQ(users[1].at("name").as_string(), "Carol Bobbins");
  EXPECT_GT(users[1].at("id").as_int64(), 0);
  EXPECT_EQ(run("alice", {"search", "zzz"}).out, "");

  const auto last_two = run("bob", {"history", "alice", "--limit", "2", "--json"});
  ASSERT_EQ(last_two.exit_code, exit_ok) << last_two.err;
  const auto page = last_two.records();
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].at("content").as_string(), "m2");
  EXPECT_EQ(page[1].at("content").as_string(), "m3");
  EXPECT_EQ(page[0].at("from").as_string(), "alice");
  const auto older = run("bob", {"history", "alice", "--before", std::to_string(page[0].at("message_id").as_int64())});
  ASSERT_EQ(older.exit_code, exit_ok) << older.err;
  EXPECT_NE(older.out.find(" alice: m1  [#"), std::string::npos) << older.out;
  EXPECT_EQ(older.out.find("m2"), std::string::npos) << older.out;

  const auto previews = run("bob", {"previews", "--json"});
  ASSERT_EQ(previews.exit_code, exit_ok) << previews.err;
  const auto chats = previews.records();
  ASSERT_EQ(chats.size(), 2u) << previews.out;
  EXPECT_EQ(chats[0].at("username").as_string(), "carol");  // most recent first
  EXPECT_EQ(chats[0].at("unread").as_int64(), 1);
  EXPECT_EQ(chats[0].at("last_message").at("content").as_string(), "hi bob");
  EXPECT_EQ(chats[1].at("username").as_string(), "alice");
  EXPECT_EQ(chats[1].at("unread").as_int64(), 3);
  EXPECT_TRUE(chats[1].at("last_message").at("message_id").is_int64());
  const auto text = run("bob", {"previews"});
  EXPECT_NE(text.out.find("carol (Carol Bobbins)  1 unread  \"hi bob\""), std::string::npos) << text.out;
}

TEST_F(cli, errors_have_a_code_and_an_exit_status) {
  register_user("alice");

  const auto bad_password = run("alice", {"login", "alice", "--password", "not the password"});
  EXPECT_EQ(bad_password.exit_code, exit_refused);
  EXPECT_EQ(bad_password.err.rfind("chatrix-cli: bad_credentials: ", 0), 0u) << bad_password.err;
  EXPECT_EQ(bad_password.out, "");

  const auto taken = run("other", {"register", "ALICE", "--password", "another password"});
  EXPECT_EQ(taken.exit_code, exit_refused);
  EXPECT_NE(taken.err.find("username_taken"), std::string::npos) << taken.err;

  const auto nobody = run("alice", {"send", "nobody", "hi"});
  EXPECT_EQ(nobody.exit_code, exit_refused);
  EXPECT_NE(nobody.err.find("unknown_recipient"), std::string::npos) << nobody.err;

  const auto no_login = run("stranger", {"whoami"});
  EXPECT_EQ(no_login.exit_code, exit_unauthorized);
  EXPECT_NE(no_login.err.find("unauthorized"), std::string::npos) << no_login.err;
  EXPECT_NE(no_login.err.find("chatrix-cli login"), std::string::npos) << no_login.err;

  // logout revokes the token on the server: a copy of the file is refused from then on.
  const std::string saved = read_file_text(login_file("alice"));
  const auto logout = run("alice", {"logout", "--json"});
  ASSERT_EQ(logout.exit_code, exit_ok) << logout.err;
  EXPECT_EQ(logout.records().at(0).at("revoked").as_int64(), 1);
  EXPECT_FALSE(fs::exists(login_file("alice")));
  std::ofstream(login_file("alice")) << saved;
  const auto revoked = run("alice", {"previews"});
  EXPECT_EQ(revoked.exit_code, exit_unauthorized);
  EXPECT_NE(revoked.err.find("unauthorized"), std::string::npos) << revoked.err;

  // A login file that is not one: named, status 6; a new login replaces it.
  std::ofstream(login_file("alice"), std::ios::trunc) << "not json";
  const auto broken = run("alice", {"whoami"});
  EXPECT_EQ(broken.exit_code, exit_local);
  EXPECT_NE(broken.err.find("chatrix-cli: local: " + login_file("alice").string()), std::string::npos) << broken.err;
  const auto relogin = run("alice", {"login", "alice", "--password", "pw-alice-long"});
  EXPECT_EQ(relogin.exit_code, exit_ok) << relogin.err;
  EXPECT_EQ(run("alice", {"whoami"}).exit_code, exit_ok);

  const auto usage = run("alice", {"history"});
  EXPECT_EQ(usage.exit_code, exit_usage);
  EXPECT_EQ(run("alice", {"--server", "ftp://example.invalid", "whoami"}).exit_code, exit_usage);

  server_.stop();
  const auto down = run("alice", {"whoami"});
  EXPECT_EQ(down.exit_code, exit_unreachable);
  EXPECT_NE(down.err.find("unreachable"), std::string::npos) << down.err;
}

TEST_F(cli, help_lists_every_command) {
  const auto help = run("anyone", {"--help"});
  ASSERT_EQ(help.exit_code, exit_ok) << help.err;
  for (const char* command :
       {"register", "login", "logout", "whoami", "send", "edit", "delete", "read", "listen", "upload", "download",
        "search", "history", "previews", "conversations", "messages", "--json", "--server", "Exit status"})
    EXPECT_NE(help.out.find(command), std::string::npos) << command << " missing from:\n" << help.out;
  const auto send_help = run("anyone", {"send", "--help"});
  ASSERT_EQ(send_help.exit_code, exit_ok);
  for (const char* option : {"--received", "--reply-to", "--attach"})
    EXPECT_NE(send_help.out.find(option), std::string::npos) << option << " missing from:\n" << send_help.out;
  const auto listen_help = run("anyone", {"listen", "--help"});
  for (const char* option : {"--since", "--events", "--until-synced"})
    EXPECT_NE(listen_help.out.find(option), std::string::npos) << option << " missing from:\n" << listen_help.out;
}

}  // namespace
}  // namespace chatrix::test
