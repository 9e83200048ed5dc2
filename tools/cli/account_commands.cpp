// register, login, logout, whoami: the account and the saved login.
#include "cli_error.hpp"
#include "client.hpp"
#include "commands.hpp"
#include "password_input.hpp"
#include "session_access.hpp"

namespace chatrix::cli {

namespace json = boost::json;

namespace {

json::object user_record(const user& who) {
  return {{"id", who.id}, {"username", who.username}, {"name", who.name}};
}

/// The saved login's server for a new login: a file that cannot be read is about to be replaced,
/// so it must not stand in the way of the login that replaces it.
server_url server_for_new_login(const context& ctx) {
  try {
    return server_for(ctx, load_login());
  } catch (const cli_error& e) {
    if (e.status != exit_status::local) throw;
    return server_for(ctx, std::nullopt);
  }
}

/// Keeps the new token and says who is logged in where.
void keep(const context& ctx, const server_url& server, const signed_in& session, const std::string& verb) {
  save_login({server.text, session.token, session.who.id, session.who.username});
  ctx.out.record({{"user", user_record(session.who)}, {"server", server.text}},
                 verb + " " + display(session.who.username, session.who.name) + " at " + server.text);
}

}  // namespace

void run_register(const context& ctx, const register_options& options) {
  const server_url server = server_for_new_login(ctx);
  const std::string password = read_password(options.password);
  keep(ctx, server, register_account(server, options.username, password, options.name),
       "registered and logged in as");
}

void run_login(const context& ctx, const login_options& options) {
  const server_url server = server_for_new_login(ctx);
  const std::string password = read_password(options.password);
  keep(ctx, server, log_in(server, options.username, password), "logged in as");
}

void run_logout(const context& ctx) {
  const auto login = load_login();
  if (!login) {
    ctx.out.record({{"revoked", 0}}, "not logged in");
    return;
  }
  std::int64_t revoked = 0;
  try {
    revoked = log_out(server_for(ctx, login), login->token);
  } catch (const cli_error& e) {
    // A token the server no longer takes (expired, revoked) is as good as logged out; any other
    // failure keeps the file, so that the logout can be tried again.
    if (e.status != exit_status::unauthorized) throw;
  }
  forget_login();
  ctx.out.record({{"revoked", revoked}}, "logged out " + login->username);
}

void run_whoami(const context& ctx) {
  const saved_login login = require_login();
  const server_url server = server_for(ctx, login);
  chat_session session(server, login.token);
  json::object record = user_record(session.me());
  record["server"] = server.text;
  ctx.out.record(record, display(session.me().username, session.me().name) + ", id " +
                             std::to_string(session.me().id) + ", at " + server.text);
}

}  // namespace chatrix::cli
