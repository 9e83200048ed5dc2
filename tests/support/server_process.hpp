// Launches the real chatrix binary in a private temp dir for black-box tests: fixed test
// environment, port discovered through CHATRIX_PORT_FILE, stop with SIGTERM (then SIGKILL),
// SQLite in the data dir or (CHATRIX_TEST_STORE=postgres) a PostgreSQL database of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <sys/types.h>

namespace chatrix::test {

/// The JWT_SECRET every test server runs with, so tests can mint their own tokens.
inline constexpr const char* test_jwt_secret = "chatrix-integration-test-secret-0123456789abcdef";

/// One server process and the temp dir it owns. The data dir survives stop()/start(), so a
/// test can restart the server on the same data; the temp dir is removed by the destructor.
/// With CHATRIX_TEST_STORE=postgres (see test_store.hpp) and no DB_CONNECTION_URL in
/// `extra_env`, the constructor creates a fresh database, used by every start() (so a
/// restart finds its data) and dropped by the destructor.
/// Not thread-safe: drive it from the test thread.
class server_process {
 public:
  /// `extra_env` is added to (and overrides) the test environment, e.g. {"AUTH_TIMEOUT","1"}.
  explicit server_process(std::map<std::string, std::string> extra_env = {});
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  /// Spawns the binary and waits until it has written its port. Throws std::runtime_error
  /// (with the log tail) if it exits early or does not listen within `timeout`.
  void start(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// SIGTERM, then waits up to `grace`, then SIGKILL. Returns the exit status as from
  /// waitpid (std::nullopt if it was not running or had to be killed).
  std::optional<int> stop(std::chrono::milliseconds grace = std::chrono::seconds(15));

  /// SIGKILL without a chance to clean up (crash simulation).
  void kill_hard();

  /// True while the process has not exited (reaps it if it has).
  bool alive();

  /// The exit status (waitpid format) of the last run once it has exited.
  std::optional<int> last_status() const { return last_status_; }

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path log_path() const { return dir_ / "server.log"; }
  /// The DB_CONNECTION_URL this server runs with ("" for the SQLite default).
  std::string database_url() const;

  /// The last `lines` lines of the server's stdout+stderr (all runs).
  std::string log_tail(std::size_t lines = 60) const;
  /// The whole log so far (all runs).
  std::string log_text() const;
  /// The port of the admin listener, as the log of a server started with ADMIN_PORT=0 and
  /// LOG_LEVEL info or finer says it (on 127.0.0.1). Throws when the log has no such line.
  std::uint16_t admin_port_from_log() const;

  /// Extra environment for the next start() (e.g. to restart with other limits).
  void set_env(const std::string& key, const std::string& value) { extra_env_[key] = value; }

 private:
  bool reap(bool block);

  std::map<std::string, std::string> extra_env_;
  std::string own_database_;  // created for this server (PostgreSQL runs), dropped at the end
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::optional<int> last_status_;
};

/// The server binary under test (CHATRIX_BIN, overridable with the env var CHATRIX_BIN).
std::string server_binary();

}  // namespace chatrix::test
