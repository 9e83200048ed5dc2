// The server a command talks to and the token it uses: shared by the account and chat commands.
#pragma once

#include "commands.hpp"
#include "saved_login.hpp"
#include "server_url.hpp"

namespace chatrix::cli {

/// --server / CHATRIX_SERVER when given, else the saved login's server, else the default; with
/// --cacert / CHATRIX_CA_FILE.
server_url server_for(const context& ctx, const std::optional<saved_login>& login);

/// The saved login, or cli_error unauthorized ("log in first").
saved_login require_login();

}  // namespace chatrix::cli
