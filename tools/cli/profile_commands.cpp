// rename, presence, export, delete-account: the account's own data over HTTP (PATCH /v1/me,
// GET /v1/me/export, DELETE /v1/me).
#include "cli_error.hpp"
#include "command_support.hpp"
#include "http_api.hpp"
#include "partial_file.hpp"
#include "password_input.hpp"
#include "session_access.hpp"

#include <iostream>

namespace chatrix::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

/// GET and PATCH /v1/me's answer as a record, and a line for people.
void print_profile(const context& ctx, const json::value& answer, const std::string& verb) {
  const auto& profile = as_object(answer, "profile");
  const user me = user_of(answer);
  const bool shown = bool_field_or(profile, "show_presence", true);
  ctx.out.record({{"id", me.id}, {"username", me.username}, {"name", me.name}, {"show_presence", shown}},
                 verb + display(me.username, me.name) + ", presence " + (shown ? "shown" : "hidden"));
}

json::value patch_me(const context& ctx, json::object changes) {
  const saved_login login = require_login();
  return call_json(server_for(ctx, login), login.token, http_request::method::patch, "/v1/me", changes);
}

}  // namespace

void run_rename(const context& ctx, const rename_options& options) {
  print_profile(ctx, patch_me(ctx, {{"name", join(options.words)}}), "renamed: ");
}

void run_presence(const context& ctx, const presence_options& options) {
  if (options.show) {
    print_profile(ctx, patch_me(ctx, {{"show_presence", *options.show}}), "");
    return;
  }
  const saved_login login = require_login();
  print_profile(ctx, get_json(server_for(ctx, login), login.token, "/v1/me"), "");
}

void run_export(const context& ctx, const export_options& options) {
  const saved_login login = require_login();
  const server_url server = server_for(ctx, login);
  const std::string target = "/v1/me/export";
  if (!options.out) {
    download(server, login.token, target, [](std::string_view chunk) {
      std::cout.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    });
    std::cout.flush();
    return;  // stdout holds the document: no record
  }
  partial_file part(options.out->string() + ".part");
  const downloaded file = download(server, login.token, target, [&](std::string_view chunk) { part.write(chunk); });
  part.keep_as(*options.out, true);
  ctx.out.record({{"path", options.out->string()}, {"size", file.size}},
                 "exported " + login.username + " (" + std::to_string(file.size) + " bytes) to " +
                     options.out->string());
}

void run_delete_account(const context& ctx, const delete_account_options& options) {
  const saved_login login = require_login();
  const std::string password = read_password(options.password);
  const json::value answer = call_json(server_for(ctx, login), login.token, http_request::method::del, "/v1/me",
                                       json::object{{"password", password}});
  // Deleted is 204 and nothing else: a server without account deletion must not make the CLI
  // forget a login that still works.
  if (!answer.is_null())
    throw cli_error("bad_response", "the server answered DELETE /v1/me without deleting the account (an older server?)",
                    exit_status::unreachable);
  // Every token of the account is revoked now, this one too.
  forget_login();
  ctx.out.record({{"deleted", true}, {"username", login.username}},
                 "deleted the account " + login.username + " (every login of it is revoked)");
}

}  // namespace chatrix::cli
