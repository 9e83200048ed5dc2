// pg_instance: runs initdb and pg_ctl (as the postgres user when we are root) with
// posix_spawn, finds a free port by binding port 0, and talks SQL through blocking libpq.

#include "support/pg_instance.hpp"

#include <libpq-fe.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace chatrix::testing {

namespace fs = std::filesystem;

namespace {

/// `pg_config --bindir` (from libpq-dev), else Debian's versioned directory.
fs::path find_bin_dir() {
  if (FILE* p = ::popen("pg_config --bindir 2>/dev/null", "r")) {
    std::array<char, 512> buf{};
    std::string out;
    while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
    ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (!out.empty() && fs::exists(fs::path(out) / "initdb")) return out;
  }
  return "/usr/lib/postgresql/15/bin";
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Runs argv to completion with stdout/stderr appended to `log`; returns the exit status.
int run(const std::vector<std::string>& argv, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// State and parent of a process from /proc/<pid>/stat; false when it does not exist.
bool read_stat(pid_t pid, char& state, pid_t& parent) {
  std::ifstream stat(fs::path("/proc") / std::to_string(pid) / "stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // pid (comm) state ppid ...: comm may hold spaces, so parse after the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 1));
  return static_cast<bool>(rest >> state >> parent);
}

/// The processes whose parent is `parent` right now.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    char state = 0;
    pid_t ppid = 0;
    if (read_stat(pid, state, ppid) && ppid == parent) children.push_back(pid);
  }
  return children;
}

/// True once `pid` is gone, reaped too: a new postmaster takes an old one that is still a
/// zombie for a running server (it probes the pid in postmaster.pid with kill(pid, 0)).
bool is_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

struct pg_conn_deleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct pg_result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};

}  // namespace

pg_instance::pg_instance() : bin_dir_(find_bin_dir()) {
  std::string pattern = (fs::temp_directory_path() / "chatrix-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  data_dir_ = dir_ / "data";
  socket_dir_ = dir_ / "sock";
  log_file_ = dir_ / "server.log";
  commands_log_ = dir_ / "commands.log";
  fs::create_directories(socket_dir_);
  if (::geteuid() == 0) {
    // initdb refuses to run as root: the whole directory belongs to the postgres user.
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("running as root but there is no postgres user");
    for (const fs::path& p : {dir_, socket_dir_}) {
      if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed");
    }
  }
  try {
    // initdb is most of the start-up time, and gtest_discover_tests runs every test in its
    // own process: the first instance keeps a pristine copy of its fresh cluster in the temp
    // dir, later ones copy that (keyed by user and server binaries; a copy preserves owner
    // and modes). Two processes racing to create it both succeed; one rename wins.
    const fs::path cached = fs::temp_directory_path() /
                            ("chatrix-pg-template-" + std::to_string(::geteuid()) + "-" +
                             std::to_string(std::hash<std::string>{}(bin_dir_.string())));
    if (fs::exists(cached / "PG_VERSION") && run({"cp", "-a", cached.string(), data_dir_.string()}, commands_log_) == 0) {
      // copied
    } else {
      std::error_code ignored;
      fs::remove_all(data_dir_, ignored);
      run_as_server_user({(bin_dir_ / "initdb").string(), "-D", data_dir_.string(), "-U", "postgres", "-A", "trust",
                          "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"});
      const fs::path staging = cached.string() + ".tmp-" + std::to_string(::getpid());
      if (run({"cp", "-a", data_dir_.string(), staging.string()}, commands_log_) == 0) {
        fs::rename(staging, cached, ignored);
      }
      fs::remove_all(staging, ignored);
    }
    port_ = free_port();
    start();
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

pg_instance::~pg_instance() {
  if (detached_) return;
  resume();
  try {
    if (running_) stop();
  } catch (...) {
    try {
      kill();
    } catch (...) {
    }
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void pg_instance::stop_detached(const fs::path& directory) noexcept {
  try {
    const fs::path data = directory / "data";
    if (!fs::exists(data / "PG_VERSION")) return;
    std::vector<std::string> argv;
    if (::geteuid() == 0) argv = {"runuser", "-u", "postgres", "--"};
    const std::vector<std::string> stop = {(find_bin_dir() / "pg_ctl").string(), "-D", data.string(), "-m", "fast",
                                           "-w", "-t", "30", "stop"};
    argv.insert(argv.end(), stop.begin(), stop.end());
    if (fs::exists(data / "postmaster.pid") && run(argv, "/dev/null") != 0) {
      std::ifstream pidfile(data / "postmaster.pid");
      if (pid_t pid = 0; (pidfile >> pid) && pid > 0) ::kill(pid, SIGKILL);
    }
    std::error_code ignored;
    fs::remove_all(directory, ignored);
  } catch (...) {
  }
}

void pg_instance::run_as_server_user(const std::vector<std::string>& argv, bool check) const {
  std::vector<std::string> full;
  if (::geteuid() == 0) full = {"runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  // Not the server log: the server (another user) appends to that one itself.
  const int status = run(full, commands_log_);
  if (check && status != 0) {
    throw std::runtime_error(argv[0] + " failed with status " + std::to_string(status) + "; log:\n" + log_tail());
  }
}

void pg_instance::start() {
  // fsync stays on: the tests check what was acknowledged, under the same durability
  // settings as production. listen_addresses: loopback only.
  const std::string options = "-p " + std::to_string(port_) + " -k " + socket_dir_.string() +
                              " -c listen_addresses=127.0.0.1 -c max_connections=200";
  run_as_server_user({(bin_dir_ / "pg_ctl").string(), "-D", data_dir_.string(), "-l", log_file_.string(), "-w", "-t",
                      "60", "-o", options, "start"});
  running_ = true;
}

void pg_instance::stop() {
  run_as_server_user({(bin_dir_ / "pg_ctl").string(), "-D", data_dir_.string(), "-m", "fast", "-w", "-t", "60", "stop"});
  running_ = false;
}

void pg_instance::kill() {
  std::ifstream pidfile(data_dir_ / "postmaster.pid");
  pid_t pid = 0;
  if (!(pidfile >> pid) || pid <= 0) {
    running_ = false;
    return;
  }
  // Its backends notice its death and exit on their own, but a new server cannot start
  // while any of them still holds the shared memory: wait for each. Stopped first, the
  // postmaster cannot start another behind the list's back. None of them is our child (the
  // postmaster is our grandchild's child), so this polls /proc instead of waitpid, up to 5 s
  // in all.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  ::kill(pid, SIGSTOP);
  char state = 0;
  pid_t parent = 0;
  while (read_stat(pid, state, parent) && state != 'T' && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::vector<pid_t> old_server = children_of(pid);
  old_server.push_back(pid);
  ::kill(pid, SIGKILL);
  for (const pid_t p : old_server) {
    while (!is_gone(p) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  running_ = false;
}

void pg_instance::pause() {
  if (!paused_.empty()) return;
  std::ifstream pidfile(data_dir_ / "postmaster.pid");
  pid_t postmaster = 0;
  if (!(pidfile >> postmaster) || postmaster <= 0) throw std::runtime_error("pause: no postmaster.pid");
  // The postmaster first, so that it starts no new process while its children are stopped.
  if (::kill(postmaster, SIGSTOP) != 0) throw std::runtime_error("pause: cannot stop the postmaster");
  paused_.push_back(postmaster);
  for (const pid_t pid : children_of(postmaster)) {
    if (::kill(pid, SIGSTOP) == 0) paused_.push_back(pid);
  }
}

void pg_instance::resume() {
  for (auto it = paused_.rbegin(); it != paused_.rend(); ++it) ::kill(*it, SIGCONT);
  paused_.clear();
}

void pg_instance::require_password(const std::string& role) {
  const fs::path hba = data_dir_ / "pg_hba.conf";
  std::string text;
  {
    std::ifstream in(hba);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw std::runtime_error("cannot read " + hba.string());
  }
  {
    // Rewritten in place (not replaced): the file keeps its owner, the server's user.
    std::ofstream out(hba, std::ios::trunc);
    out << "host all " << role << " 127.0.0.1/32 scram-sha-256\n" << text;
    if (!out) throw std::runtime_error("cannot write " + hba.string());
  }
  query("postgres", "SELECT pg_reload_conf()");
  // The reload is asynchronous: wait until a login without a password is refused.
  const std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + role + " dbname=postgres password=''";
  for (int i = 0; i < 500; ++i) {
    std::unique_ptr<PGconn, pg_conn_deleter> c(PQconnectdb(conninfo.c_str()));
    if (PQstatus(c.get()) != CONNECTION_OK) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("pg_hba.conf change for " + role + " did not take effect");
}

std::string pg_instance::url(std::string_view database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + std::string(database);
}

std::string pg_instance::key_value_conninfo(std::string_view database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + std::string(database);
}

std::string pg_instance::create_database() {
  static std::atomic<int> counter{0};
  // An identifier cannot be a parameter; this one is made of [t0-9_] only. (Built with
  // append: operator+ on a short literal trips a GCC 12 -Wrestrict false positive.)
  std::string name = "t";
  name.append(std::to_string(::getpid())).append("_").append(std::to_string(++counter));
  query("postgres", std::string("CREATE DATABASE ").append(name));
  ++databases_;
  return url(name);
}

std::string pg_instance::query(std::string_view database, const std::string& sql) const {
  std::unique_ptr<PGconn, pg_conn_deleter> c(PQconnectdb(key_value_conninfo(database).c_str()));
  if (PQstatus(c.get()) != CONNECTION_OK) throw std::runtime_error(std::string("connect: ") + PQerrorMessage(c.get()));
  std::unique_ptr<PGresult, pg_result_deleter> r(PQexec(c.get(), sql.c_str()));
  const auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
  }
  if (st == PGRES_TUPLES_OK && PQntuples(r.get()) > 0 && PQnfields(r.get()) > 0 && !PQgetisnull(r.get(), 0, 0)) {
    return PQgetvalue(r.get(), 0, 0);
  }
  return {};
}

std::string pg_instance::log_tail() const {
  std::stringstream all;
  for (const fs::path& p : {commands_log_, log_file_}) {
    std::ifstream in(p);
    all << "== " << p.filename().string() << "\n" << in.rdbuf();
  }
  const std::string text = all.str();
  return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
}

}  // namespace chatrix::testing
