// How chatrix-cli fails: a stable code (the server's own, or one of the few below that only the
// CLI reports), a readable reason, and the exit status scripts branch on (docs/cli.md).
#pragma once

#include <stdexcept>
#include <string>

namespace chatrix::cli {

/// Exit statuses, documented in docs/cli.md; scripts depend on them, so they never change.
enum class exit_status : int {
  ok = 0,
  refused = 1,       // the server answered with an error code (bad_credentials, unknown_recipient...)
  usage = 2,         // the command line is wrong
  unreachable = 3,   // no server at the address, or it broke the protocol
  unauthorized = 4,  // no saved login, or the server refused the token: log in again
  timeout = 5,       // the awaited answer (or --count messages) did not come in time
  local = 6,         // the CLI could not read or write its own files
};

/// A failure to report on stderr as one line, "chatrix-cli: <code>: <reason>".
struct cli_error : std::runtime_error {
  cli_error(std::string error_code, const std::string& reason, exit_status exit_with)
      : std::runtime_error(reason), code(std::move(error_code)), status(exit_with) {}

  std::string code;
  exit_status status;
};

/// An error code the server sent; `unauthorized` gets its own exit status, so that a script can
/// tell "log in again" from every other refusal.
inline cli_error server_error(const std::string& code, const std::string& reason) {
  return cli_error(code, reason, code == "unauthorized" ? exit_status::unauthorized : exit_status::refused);
}

}  // namespace chatrix::cli
