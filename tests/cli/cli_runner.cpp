#include "cli_runner.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace chatrix::test {

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Variables that would make the CLI use the developer's login or server instead of the test's.
bool belongs_to_the_cli(std::string_view key) {
  return key == "XDG_CONFIG_HOME" || key == "HOME" || key == "CHATRIX_SERVER" || key == "CHATRIX_PASSWORD";
}

}  // namespace

std::string cli_binary() { return CHATRIX_CLI_BIN; }

std::vector<boost::json::object> cli_result::records() const {
  std::vector<boost::json::object> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    if (ec || !value.is_object()) {
      ADD_FAILURE() << "not a JSON object line: " << line;
      continue;
    }
    lines.push_back(std::move(value.get_object()));
  }
  return lines;
}

child_process::child_process(const fs::path& work_dir, const std::string& program,
                             const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                             const std::string& input) {
  static std::atomic<int> sequence{0};
  const std::string stem = "cli-" + std::to_string(++sequence);
  out_path_ = fs::absolute(work_dir / (stem + ".out"));
  err_path_ = fs::absolute(work_dir / (stem + ".err"));
  const fs::path in_path = work_dir / (stem + ".in");
  std::ofstream(in_path) << input;

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (!belongs_to_the_cli(entry.substr(0, entry.find('=')))) env_strings.emplace_back(entry);
  }
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> argv_strings{program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // In the test's own directory, so that files it writes (downloads) stay there.
  posix_spawn_file_actions_addchdir_np(&actions, work_dir.c_str());
  posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int rc = ::posix_spawnp(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawnp(" + program + "): " + std::strerror(rc));
}

child_process::~child_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string child_process::output_so_far() const { return slurp(out_path_); }

cli_result child_process::wait() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  cli_result result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = slurp(out_path_);
  result.err = slurp(err_path_);
  return result;
}

}  // namespace chatrix::test
