// chatrix-cli's files and HTTP reads against the real server: upload, send --attach, download
// (to the served name, to -o, to stdout), refused to anybody else; conversations and messages
// over HTTP, paged.
#include "cli_fixture.hpp"
#include "support/file_text.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace chatrix::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

class cli_files : public cli {
 protected:
  std::vector<json::object> records_of(const std::string& user, std::vector<std::string> args) {
    args.emplace_back("--json");
    const auto result = run(user, args);
    EXPECT_EQ(result.exit_code, exit_ok) << result.err;
    return result.records();
  }

  /// A file with `bytes` in a folder of `user`'s (downloads go to the test's directory).
  fs::path make_file(const std::string& user, const std::string& name, const std::string& bytes) {
    const fs::path folder = server_.dir() / ("files-" + user);
    fs::create_directories(folder);
    std::ofstream(folder / name, std::ios::binary) << bytes;
    return folder / name;
  }
};

TEST_F(cli_files, upload_attach_and_download) {
  register_user("alice");
  register_user("bob");
  register_user("carol");
  const std::string notes = "minutes of the meeting\n";
  const fs::path source = make_file("alice", "notes.txt", notes);

  const auto sent = records_of("alice", {"send", "bob", "--attach", source.string()});
  ASSERT_EQ(sent.size(), 1u);
  const auto& attachment = sent[0].at("attachment").as_object();
  const std::string id(attachment.at("id").as_string());
  EXPECT_EQ(attachment.at("name").as_string(), "notes.txt");
  EXPECT_EQ(attachment.at("type").as_string(), "text/plain");
  EXPECT_EQ(attachment.at("size").as_int64(), static_cast<std::int64_t>(notes.size()));

  const auto heard = records_of("bob", {"listen", "--count", "1", "--timeout", "10"});
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].at("content").as_string(), "");
  EXPECT_EQ(heard[0].at("attachment").at("id").as_string(), id);

  // Saved under the name it was sent with, in the current directory.
  const auto saved = records_of("bob", {"download", id});
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0].at("path").as_string(), "notes.txt");
  EXPECT_EQ(saved[0].at("size").as_int64(), static_cast<std::int64_t>(notes.size()));
  EXPECT_EQ(read_file_text(server_.dir() / "notes.txt"), notes);
  // Never over an existing file without -o; -o replaces, - is stdout.
  const auto again = run("bob", {"download", id});
  EXPECT_EQ(again.exit_code, exit_local);
  EXPECT_NE(again.err.find("-o"), std::string::npos) << again.err;
  EXPECT_FALSE(fs::exists(server_.dir() / (id + ".part")));
  EXPECT_EQ(records_of("bob", {"download", id, "-o", "copy.txt"}).size(), 1u);
  EXPECT_EQ(read_file_text(server_.dir() / "copy.txt"), notes);
  const auto to_stdout = run("alice", {"download", id, "-o", "-"});
  EXPECT_EQ(to_stdout.exit_code, exit_ok) << to_stdout.err;
  EXPECT_EQ(to_stdout.out, notes);

  const auto carols = run("carol", {"download", id});
  EXPECT_EQ(carols.exit_code, exit_refused);
  EXPECT_NE(carols.err.find("not_found"), std::string::npos) << carols.err;
}

TEST_F(cli_files, upload_with_a_name_and_type_of_your_own) {
  register_user("alice");
  std::string bytes(300 * 1024, '\0');  // more than one chunk each way
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  const fs::path source = make_file("alice", "blob", bytes);

  const auto uploaded =
      records_of("alice", {"upload", source.string(), "--name", "résumé (final).bin", "--type", "application/x-demo"});
  ASSERT_EQ(uploaded.size(), 1u);
  EXPECT_EQ(uploaded[0].at("name").as_string(), "résumé (final).bin");
  EXPECT_EQ(uploaded[0].at("type").as_string(), "application/x-demo");
  EXPECT_EQ(uploaded[0].at("size").as_int64(), static_cast<std::int64_t>(bytes.size()));

  const auto saved = records_of("alice", {"download", std::string(uploaded[0].at("id").as_string())});
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0].at("path").as_string(), "résumé (final).bin");
  EXPECT_EQ(read_file_text(server_.dir() / "résumé (final).bin"), bytes);
}

TEST_F(cli_files, conversations_and_messages_over_http) {
  register_user("alice");
  register_user("bob");
  register_user("carol");
  for (const char* text : {"m1", "m2", "m3"}) ASSERT_EQ(run("alice", {"send", "bob", text}).exit_code, exit_ok);
  ASSERT_EQ(run("alice", {"send", "carol", "hi carol"}).exit_code, exit_ok);

  const auto first = records_of("alice", {"conversations", "--limit", "1"});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].at("username").as_string(), "carol");
  ASSERT_TRUE(first[1].at("next").is_string());
  const auto rest = records_of("alice", {"conversations", "--before", std::string(first[1].at("next").as_string())});
  ASSERT_EQ(rest.size(), 1u) << "no next page after the last";
  EXPECT_EQ(rest[0].at("username").as_string(), "bob");
  const auto chat = rest[0].at("chat_id").as_int64();

  const auto all = records_of("alice", {"messages", std::to_string(chat)});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].at("content").as_string(), "m1");
  EXPECT_EQ(all[2].at("content").as_string(), "m3");
  EXPECT_EQ(all[0].at("chat_id").as_int64(), chat);
  const auto newest = records_of("alice", {"messages", std::to_string(chat), "--limit", "2"});
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].at("content").as_string(), "m2");
  const auto older = records_of(
      "alice", {"messages", std::to_string(chat), "--before-id", std::to_string(newest[0].at("message_id").as_int64())});
  ASSERT_EQ(older.size(), 1u);
  EXPECT_EQ(older[0].at("content").as_string(), "m1");
  const auto text = run("bob", {"messages", std::to_string(chat)});
  EXPECT_NE(text.out.find("m3  [#"), std::string::npos) << text.out;

  const auto not_carols = run("carol", {"messages", std::to_string(chat)});
  EXPECT_EQ(not_carols.exit_code, exit_refused);
  EXPECT_NE(not_carols.err.find("not_found"), std::string::npos) << not_carols.err;
}

}  // namespace
}  // namespace chatrix::test
