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

struct typing_options {
  std::string to;
  bool stop = false;             // send typing:false instead
  double hold_seconds = 5;       // how long to keep the indicator up (refreshed) before false
};
void run_typing(const context& ctx, const typing_options& options);

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

// ---- profile_commands.cpp ----

struct rename_options {
  std::vector<std::string> words;  // the new display name, joined with single spaces
};
void run_rename(const context& ctx, const rename_options& options);

struct presence_options {
  std::optional<bool> show;  // on/off; none: print the current setting
};
void run_presence(const context& ctx, const presence_options& options);

struct export_options {
  std::optional<std::filesystem::path> out;  // none: to stdout
};
void run_export(const context& ctx, const export_options& options);

struct delete_account_options {
  std::optional<std::string> password;  // else as login reads it
};
void run_delete_account(const context& ctx, const delete_account_options& options);

// ---- block_commands.cpp ----

struct block_options {
  std::string username;
};
void run_block(const context& ctx, const block_options& options);
void run_unblock(const context& ctx, const block_options& options);
void run_blocks(const context& ctx);

// ---- device_commands.cpp ----

struct device_options {
  std::string platform;
  std::string token;
};
void run_devices(const context& ctx);
void run_device_add(const context& ctx, const device_options& options);
void run_device_remove(const context& ctx, const device_options& options);

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
