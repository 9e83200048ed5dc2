#include "password_input.hpp"

#include "cli_error.hpp"

#include <cstdlib>
#include <iostream>

#include <termios.h>
#include <unistd.h>

namespace chatrix::cli {

namespace {

/// Turns terminal echo off for its lifetime, so that the password is not shown as typed.
class echo_off {
 public:
  echo_off() : active_(::tcgetattr(STDIN_FILENO, &saved_) == 0) {
    if (!active_) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  ~echo_off() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  echo_off(const echo_off&) = delete;
  echo_off& operator=(const echo_off&) = delete;

 private:
  termios saved_{};
  bool active_;
};

}  // namespace

std::string read_password(const std::optional<std::string>& flag) {
  if (flag) return *flag;
  if (const char* env = std::getenv("CHATRIX_PASSWORD")) return env;
  std::string line;
  if (::isatty(STDIN_FILENO)) {
    std::cerr << "Password: " << std::flush;
    {
      echo_off quiet;
      std::getline(std::cin, line);
    }
    std::cerr << '\n';
  } else {
    std::getline(std::cin, line);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty())
    throw cli_error("usage", "no password: give --password, set CHATRIX_PASSWORD, or type it when asked",
                    exit_status::usage);
  return line;
}

}  // namespace chatrix::cli
