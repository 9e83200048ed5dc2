// chatrix-cli: a command-line client for a Chatrix server (docs/cli.md). The command line is
// parsed here; the commands live in the *_commands.cpp files and listen_command.cpp.
#include "cli_error.hpp"
#include "commands.hpp"
#include "server_url.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <iostream>
#include <limits>

namespace {

using namespace chatrix::cli;

constexpr const char* footer =
    "Global options go before or after the command: --server URL, --cacert FILE, --json.\n"
    "Exit status: 0 done; 1 the server refused (its error code on stderr); 2 a usage error; "
    "3 the server cannot be reached, failed TLS or broke the protocol; 4 not logged in or the token was refused "
    "(run `chatrix-cli login`); 5 timed out; 6 the login file cannot be read or written.";

/// One line on stderr: "chatrix-cli: <code>: <reason>", and what to do about unauthorized.
int report(const cli_error& e) {
  std::cerr << "chatrix-cli: " << e.code << ": " << e.what();
  if (e.status == exit_status::unauthorized) std::cerr << "; log in with `chatrix-cli login <username>`";
  std::cerr << std::endl;
  return static_cast<int>(e.status);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chatrix-cli: register, log in, send, edit, delete, read, listen, typing, files, search, history, "
               "previews, conversations, blocks, the account and push devices on a Chatrix server.",
               "chatrix-cli"};
  app.footer(footer);
  app.require_subcommand(1);
  // Global options may come before or after the command.
  app.fallthrough();

  context ctx;
  std::string server;
  bool json = false;
  app.add_option("--server", server,
                 "Server URL, http://host:port or https://host:port (default: the saved login's, else " +
                     std::string(default_server) + ")")
      ->envname("CHATRIX_SERVER");
  app.add_option("--cacert", ctx.ca_file,
                 "For https://: a PEM file of certificates to trust besides the system's (e.g. a self-signed one)")
      ->envname("CHATRIX_CA_FILE")
      ->check(CLI::ExistingFile);
  app.add_flag("--json", json, "Print one JSON object per line, with stable field names (for scripts)");

  std::function<void()> command;
  // A millisecond to a year: the waits are steady-clock deadlines, which a year keeps far from overflow.
  const CLI::Range seconds_range(0.001, 365.0 * 24 * 3600);

  register_options reg;
  auto* reg_cmd = app.add_subcommand("register", "Create an account and log in as it (keeps the token)");
  reg_cmd->add_option("username", reg.username, "3-32 characters of A-Z a-z 0-9 _ . -")->required();
  reg_cmd->add_option("--name", reg.name, "Display name (default: the username)");
  reg_cmd->add_option("--password", reg.password,
                      "Password (else CHATRIX_PASSWORD, else asked for on a terminal or read as a line from stdin)");
  reg_cmd->callback([&] { command = [&] { run_register(ctx, reg); }; });

  login_options login;
  auto* login_cmd = app.add_subcommand("login", "Log in and keep the token in $XDG_CONFIG_HOME/chatrix/login.json");
  login_cmd->add_option("username", login.username)->required();
  login_cmd->add_option("--password", login.password,
                        "Password (else CHATRIX_PASSWORD, else asked for on a terminal or read as a line from stdin)");
  login_cmd->callback([&] { command = [&] { run_login(ctx, login); }; });

  app.add_subcommand("logout", "Revoke the saved token and forget it")->callback([&] {
    command = [&] { run_logout(ctx); };
  });
  app.add_subcommand("whoami", "Show the logged-in user, as the server knows it")->callback([&] {
    command = [&] { run_whoami(ctx); };
  });

  const auto positive_id = CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max());

  send_options send;
  auto* send_cmd = app.add_subcommand("send", "Send a message and wait until the server has stored it (DELIVERED)");
  send_cmd->add_option("user", send.to, "Recipient's username")->required();
  send_cmd->add_option("text", send.words, "The message (words are joined with spaces; may be left out with --attach)");
  send_cmd->add_option("--reply-to", send.reply_to, "The id of the message this one answers (same conversation)")
      ->check(positive_id);
  send_cmd->add_option("--attach", send.attach, "Upload this file first and send it with the message")
      ->check(CLI::ExistingFile);
  send_cmd->add_option("--type", send.attach_type, "The attached file's Content-Type (default: by its extension)");
  send_cmd->add_flag("--received", send.wait_received,
                     "Also wait until a device of the recipient has the message (RECEIVED)");
  send_cmd->add_option("--timeout", send.timeout_seconds, "Seconds to wait for the answers (default 10)")
      ->check(seconds_range);
  send_cmd->callback([&] { command = [&] { run_send(ctx, send); }; });

  listen_options listen;
  auto* listen_cmd = app.add_subcommand("listen",
                                        "Print messages as they come (pending ones first) and confirm each with ACK, "
                                        "so the sender sees RECEIVED");
  listen_cmd->add_option("--count", listen.count, "Stop after this many messages (exit 5 if --timeout comes first)")
      ->check(CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max()));
  listen_cmd->add_option("--timeout", listen.timeout_seconds, "Stop after this many seconds")
      ->check(seconds_range);
  listen_cmd->add_option("--since", listen.since,
                         "Resume after this stream position (the pos of the last event printed): every event since "
                         "then, then the live ones; implies --events")
      ->check(CLI::Range(std::int64_t{0}, std::numeric_limits<std::int64_t>::max()));
  listen_cmd->add_flag("--events", listen.events,
                       "Print every event with its pos (own messages from other devices, receipts, reads, edits, "
                       "deletes, synced), and who is typing and who comes online or goes offline, not only messages");
  listen_cmd->add_flag("--until-synced", listen.until_synced,
                       "Stop once in step (SYNCED): print what happened since --since, and nothing live");
  listen_cmd->callback([&] { command = [&] { run_listen(ctx, listen); }; });

  edit_options edit;
  auto* edit_cmd = app.add_subcommand("edit", "Change the text of a message you sent (within the server's edit window)");
  edit_cmd->add_option("message-id", edit.message_id)->required()->check(positive_id);
  edit_cmd->add_option("text", edit.words, "The new text (words are joined with spaces)")->required();
  edit_cmd->add_option("--timeout", edit.timeout_seconds, "Seconds to wait for the edit (default 10)")
      ->check(seconds_range);
  edit_cmd->callback([&] { command = [&] { run_edit(ctx, edit); }; });

  delete_options del;
  auto* delete_cmd = app.add_subcommand("delete", "Delete messages you sent, for everyone (1-100 of one conversation)");
  delete_cmd->add_option("message-id", del.message_ids)->required()->check(positive_id);
  delete_cmd->callback([&] { command = [&] { run_delete(ctx, del); }; });

  read_options read;
  auto* read_cmd = app.add_subcommand("read", "Mark messages to you read (the sender and your other devices hear of it)");
  read_cmd->add_option("message-id", read.message_ids)->required()->check(positive_id);
  read_cmd->callback([&] { command = [&] { run_read(ctx, read); }; });

  upload_options upload;
  auto* upload_cmd = app.add_subcommand("upload", "Upload a file (send it with `send --attach`, or by its id)");
  upload_cmd->add_option("file", upload.file)->required()->check(CLI::ExistingFile);
  upload_cmd->add_option("--name", upload.name, "The name it is shown and downloaded with (default: the file's)");
  upload_cmd->add_option("--type", upload.type, "Its Content-Type (default: by its extension)");
  upload_cmd->callback([&] { command = [&] { run_upload(ctx, upload); }; });

  download_options download;
  auto* download_cmd = app.add_subcommand("download", "Download a file sent to you (or by you)");
  download_cmd->add_option("id", download.id, "The file's id (a message's attachment id)")->required();
  download_cmd->add_option("-o,--output", download.output,
                           "Where to save it, - for stdout (default: the name it was sent with, in the current "
                           "directory, never replacing a file)");
  download_cmd->callback([&] { command = [&] { run_download(ctx, download); }; });

  search_options search;
  auto* search_cmd = app.add_subcommand("search", "Find users whose username or display name contains a fragment");
  search_cmd->add_option("fragment", search.fragment)->required();
  search_cmd->add_option("--limit", search.limit, "At most this many users (1-50, default 20)")
      ->check(CLI::Range(1, 50));
  search_cmd->callback([&] { command = [&] { run_search(ctx, search); }; });

  history_options history;
  auto* history_cmd = app.add_subcommand("history", "Show the conversation with a user, oldest first");
  history_cmd->add_option("user", history.with, "The other user's username")->required();
  history_cmd->add_option("--before", history.before, "Only messages older than this message id (paging back)")
      ->check(CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max()));
  history_cmd->add_option("--limit", history.limit, "At most this many messages (1-200, default 50)")
      ->check(CLI::Range(1, 200));
  history_cmd->callback([&] { command = [&] { run_history(ctx, history); }; });

  previews_options previews;
  auto* previews_cmd = app.add_subcommand("previews", "List conversations, most recent first, with unread counts");
  previews_cmd->add_option("--before", previews.before, "Only conversations after this cursor (a row's cursor, --json)");
  previews_cmd->add_option("--limit", previews.limit, "At most this many (1-200, default 200)")->check(CLI::Range(1, 200));
  previews_cmd->callback([&] { command = [&] { run_previews(ctx, previews); }; });

  conversations_options conversations;
  auto* conversations_cmd =
      app.add_subcommand("conversations", "List conversations over HTTP (GET /v1/conversations), a page at a time");
  conversations_cmd->add_option("--before", conversations.before, "The next page: the `next` the last page ended with");
  conversations_cmd->add_option("--limit", conversations.limit, "At most this many (1-200, default 50)")
      ->check(CLI::Range(1, 200));
  conversations_cmd->callback([&] { command = [&] { run_conversations(ctx, conversations); }; });

  messages_options messages;
  auto* messages_cmd = app.add_subcommand(
      "messages", "Show a conversation over HTTP (GET /v1/conversations/<chat-id>/messages), oldest first");
  messages_cmd->add_option("chat-id", messages.chat_id)->required()->check(positive_id);
  messages_cmd->add_option("--before-id", messages.before_id, "Only messages older than this id")->check(positive_id);
  messages_cmd->add_option("--after-id", messages.after_id, "Only messages newer than this id")->check(positive_id);
  messages_cmd->add_option("--limit", messages.limit, "At most this many (1-200, default 50)")->check(CLI::Range(1, 200));
  messages_cmd->callback([&] { command = [&] { run_messages(ctx, messages); }; });

  typing_options typing;
  auto* typing_cmd = app.add_subcommand(
      "typing", "Show a user that you are typing (kept up for --for seconds, then stopped), or --stop");
  typing_cmd->add_option("user", typing.to, "The username typed to")->required();
  typing_cmd->add_flag("--stop", typing.stop, "Say that you stopped typing, at once");
  typing_cmd->add_option("--for", typing.hold_seconds, "Seconds to keep the indicator up (refreshed every 4 s; default 5)")
      ->check(seconds_range);
  typing_cmd->callback([&] { command = [&] { run_typing(ctx, typing); }; });

  block_options block;
  auto* block_cmd = app.add_subcommand("block", "Block a user: their messages never reach you, and neither sees the "
                                                "other's typing or presence");
  block_cmd->add_option("user", block.username, "The username to block")->required();
  block_cmd->callback([&] { command = [&] { run_block(ctx, block); }; });
  auto* unblock_cmd = app.add_subcommand("unblock", "Unblock a user (what they sent meanwhile stays withheld)");
  unblock_cmd->add_option("user", block.username, "The username to unblock")->required();
  unblock_cmd->callback([&] { command = [&] { run_unblock(ctx, block); }; });
  app.add_subcommand("blocks", "List the users you blocked, most recent first")->callback([&] {
    command = [&] { run_blocks(ctx); };
  });

  rename_options rename;
  auto* rename_cmd = app.add_subcommand("rename", "Change your display name (your partners' previews show it)");
  rename_cmd->add_option("name", rename.words, "The new display name (words are joined with spaces)")->required();
  rename_cmd->callback([&] { command = [&] { run_rename(ctx, rename); }; });

  presence_options presence;
  std::string presence_setting;
  auto* presence_cmd = app.add_subcommand(
      "presence", "Show (on) or hide (off) that you are online and your last seen; without an argument, the setting");
  presence_cmd->add_option("setting", presence_setting, "on or off")->check(CLI::IsMember({"on", "off"}));
  presence_cmd->callback([&] {
    if (!presence_setting.empty()) presence.show = presence_setting == "on";
    command = [&] { run_presence(ctx, presence); };
  });

  export_options export_to;
  auto* export_cmd = app.add_subcommand(
      "export", "Download everything the server keeps of your account (JSON: profile, blocks, devices, conversations)");
  export_cmd->add_option("--out", export_to.out, "Save it to this file (default: stdout)");
  export_cmd->callback([&] { command = [&] { run_export(ctx, export_to); }; });

  delete_account_options delete_account;
  auto* delete_account_cmd = app.add_subcommand(
      "delete-account", "Delete your account for good (confirmed with the password); every login of it is revoked");
  delete_account_cmd->add_option(
      "--password", delete_account.password,
      "Password (else CHATRIX_PASSWORD, else asked for on a terminal or read as a line from stdin)");
  delete_account_cmd->callback([&] { command = [&] { run_delete_account(ctx, delete_account); }; });

  device_options device;
  auto* devices_cmd = app.add_subcommand(
      "devices", "List the push tokens of your account; `devices add|remove <platform> <token>` changes them");
  auto* device_add_cmd = devices_cmd->add_subcommand("add", "Register a push token (the push webhook carries it)");
  auto* device_remove_cmd = devices_cmd->add_subcommand("remove", "Unregister a push token");
  for (auto* sub : {device_add_cmd, device_remove_cmd}) {
    sub->add_option("platform", device.platform, "1-32 of a-z 0-9 _ - (fcm, apns, webpush...)")->required();
    sub->add_option("token", device.token, "The push token, 1-4096 printable ASCII characters")->required();
  }
  device_add_cmd->callback([&] { command = [&] { run_device_add(ctx, device); }; });
  device_remove_cmd->callback([&] { command = [&] { run_device_remove(ctx, device); }; });
  // `devices` alone lists; with add or remove that one is the command, whichever callback runs first.
  devices_cmd->callback([&] {
    if (!device_add_cmd->parsed() && !device_remove_cmd->parsed()) command = [&] { run_devices(ctx); };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return report(cli_error("usage", std::string(e.what()) + " (see chatrix-cli --help)", exit_status::usage));
  }

  if (!server.empty()) ctx.server = server;
  ctx.out = printer(json);
  try {
    command();
    return static_cast<int>(exit_status::ok);
  } catch (const cli_error& e) {
    return report(e);
  } catch (const std::exception& e) {
    return report(cli_error("internal", e.what(), exit_status::unreachable));
  }
}
