// Runs the real chatrix-cli binary as a user would: its own environment (XDG_CONFIG_HOME per
// test user, the server's address), optional stdin, stdout and stderr captured.
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

/// One chatrix-cli process. Not thread-safe; the test thread drives it.
class cli_process {
 public:
  /// Starts `chatrix-cli args...` with the environment of the test stripped of the CLI's own
  /// variables, plus `env`; `input` is its stdin. Output goes to files in `work_dir`.
  cli_process(const std::filesystem::path& work_dir, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env, const std::string& input = "");
  ~cli_process();
  cli_process(const cli_process&) = delete;
  cli_process& operator=(const cli_process&) = delete;

  /// Waits for the exit (the CLI bounds every wait of its own) and returns what it printed.
  cli_result wait();

 private:
  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
  pid_t pid_ = -1;
};

/// The binary under test (CHATRIX_CLI_BIN).
std::string cli_binary();

}  // namespace chatrix::test
