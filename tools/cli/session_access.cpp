#include "session_access.hpp"

#include "cli_error.hpp"

namespace chatrix::cli {

server_url server_for(const context& ctx, const std::optional<saved_login>& login) {
  server_url server = parse_server_url(ctx.server ? *ctx.server : login ? login->server : std::string(default_server));
  server.ca_file = ctx.ca_file;
  return server;
}

saved_login require_login() {
  auto login = load_login();
  if (!login)
    throw cli_error("unauthorized", "not logged in (no saved login in " + saved_login_path().string() + ")",
                    exit_status::unauthorized);
  return std::move(*login);
}

}  // namespace chatrix::cli
