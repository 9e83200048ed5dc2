// The commands of chatrix-cli, one function each; main.cpp parses the command line into these
// options. Each throws cli_error to fail, and prints its records through the context's printer.
#pragma once

#include "printer.hpp"

#include <cstdint>
#include <filesystem>
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
  std::vector<std::string> words;  // joined with single spaces; may be empty with attach
  bool wait_received = false;
  double timeout_seconds = 10;
  std::optional<std::int64_t> reply_to;          // the message this one answers
  std::optional<std::filesystem::path> attach;   // uploaded first, then sent with the message
  std::optional<std::string> attach_type;        // its Content-Type (default: by extension)
};
void run_send(const context& ctx, const send_options& options);

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

struct previews_options {
  std::optional<std::string> before;  // a row's cursor: the page after it
  std::optional<int> limit;
};
void run_previews(const context& ctx, const previews_options& options);

// ---- listen_command.cpp ----

struct listen_options {
  std::optional<std::int64_t> count;          // stop after this many messages
  std::optional<double> timeout_seconds;      // stop after this long
  std::optional<std::int64_t> since;          // resume the stream after this position
  bool events = false;                        // print every event, not only messages (implied by since)
  bool until_synced = false;                  // stop at SYNCED: the catch-up and nothing live
};
void run_listen(const context& ctx, const listen_options& options);

// ---- message_commands.cpp ----

struct edit_options {
  std::int64_t message_id = 0;
  std::vector<std::string> words;
  double timeout_seconds = 10;
};
void run_edit(const context& ctx, const edit_options& options);

struct delete_options {
  std::vector<std::int64_t> message_ids;
};
void run_delete(const context& ctx, const delete_options& options);

struct read_options {
  std::vector<std::int64_t> message_ids;
};
void run_read(const context& ctx, const read_options& options);

// ---- file_commands.cpp ----

struct upload_options {
  std::filesystem::path file;
  std::optional<std::string> name;  // default: the file's own
  std::optional<std::string> type;  // default: by extension
};
void run_upload(const context& ctx, const upload_options& options);

struct download_options {
  std::string id;
  std::optional<std::string> output;  // a path, or "-" for stdout; default: the served name
};
void run_download(const context& ctx, const download_options& options);

// ---- http_commands.cpp ----

struct conversations_options {
  std::optional<std::string> before;
  int limit = 50;
};
void run_conversations(const context& ctx, const conversations_options& options);

struct messages_options {
  std::int64_t chat_id = 0;
  std::optional<std::int64_t> before_id;
  std::optional<std::int64_t> after_id;
  int limit = 50;
};
void run_messages(const context& ctx, const messages_options& options);

}  // namespace chatrix::cli
