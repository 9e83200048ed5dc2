// Start-up of the real binary: settings that cannot be applied stop it with one line on stderr
// naming the variable (exit status 2), a dependency that cannot be reached with one line and
// status 1, both before anything is written; the JWT secret generated when JWT_SECRET is not
// set (file mode, reuse, fingerprint log).
#include "support/chat_fixture.hpp"
#include "support/file_text.hpp"
#include "support/taken_port.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace chatrix::test {
namespace {

namespace fs = std::filesystem;
using env_map = std::map<std::string, std::string>;

/// The first 8 hex digits of SHA-256(text), as the server logs a secret's fingerprint.
std::string fingerprint(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 4; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

/// Starts `s`, which must refuse to run: exit status 2 and a log of exactly one line, starting
/// with "chatrix: " + `line_start`. Returns that line.
std::string expect_refused_start(server_process& s, const std::string& line_start) {
  EXPECT_THROW(s.start(std::chrono::seconds(20)), std::runtime_error) << "the server started";
  const auto status = s.last_status();
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 2)
      << "exit status " << status.value_or(-1) << "\n" << s.log_tail();
  const auto log = read_file_text(s.log_path());
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << "not one line:\n" << log;
  EXPECT_TRUE(log.starts_with("chatrix: " + line_start)) << log;
  return log;
}

/// How a run of the binary that was expected to stop by itself ended.
struct finished_run {
  int status = -1;  // as from waitpid; -1 if it had to be killed
  std::string out;
  std::string err;
};

/// Runs the binary in `dir` with only `env` (plus PATH) until it exits, stdout and stderr kept
/// apart (server_process merges them): what a new user sees on the terminal.
finished_run run_to_exit(const fs::path& dir, const env_map& env) {
  std::vector<std::string> env_strings{"PATH=" + std::string(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin")};
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string bin = fs::absolute(server_binary()).string();
  std::vector<char*> argv{bin.data(), nullptr};
  const auto out_path = (dir / "stdout").string(), err_path = (dir / "stderr").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  finished_run run;
  if (spawned != 0) {
    ADD_FAILURE() << "cannot start " << bin << ": " << std::strerror(spawned);
    return run;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "the server did not stop by itself";
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  run.status = status;
  run.out = read_file_text(out_path);
  run.err = read_file_text(err_path);
  return run;
}

/// The environment of a new user's first start: no JWT_SECRET (so one would be generated in
/// the data dir), the default log level, any free port.
env_map first_start_env(const fs::path& data) {
  return {{"CHATRIX_DATA_DIR", data.string()}, {"SERVER_PORT", "127.0.0.1:0"}, {"ARGON2_PROFILE", "min"}};
}

/// `run` stopped by itself with `exit_status` and exactly one line on stderr, starting with
/// "chatrix: " + `line_start`.
void expect_one_line_exit(const finished_run& run, int exit_status, const std::string& line_start) {
  EXPECT_TRUE(run.status >= 0 && WIFEXITED(run.status) && WEXITSTATUS(run.status) == exit_status)
      << "status " << run.status << "\nstdout:\n" << run.out << "stderr:\n" << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << "not one line on stderr:\n" << run.err;
  EXPECT_TRUE(run.err.starts_with("chatrix: " + line_start)) << run.err;
}

/// Authenticates `token` on a fresh WebSocket; true when PROFILE_INFO comes back, false when
/// the server answers ERR unauthorized and closes with 1008 (anything else fails the test).
bool token_accepted(std::uint16_t port, const std::string& token) {
  ws_client ws;
  ws.connect(port);
  ws.send_text(json::serialize(json::object{{"token", token}}));
  const auto frame = ws.recv_json();
  if (int_field(frame, "type") == ev_profile_info) return true;
  EXPECT_EQ(err_code(frame), "unauthorized") << json::serialize(frame);
  EXPECT_TRUE(ws.wait_closed());
  EXPECT_EQ(ws.close_code(), 1008) << ws.close_error();
  return false;
}

TEST(startup, cluster_and_thread_settings_it_cannot_run_are_refused_before_anything_is_written) {
  struct bad_case {
    std::map<std::string, std::string> env;
    std::string line_start;
    std::string mentions;
  };
  // DB_CONNECTION_URL is always given, so no test database is created for these servers.
  const std::vector<bad_case> cases = {
      {{{"REDISADDR", "127.0.0.1:1"}, {"DB_CONNECTION_URL", ""}}, "REDISADDR: ", "DB_CONNECTION_URL=postgres://"},
      {{{"REDISADDR", "127.0.0.1:1"}, {"DB_CONNECTION_URL", "postgres://127.0.0.1:1/none"}, {"JWT_SECRET", ""}},
       "REDISADDR: ",
       "JWT_SECRET"},
      {{{"IO_THREADS", "2"}, {"DB_CONNECTION_URL", ""}}, "IO_THREADS: ", "not supported"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line_start + c.mentions);
    server_process s(c.env);
    const auto data = s.dir() / "fresh-data";
    s.set_env("CHATRIX_DATA_DIR", data.string());
    const auto line = expect_refused_start(s, c.line_start);
    EXPECT_NE(line.find(c.mentions), std::string::npos) << line;
    EXPECT_FALSE(fs::exists(data)) << "the refused server created its data dir";
    EXPECT_FALSE(fs::exists(s.dir() / "port.tmp"));
  }
}

TEST(startup, port_in_use_is_one_line_naming_server_port) {
  const taken_port held;
  const std::string taken = "127.0.0.1:" + std::to_string(held.port());

  server_process s(env_map{{"SERVER_PORT", taken}});
  const auto line = expect_refused_start(s, "SERVER_PORT: ");
  // Exactly this: no Boost error category or source location.
  EXPECT_EQ(line, "chatrix: SERVER_PORT: cannot listen on " + taken + ": address already in use\n");
  // The port file was prepared before listening and removed when listening failed.
  EXPECT_FALSE(fs::exists(s.dir() / "port.tmp"));
  EXPECT_FALSE(fs::exists(s.dir() / "port"));

  // A new user's first start (SQLite in the data dir, no JWT_SECRET): refused before the
  // database or a secret is written.
  const auto data = s.dir() / "first-start";
  auto env = first_start_env(data);
  env["SERVER_PORT"] = taken;
  const auto run = run_to_exit(s.dir(), env);
  expect_one_line_exit(run, 2, "SERVER_PORT: cannot listen on " + taken + ": address already in use");
  EXPECT_FALSE(fs::exists(data / "chatrix.db"));
  EXPECT_FALSE(fs::exists(data / "jwt_secret"));
  EXPECT_FALSE(fs::exists(data)) << "the refused server created its data dir";
}

TEST(startup, an_unreachable_postgresql_is_one_line_on_stderr_with_status_1_and_writes_nothing) {
  server_process s(env_map{{"DB_CONNECTION_URL", ""}});  // for its temp dir only
  const auto data = s.dir() / "first-start";
  auto env = first_start_env(data);
  // Nothing listens on port 1 of loopback: refused at once.
  env["DB_CONNECTION_URL"] = "postgres://chat:s3cret-pw@127.0.0.1:1/chatrix";
  const auto run = run_to_exit(s.dir(), env);
  expect_one_line_exit(run, 1, "DB_CONNECTION_URL: cannot open PostgreSQL database ");
  EXPECT_EQ(run.err.find("s3cret-pw"), std::string::npos) << run.err;
  EXPECT_EQ(run.out.find("s3cret-pw"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(data / "jwt_secret"));
  EXPECT_FALSE(fs::exists(data)) << "the server created its data dir before reaching its database";
}

TEST(startup, every_address_setting_it_cannot_use_is_refused_before_anything_is_written) {
  struct bad_case {
    env_map env;
    std::string line_start;
    std::string mentions;
  };
  const std::string pg = "postgres://127.0.0.1:1/none";
  const std::string secret = "cluster-secret-0123456789";
  const std::vector<bad_case> cases = {
      {{{"SERVER_PORT", "70000"}}, "SERVER_PORT: ", "not a port"},
      {{{"SERVER_PORT", "example.com:80"}}, "SERVER_PORT: ", "IP address"},
      {{{"SERVER_HOST", "two words"}}, "SERVER_HOST: ", "not a host"},
      {{{"DB_CONNECTION_URL", "mysql://root@db/x"}}, "DB_CONNECTION_URL: ", "'mysql'"},
      {{{"DB_CONNECTION_URL", "postgres://chat:p@ss-word@db/x"}}, "DB_CONNECTION_URL: ", "%40"},
      {{{"DB_CONNECTION_URL", "host=db passwrd=x"}}, "DB_CONNECTION_URL: ", "libpq keyword"},
      {{{"DB_CONNECTION_URL", "sqlite:"}}, "DB_CONNECTION_URL: ", "file path"},
      // TLS would be attempted as plain text after the schema was migrated: refused first.
      {{{"REDISADDR", "rediss://127.0.0.1:6380"}, {"DB_CONNECTION_URL", pg}, {"JWT_SECRET", secret}},
       "REDISADDR: ",
       "TLS to Redis is not supported"},
      {{{"REDISADDR", "REDISS://127.0.0.1:6380"}, {"DB_CONNECTION_URL", pg}, {"JWT_SECRET", secret}},
       "REDISADDR: ",
       "TLS to Redis is not supported"},
      {{{"REDISADDR", "redis://127.0.0.1:6380/x"}, {"DB_CONNECTION_URL", pg}, {"JWT_SECRET", secret}},
       "REDISADDR: ",
       "database number"},
      {{{"CORS_ORIGINS", "ftp://x.example"}}, "CORS_ORIGINS: ", "http"},
  };
  server_process s(env_map{{"DB_CONNECTION_URL", ""}});  // for its temp dir only
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line_start + c.mentions);
    const auto data = s.dir() / "first-start";
    auto env = first_start_env(data);
    for (const auto& [k, v] : c.env) env[k] = v;
    const auto run = run_to_exit(s.dir(), env);
    expect_one_line_exit(run, 2, c.line_start);
    EXPECT_NE(run.err.find(c.mentions), std::string::npos) << run.err;
    EXPECT_FALSE(fs::exists(data)) << "the refused server created its data dir";
  }
}

TEST(startup, url_schemes_are_case_insensitive) {
  server_process s(env_map{{"DB_CONNECTION_URL", ""}});
  const auto file = s.dir() / "upper.db";
  s.set_env("DB_CONNECTION_URL", "SQLite:" + file.string());
  s.start();
  EXPECT_TRUE(fs::exists(file));
}

TEST(startup, a_data_dir_that_cannot_be_created_is_one_line_naming_chatrix_data_dir) {
  server_process s(env_map{{"JWT_SECRET", ""}});
  std::ofstream(s.dir() / "a-file") << "not a directory\n";
  const auto data = s.dir() / "a-file" / "data";
  s.set_env("CHATRIX_DATA_DIR", data.string());
  const auto line = expect_refused_start(s, "CHATRIX_DATA_DIR: cannot create " + data.string() + ": ");
  EXPECT_NE(line.find("not a directory"), std::string::npos) << line;
}

TEST(startup, an_unwritable_port_file_is_refused_before_anything_is_written) {
  server_process s(env_map{{"JWT_SECRET", ""}});
  const auto data = s.dir() / "fresh-data";
  const auto port_file = s.dir() / "no-such-dir" / "port";
  s.set_env("CHATRIX_DATA_DIR", data.string());
  s.set_env("CHATRIX_PORT_FILE", port_file.string());
  expect_refused_start(s, "CHATRIX_PORT_FILE: cannot write " + port_file.string() + ": no such file or directory");
  EXPECT_FALSE(fs::exists(data)) << "the data dir (and a JWT secret) was written before the port file was checked";
}

TEST(startup, generated_jwt_secret_is_private_kept_across_restarts_and_differs_per_data_dir) {
  server_process a(env_map{{"JWT_SECRET", ""}, {"LOG_LEVEL", "info"}});
  a.start();
  const auto secret_file = a.data_dir() / "jwt_secret";
  ASSERT_TRUE(fs::is_regular_file(secret_file));
  EXPECT_EQ(fs::status(secret_file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  std::string secret = read_file_text(secret_file);
  while (!secret.empty() && secret.back() == '\n') secret.pop_back();
  EXPECT_GE(secret.size(), 32u);
  const auto fp = fingerprint(secret);
  auto log = read_file_text(a.log_path());
  EXPECT_NE(log.find("JWT secret: generated and stored in " + secret_file.string() + " (fingerprint " + fp + ")"),
            std::string::npos)
      << log;
  for (const auto& entry : fs::directory_iterator(a.data_dir()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();

  const auto alice = register_user(a.port(), "alice", "password-alice", "Alice");
  a.stop();
  a.start();
  EXPECT_TRUE(token_accepted(a.port(), alice.token)) << "a token did not survive the restart";
  std::string again = read_file_text(secret_file);
  while (!again.empty() && again.back() == '\n') again.pop_back();
  EXPECT_EQ(again, secret) << "the stored secret changed on restart";
  log = read_file_text(a.log_path());
  EXPECT_NE(log.find("JWT secret: from " + secret_file.string() + " (fingerprint " + fp + ")"), std::string::npos)
      << log;
  EXPECT_EQ(log.find(secret), std::string::npos) << "the secret itself was logged";

  // Another data dir, another secret. Alice gets the same id there, so only the signature can
  // tell the two tokens apart.
  server_process b(env_map{{"JWT_SECRET", ""}});
  b.start();
  const auto alice_b = register_user(b.port(), "alice", "password-alice", "Alice");
  ASSERT_EQ(alice_b.id, alice.id);
  EXPECT_FALSE(token_accepted(b.port(), alice.token)) << "a token signed with another node's secret was accepted";
  EXPECT_TRUE(token_accepted(b.port(), alice_b.token));
}

TEST(startup, jwt_secret_from_the_environment_is_logged_by_fingerprint_and_not_stored) {
  server_process s(env_map{{"LOG_LEVEL", "info"}});
  s.start();
  const auto log = read_file_text(s.log_path());
  EXPECT_NE(log.find("JWT secret: from JWT_SECRET (fingerprint " + fingerprint(test_jwt_secret) + ")"),
            std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(s.data_dir() / "jwt_secret"));
}

}  // namespace
}  // namespace chatrix::test
