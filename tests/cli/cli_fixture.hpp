// The fixture of the chatrix-cli tests that need a server: chatrix started per test, and the
// real chatrix-cli binary run with a config dir (XDG_CONFIG_HOME) per user, as people on
// separate machines would.
#pragma once

#include "cli_runner.hpp"
#include "support/server_process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace chatrix::test {

// Exit statuses (docs/cli.md).
constexpr int exit_ok = 0;
constexpr int exit_refused = 1;
constexpr int exit_usage = 2;
constexpr int exit_unreachable = 3;
constexpr int exit_unauthorized = 4;
constexpr int exit_timeout = 5;
constexpr int exit_local = 6;

class cli : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }

  std::string server_url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::filesystem::path config_home(const std::string& user) const { return server_.dir() / ("config-" + user); }
  std::filesystem::path login_file(const std::string& user) const { return config_home(user) / "chatrix" / "login.json"; }

  /// The environment of `user`'s machine: a config dir of its own and, unless `with_server` is
  /// false (then the saved login's server is used), CHATRIX_SERVER.
  std::map<std::string, std::string> env_of(const std::string& user, bool with_server = true) const {
    std::map<std::string, std::string> env{{"XDG_CONFIG_HOME", config_home(user).string()}};
    if (with_server) env["CHATRIX_SERVER"] = server_url();
    return env;
  }

  cli_result run(const std::string& user, const std::vector<std::string>& args, const std::string& input = "") {
    return cli_process(server_.dir(), args, env_of(user), input).wait();
  }

  /// Registers `user` (logged in afterwards) with the password "pw-<user>-long".
  void register_user(const std::string& user) {
    const auto result = run(user, {"register", user, "--password", "pw-" + user + "-long"});
    ASSERT_EQ(result.exit_code, exit_ok) << result.err;
  }

  server_process server_;
};

}  // namespace chatrix::test
