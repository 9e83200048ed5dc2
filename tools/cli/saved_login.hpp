// The login chatrix-cli keeps between runs: $XDG_CONFIG_HOME/chatrix/login.json (by default
// ~/.config/chatrix/login.json), readable by its owner only, since the token is a password
// for the next 24 hours.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace chatrix::cli {

struct saved_login {
  std::string server;  // http://host:port, as server_url::text
  std::string token;
  std::int64_t user_id = 0;
  std::string username;
};

/// Where the login is kept; throws cli_error (local) when neither XDG_CONFIG_HOME nor HOME is set.
std::filesystem::path saved_login_path();

/// The saved login, or nullopt when there is none. A file that cannot be read or parsed throws
/// cli_error (local) naming it.
std::optional<saved_login> load_login();

/// Writes the login atomically (a temp file created with mode 0600, then renamed), creating the
/// directory with mode 0700; throws cli_error (local) on failure.
void save_login(const saved_login& login);

/// Removes the saved login; false when there was none.
bool forget_login();

}  // namespace chatrix::cli
