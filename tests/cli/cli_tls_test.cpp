// chatrix-cli over https://: the certificate must chain to the system's store or --cacert
// (CHATRIX_CA_FILE) and name the host. The peer is `openssl s_server -www`, a TLS server that
// answers any GET with a page: reaching that page proves the handshake and HTTP over TLS; the
// chatrix server's own TLS is tested with the server. Skipped where no openssl program exists.
#include "cli_runner.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

namespace chatrix::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int exit_refused = 1;
constexpr int exit_unreachable = 3;

class cli_tls : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("chatrix-cli-tls-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    try {
      if (child_process(dir_, "openssl", {"version"}, {}).wait().exit_code != 0) GTEST_SKIP() << "openssl fails";
    } catch (const std::runtime_error& e) {
      GTEST_SKIP() << "no openssl program: " << e.what();
    }
  }
  void TearDown() override {
    servers_.clear();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  /// A self-signed certificate for `subject_alt_name`, as <name>.pem and <name>-key.pem.
  void make_certificate(const std::string& name, const std::string& subject_alt_name) {
    const auto made = child_process(dir_, "openssl",
                                    {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                     "-keyout", (dir_ / (name + "-key.pem")).string(), "-out",
                                     (dir_ / (name + ".pem")).string(), "-days", "1", "-subj", "/CN=chatrix-test",
                                     "-addext", "subjectAltName=" + subject_alt_name},
                                    {})
                          .wait();
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }

  /// Starts s_server with certificate `name` on a free loopback port (stopped by the fixture);
  /// returns the port.
  std::string serve(const std::string& name) {
    servers_.push_back(std::make_unique<child_process>(
        dir_, "openssl",
        std::vector<std::string>{"s_server", "-www", "-cert", (dir_ / (name + ".pem")).string(), "-key",
                                 (dir_ / (name + "-key.pem")).string(), "-accept", "127.0.0.1:0"},
        std::map<std::string, std::string>{}));
    const child_process& server = *servers_.back();
    // s_server prints "ACCEPT 127.0.0.1:<port>" once it listens; nothing else announces it.
    const std::regex accept_line("ACCEPT 127\\.0\\.0\\.1:([0-9]+)");
    for (const auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;
         std::this_thread::sleep_for(10ms)) {
      std::smatch match;
      const std::string output = server.output_so_far();
      if (std::regex_search(output, match, accept_line)) return match[1];
    }
    ADD_FAILURE() << "s_server did not start: " << server.output_so_far();
    return "0";
  }

  /// A saved login for https://127.0.0.1:<port> (the token is never checked by s_server).
  std::map<std::string, std::string> logged_in_to(const std::string& port) {
    const fs::path config = dir_ / ("config-" + port);
    fs::create_directories(config / "chatrix");
    std::ofstream(config / "chatrix" / "login.json")
        << R"({"server":"https://127.0.0.1:)" << port << R"(","token":"t","user_id":1,"username":"alice"})";
    return {{"XDG_CONFIG_HOME", config.string()}};
  }

  fs::path dir_;
  std::vector<std::unique_ptr<child_process>> servers_;
};

TEST_F(cli_tls, trusts_cacert_and_refuses_an_unknown_certificate) {
  make_certificate("loopback", "IP:127.0.0.1");
  const auto env = logged_in_to(serve("loopback"));

  // Trusted through --cacert: TLS and HTTP work, and the page is not a WebSocket upgrade.
  const auto trusted =
      cli_process(dir_, {"--cacert", (dir_ / "loopback.pem").string(), "whoami"}, env).wait();
  EXPECT_EQ(trusted.exit_code, exit_refused) << trusted.err;
  EXPECT_NE(trusted.err.find("http_200: HTTP 200 instead of a WebSocket upgrade"), std::string::npos) << trusted.err;

  auto env_with_ca = env;
  env_with_ca["CHATRIX_CA_FILE"] = (dir_ / "loopback.pem").string();
  const auto from_env = cli_process(dir_, {"previews"}, env_with_ca).wait();
  EXPECT_EQ(from_env.exit_code, exit_refused) << from_env.err;
  EXPECT_NE(from_env.err.find("http_200"), std::string::npos) << from_env.err;

  // Not trusted: a self-signed certificate is not in the system's store.
  const auto untrusted = cli_process(dir_, {"whoami"}, env).wait();
  EXPECT_EQ(untrusted.exit_code, exit_unreachable);
  EXPECT_EQ(untrusted.err.rfind("chatrix-cli: tls: ", 0), 0u) << untrusted.err;
  EXPECT_NE(untrusted.err.find("certificate verify failed"), std::string::npos) << untrusted.err;
}

TEST_F(cli_tls, refuses_a_trusted_certificate_for_another_name) {
  make_certificate("elsewhere", "DNS:elsewhere.example");
  const auto env = logged_in_to(serve("elsewhere"));
  const auto refused = cli_process(dir_, {"--cacert", (dir_ / "elsewhere.pem").string(), "whoami"}, env).wait();
  EXPECT_EQ(refused.exit_code, exit_unreachable);
  EXPECT_EQ(refused.err.rfind("chatrix-cli: tls: ", 0), 0u) << refused.err;
}

}  // namespace
}  // namespace chatrix::test
