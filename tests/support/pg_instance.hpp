// A throwaway PostgreSQL 15 server for tests: initdb in a temp dir, started on a free
// loopback port, stoppable and restartable on the same data (for outage tests).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::testing {

/// One private PostgreSQL cluster. When the process runs as root, the server runs as the
/// `postgres` OS user (initdb refuses root) through `runuser -u postgres --`. Not
/// thread-safe; construct it once per test binary (starting takes about a second).
class pg_instance {
 public:
  /// initdb (-A trust -E UTF8 --locale=C.UTF-8) and start. Throws std::runtime_error,
  /// with the server log's tail, on failure.
  pg_instance();
  pg_instance(const pg_instance&) = delete;
  pg_instance& operator=(const pg_instance&) = delete;
  /// Stops the server (killing it if it will not stop) and removes the directory.
  ~pg_instance();

  /// Starts the server on the same data dir and port (again, after stop() or kill()).
  void start();
  /// Fast shutdown: clients are disconnected, committed data stays.
  void stop();
  /// SIGKILL to the postmaster (a crash); waits until the old server is gone.
  void kill();
  bool running() const noexcept { return running_; }
  /// SIGSTOP to the postmaster and every process it started: the server stays reachable
  /// (the kernel still accepts connections and buffers what is sent) but answers nothing,
  /// like a hung host or a stalled disk. Open sessions freeze with whatever they hold.
  void pause();
  /// SIGCONT to the processes pause() stopped. Does nothing when not paused.
  void resume();
  bool paused() const noexcept { return !paused_.empty(); }

  /// TCP logins of `role` need a password (scram-sha-256) from now on; everyone else stays
  /// trusted. Prepends a pg_hba.conf line, reloads, and waits until it is in force.
  void require_password(const std::string& role);

  int port() const noexcept { return port_; }
  /// postgresql://postgres@127.0.0.1:<port>/<database>
  std::string url(std::string_view database = "postgres") const;
  /// The same server as a libpq key=value string.
  std::string key_value_conninfo(std::string_view database = "postgres") const;

  /// Creates a new, empty database with a unique name and returns its URL.
  std::string create_database();
  /// Runs one SQL statement (no parameters) on `database`, blocking; throws on failure.
  /// Returns the first column of the first row, if any (for quick checks in tests).
  std::string query(std::string_view database, const std::string& sql) const;

  const std::filesystem::path& directory() const noexcept { return dir_; }

  /// Leaves the server running and its directory in place when this object is destroyed,
  /// for a server that outlives the process (the ctest run's shared server). Stop it later
  /// with stop_detached(directory()).
  void detach() noexcept { detached_ = true; }
  /// Stops a detached instance (fast shutdown; SIGKILL if that fails) and removes its
  /// directory. Does nothing if `directory` holds no cluster. Never throws.
  static void stop_detached(const std::filesystem::path& directory) noexcept;

 private:
  void run_as_server_user(const std::vector<std::string>& argv, bool check = true) const;
  std::string log_tail() const;

  std::filesystem::path bin_dir_;
  std::filesystem::path dir_;
  std::filesystem::path data_dir_;
  std::filesystem::path socket_dir_;
  std::filesystem::path log_file_;      // the server's own log
  std::filesystem::path commands_log_;  // output of initdb and pg_ctl
  int port_ = 0;
  bool running_ = false;
  bool detached_ = false;
  int databases_ = 0;
  std::vector<int> paused_;  // pids stopped by pause()
};

}  // namespace chatrix::testing
