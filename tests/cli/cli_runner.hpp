// Runs the real chatrix-cli binary (or a helper program) as a user would: its own environment
// (XDG_CONFIG_HOME per test user, the server's address), optional stdin, stdout and stderr
// captured in files.
#pragma once

#include <boost/json/object.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <sys/types.h>

namespace chatrix::test {

struct cli_result {
  int exit_code = -1;  // -1: did not exit normally
  std::string out;
  std::string err;

  /// stdout as --json records, one object per line; a line that is not one fails the test.
  std::vector<boost::json::object> records() const;
};

/// One child process, killed by the destructor if still running. Not thread-safe; the test
/// thread drives it.
class child_process {
 public:
  /// Starts `program args...` (found on PATH) in `work_dir` with the environment of the test
  /// stripped of the CLI's own variables, plus `env`; `input` is its stdin. Output goes to files
  /// in `work_dir`.
  child_process(const std::filesystem::path& work_dir, const std::string& program,
                const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                const std::string& input = "");
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Waits for the exit (the CLI bounds every wait of its own) and returns what it printed.
  cli_result wait();

  /// What it has written to stdout so far.
  std::string output_so_far() const;

 private:
  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
  pid_t pid_ = -1;
};

/// The binary under test (CHATRIX_CLI_BIN).
std::string cli_binary();

/// `chatrix-cli args...`, as child_process describes.
class cli_process : public child_process {
 public:
  cli_process(const std::filesystem::path& work_dir, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env, const std::string& input = "")
      : child_process(work_dir, cli_binary(), args, env, input) {}
};

}  // namespace chatrix::test
