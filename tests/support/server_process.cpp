// Spawns and stops the chatrix binary for the integration tests (posix_spawn, temp dir,
// port file handshake). See server_process.hpp.
#include "support/server_process.hpp"

#include "support/file_text.hpp"
#include "support/test_store.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace chatrix::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string server_binary() {
  if (const char* env = std::getenv("CHATRIX_BIN"); env != nullptr && *env != '\0') return env;
#ifdef CHATRIX_BIN
  return CHATRIX_BIN;
#else
  return "chatrix";
#endif
}

namespace {

fs::path make_temp_dir() {
  std::string templ = (fs::temp_directory_path() / "chatrix-it-XXXXXX").string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  return fs::path(buf.data());
}

// Variables of the developer's shell that would change the server's behaviour are not
// passed on: the test decides the whole configuration.
bool inherited(const std::string& key) {
  static const char* keep[] = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "ASAN_OPTIONS",
                               "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS"};
  for (const char* k : keep)
    if (key == k) return true;
  return false;
}

}  // namespace

server_process::server_process(std::map<std::string, std::string> extra_env) : extra_env_(std::move(extra_env)) {
  // The database first: if PostgreSQL cannot be had, no temp dir is left behind.
  if (testing_postgres() && extra_env_.count("DB_CONNECTION_URL") == 0) {
    own_database_ = create_test_database();
    extra_env_["DB_CONNECTION_URL"] = own_database_;
  }
  if (testing_cluster() && extra_env_.count("REDISADDR") == 0) extra_env_["REDISADDR"] = test_redis_address();
  dir_ = make_temp_dir();
  fs::create_directories(data_dir());
}

server_process::~server_process() {
  if (pid_ > 0) stop(5s);
  // After the stop: the server's connections must be gone before the database can go.
  if (!own_database_.empty() && std::getenv("CHATRIX_KEEP_TEST_DIR") == nullptr) drop_test_database(own_database_);
  std::error_code ec;
  if (std::getenv("CHATRIX_KEEP_TEST_DIR") == nullptr) fs::remove_all(dir_, ec);
}

std::string server_process::database_url() const {
  auto it = extra_env_.find("DB_CONNECTION_URL");
  return it == extra_env_.end() ? std::string() : it->second;
}

void server_process::start(std::chrono::milliseconds timeout) {
  if (pid_ > 0) throw std::runtime_error("server already running");
  const fs::path port_file = dir_ / "port";
  std::error_code ec;
  fs::remove(port_file, ec);  // a restart must not read the previous run's port

  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string key = kv.substr(0, eq);
    if (inherited(key)) env[key] = kv.substr(eq + 1);
  }
  env["CHATRIX_DATA_DIR"] = data_dir().string();
  env["SERVER_PORT"] = "127.0.0.1:0";
  env["CHATRIX_PORT_FILE"] = port_file.string();
  env["ARGON2_PROFILE"] = "min";
  env["LOG_LEVEL"] = "warn";
  env["JWT_SECRET"] = test_jwt_secret;
  for (const auto& [k, v] : extra_env_) env[k] = v;

  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  // Absolute, because the child runs in the temp dir.
  std::string bin = fs::absolute(server_binary()).string();
  std::vector<char*> argv{bin.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = log_path().string();
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // The server reads a .env file from its working directory; run it in the temp dir so a
  // developer's .env can never leak into a test.
  posix_spawn_file_actions_addchdir_np(&actions, dir_.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so a Ctrl-C aimed at the test runner is not also a SIGINT to the server
  // and its default signal mask is clean.
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  sigset_t dfl;
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGTERM);
  sigaddset(&dfl, SIGINT);
  sigaddset(&dfl, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, bin.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("posix_spawn(" + bin + ") failed: " + std::strerror(rc));
  pid_ = pid;
  last_status_.reset();
  port_ = 0;

  // Wait for the port file. The server writes it with write-then-rename, but an empty or
  // partial read is retried anyway.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!alive()) {
      throw std::runtime_error("chatrix exited before listening (status " +
                               std::to_string(last_status_.value_or(-1)) + "); log tail:\n" + log_tail());
    }
    std::ifstream in(port_file);
    if (in) {
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
      if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 5) {
        unsigned long p = std::stoul(text);
        if (p > 0 && p < 65536) {
          port_ = static_cast<std::uint16_t>(p);
          return;
        }
      }
    }
    std::this_thread::sleep_for(10ms);
  }
  kill_hard();
  throw std::runtime_error("chatrix did not write its port file within the timeout; log tail:\n" + log_tail());
}

bool server_process::reap(bool block) {
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    last_status_ = status;
    pid_ = -1;
    return true;
  }
  if (r < 0) {  // not our child any more (should not happen)
    pid_ = -1;
    return true;
  }
  return false;
}

bool server_process::alive() { return !reap(false); }

std::optional<int> server_process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return std::nullopt;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (reap(false)) return last_status_;
    std::this_thread::sleep_for(10ms);
  }
  kill_hard();
  return std::nullopt;
}

void server_process::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  reap(true);
}

std::string server_process::log_text() const { return read_file_text(log_path()); }

std::uint16_t server_process::admin_port_from_log() const {
  static const std::regex line(R"(admin routes \(/metrics, /cluster\) on 127\.0\.0\.1:(\d+))");
  const auto log = log_text();
  std::smatch m;
  if (!std::regex_search(log, m, line)) throw std::runtime_error("no admin listener in the log:\n" + log);
  return static_cast<std::uint16_t>(std::stoi(m[1]));
}

std::string server_process::log_tail(std::size_t lines) const {
  std::ifstream in(log_path());
  if (!in) return "(no server log)\n";
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  std::ostringstream out;
  for (const auto& l : tail) out << "  | " << l << '\n';
  if (tail.empty()) out << "  | (server log is empty)\n";
  return out.str();
}

}  // namespace chatrix::test
