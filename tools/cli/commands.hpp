// The commands of chatrix-cli, one function each; main.cpp parses the command line into these
// options. Each throws cli_error to fail, and prints its records through the context's printer.
#pragma once

#include "printer.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chatrix::cli {

struct context {
  std::optional<std::string> server;  // --server or CHATRIX_SERVER; else the saved login's, else the default
  std::string ca_file;                // --cacert or CHATRIX_CA_FILE: certificates to trust for https://
  printer out{false};
};

// ---- account_commands.cpp ----

struct register_options {
  std::string username;
  std::string name;
  std::optional<std::string> password;
};
void run_register(const context& ctx, const register_options& options);

struct login_options {
  std::string username;
  std::optional<std::string> password;
};
void run_login(const context& ctx, const login_options& options);

void run_logout(const context& ctx);
void run_whoami(const context& ctx);

// ---- chat_commands.cpp ----

struct send_options {
  std::string to;
  std::vector<std::string> words;  // joined with single spaces
  bool wait_received = false;
  double timeout_seconds = 10;
};
void run_send(const context& ctx, const send_options& options);

struct listen_options {
  std::optional<std::int64_t> count;          // stop after this many messages
  std::optional<double> timeout_seconds;      // stop after this long
};
void run_listen(const context& ctx, const listen_options& options);

struct search_options {
  std::string fragment;
  int limit = 20;
};
void run_search(const context& ctx, const search_options& options);

struct history_options {
  std::string with;
  std::optional<std::int64_t> before;
  int limit = 50;
};
void run_history(const context& ctx, const history_options& options);

void run_previews(const context& ctx);

}  // namespace chatrix::cli
