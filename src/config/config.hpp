// Server configuration: environment variables, then a .env file in the working directory,
// then command-line flags of the same meaning. Precedence: flag > environment > .env >
// default. Reads files; touches no sockets.
#pragma once

#include "config/address.hpp"
#include "limits/rate.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace chatrix::config {

/// A bad configuration value. what() is one line naming the variable and what is wrong,
/// e.g. "SERVER_PORT: '70000' is not a port (accepted: ...)", followed by where the value
/// came from when it was not the environment: " (from --port)" or " (from .env:3)".
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class database_kind { sqlite, postgres };

struct server_config {
  // ---- network ----
  listen_address listen;                    // SERVER_PORT ":6969", "6969", "127.0.0.1:6969"; port 0 = any free
  std::string advertised_host;              // SERVER_HOST (or SERVERHOST): how other nodes reach this one
  std::string port_file;                    // CHATRIX_PORT_FILE: write the bound port here once listening

  // ---- storage ----
  database_kind database = database_kind::sqlite;
  std::string database_url;                 // DB_CONNECTION_URL as given ("" = embedded SQLite)
  std::filesystem::path sqlite_path;        // resolved: sqlite:PATH, or $CHATRIX_DATA_DIR/chatrix.db
  postgres_address postgres;                // database_kind::postgres: DB_CONNECTION_URL parsed
  std::filesystem::path data_dir = "data";  // CHATRIX_DATA_DIR
  int db_pool_size = 4;                      // DB_POOL_SIZE: PostgreSQL read connections
  int db_writers = 2;                        // DB_WRITERS: PostgreSQL write connections
  std::size_t db_max_batch = 1024;           // DB_MAX_BATCH: PostgreSQL writes per transaction
  std::chrono::seconds db_timeout{10};       // DB_TIMEOUT: PostgreSQL write batch / read limit
  std::chrono::seconds db_connect_timeout{5};  // DB_CONNECT_TIMEOUT: opening one connection

  // ---- cluster ----
  std::optional<redis_address> redis;       // REDISADDR parsed (nullopt = single node)

  // ---- auth ----
  std::string jwt_secret;                   // JWT_SECRET ("" = generate one, kept in the data dir)
  std::chrono::seconds jwt_ttl{24 * 3600};  // JWT_TTL: "86400", "24h", "90m", "3600s"
  std::string argon2_profile = "interactive";  // ARGON2_PROFILE: interactive | moderate | min

  // ---- HTTP ----
  std::vector<std::string> cors_origins{"*"};  // CORS_ORIGINS: "*" or comma-separated origins

  // ---- logging ----
  std::string log_level = "info";           // LOG_LEVEL: trace debug info warn error critical off
  std::string log_format = "text";          // LOG_FORMAT: text | json (one JSON object per line)
  bool access_log = false;                  // ACCESS_LOG: one line per HTTP request

  // ---- web client and TLS ----
  std::filesystem::path web_dir;            // WEB_DIR: the web client's files ("" = share/chatrix/web beside bin/)
  bool serve_web = true;                    // WEB_DIR=off: no web client at /
  std::filesystem::path tls_cert;           // TLS_CERT: PEM certificate chain ("" = plain http/ws)
  std::filesystem::path tls_key;            // TLS_KEY: PEM private key (set with TLS_CERT)

  // ---- limits and timing (documented in README.md, Configuration) ----
  unsigned io_threads = 1;                     // IO_THREADS: only 1 so far
  unsigned worker_threads = 2;                 // WORKER_THREADS: password hashing
  std::size_t max_frame_bytes = 64 * 1024;     // MAX_FRAME_BYTES
  std::size_t max_content_bytes = 8 * 1024;    // MAX_CONTENT_BYTES: TEXT content limit
  std::size_t send_queue_bytes = 4 * 1024 * 1024;  // SEND_QUEUE_BYTES: per-connection outgoing limit
  std::chrono::seconds auth_timeout{10};       // AUTH_TIMEOUT: first frame must arrive by then
  std::chrono::seconds idle_timeout{60};       // IDLE_TIMEOUT: no traffic and no pong -> close
  std::chrono::seconds retry_window{600};      // RETRY_WINDOW: duplicate TEXT detection

  // ---- sync, edits and files (docs/protocol.md) ----
  std::chrono::seconds sync_retention{30 * 24 * 3600};  // SYNC_RETENTION: stream events kept for `since`
  std::chrono::seconds edit_window{48 * 3600};          // EDIT_WINDOW: how long a sender may edit a message
  std::uint64_t file_max_bytes = 25ull * 1024 * 1024;    // FILE_MAX_BYTES: largest upload

  // ---- people: typing, presence, accounts, push (docs/protocol.md) ----
  std::chrono::seconds presence_grace{5};            // PRESENCE_GRACE: offline only after the last device is gone this long
  std::chrono::seconds username_quarantine{30 * 24 * 3600};  // USERNAME_QUARANTINE: a deleted account's username stays reserved
  std::string push_webhook_url;                      // PUSH_WEBHOOK_URL: http(s)://... ("" = no push)
  std::string push_webhook_secret;                   // PUSH_WEBHOOK_SECRET: HMAC-SHA256 key of the signature header
  std::chrono::seconds push_delay{3};                // PUSH_DELAY: undelivered this long -> webhook
  bool push_include_content = false;                 // PUSH_INCLUDE_CONTENT: the message text in the webhook body
  std::size_t push_queue = 10'000;                   // PUSH_QUEUE: pushes waiting or being retried, then dropped (counted)

  // ---- abuse limits (docs/security.md); a rate of 0 turns a limit off ----
  limits::rate login_failure_limit{10, std::chrono::minutes(1)};   // LOGIN_FAILURE_LIMIT: wrong passwords per username
  limits::rate login_address_limit{300, std::chrono::minutes(1)};  // LOGIN_ADDRESS_LIMIT: login attempts per address
  limits::rate register_limit{300, std::chrono::hours(1)};         // REGISTER_LIMIT: registrations per address
  limits::rate message_rate{5000, std::chrono::seconds(1)};        // MESSAGE_RATE: TEXTs per connection, sustained
  std::uint64_t message_burst = 2000;                              // MESSAGE_BURST: TEXTs per connection at once
  std::uint64_t message_flood_limit = 1000;  // MESSAGE_FLOOD_LIMIT: refusals at once (then MESSAGE_RATE) before close 1008 (0 = never)
  limits::rate search_limit{10, std::chrono::seconds(1)};   // SEARCH_LIMIT: searches per connection
  limits::rate history_limit{20, std::chrono::seconds(1)};  // HISTORY_LIMIT: history requests per connection
  std::uint64_t storage_quota = 64ull * 1024 * 1024;        // STORAGE_QUOTA: content bytes per user per UTC day (0 = off)
  limits::rate file_upload_limit{30, std::chrono::minutes(1)};  // FILE_UPLOAD_LIMIT: uploads per user
  limits::rate http_send_limit{50, std::chrono::seconds(1)};    // HTTP_SEND_LIMIT: POST /v1/messages per user
  limits::rate typing_limit{10, std::chrono::seconds(1)};       // TYPING_LIMIT: typing frames per connection
  limits::rate export_limit{5, std::chrono::hours(1)};          // EXPORT_LIMIT: GET /v1/me/export per user
  std::size_t hash_queue = 64;                              // HASH_QUEUE: password hashes queued or running (0 = off)
  limits::rate connect_limit{300, std::chrono::seconds(1)};  // CONNECT_LIMIT: connection attempts per address
  std::size_t address_connections = 1000;    // ADDRESS_CONNECTIONS: open connections per address (0 = off)
  std::size_t http_address_connections = 64;  // HTTP_ADDRESS_CONNECTIONS: plain HTTP ones per address (0 = off)
  std::size_t unauthenticated_per_address = 256;  // UNAUTHENTICATED_PER_ADDRESS: sockets before auth (0 = off)
  std::size_t unauthenticated_total = 8192;       // UNAUTHENTICATED_TOTAL: sockets before auth, whole node (0 = off)
  std::size_t unauthenticated_pings = 8;          // UNAUTHENTICATED_PINGS: control frames before auth (0 = off)
  std::chrono::seconds http_header_timeout{10};   // HTTP_HEADER_TIMEOUT: request line and headers
  std::chrono::seconds http_request_timeout{30};  // HTTP_REQUEST_TIMEOUT: a whole request, and keep-alive idle
  std::vector<ip_network> trusted_proxies;        // TRUSTED_PROXIES: X-Forwarded-For believed only from these
  std::vector<std::string> ws_origins;            // WS_ORIGINS: browser origins allowed to open /ws (empty = any)
  std::optional<listen_address> admin;            // ADMIN_PORT: /metrics and /cluster only there (nullopt = main port)
};

/// One accepted setting: its variable name, flag and help line, for --help and the docs.
struct setting_doc {
  std::string variable;
  std::string flag;
  std::string help;
};
const std::vector<setting_doc>& settings();

/// Parses a .env file's KEY=VALUE lines (blank lines and # comments skipped, optional
/// "export ", values optionally in single or double quotes). Throws config_error on a
/// malformed line, naming the file and line number.
std::map<std::string, std::string> parse_dotenv(const std::string& text, const std::string& file_name);

/// Builds the configuration from `env` (the process environment), the .env file at
/// `dotenv_path` if it exists, and command-line flags (argv). Throws config_error on a bad
/// value, an unknown flag or an unreadable .env. Returns std::nullopt when --help or
/// --version was printed to stdout (exit 0). An empty variable counts as unset (the next
/// source decides); an explicitly empty flag value means the default. Sizes accept K/M/G
/// (x1024) suffixes, durations s/m/h/d. A relative sqlite:PATH is relative to the working
/// directory, not the data dir. Combinations the server cannot run are refused here too, so
/// that nothing is written before they are found: REDISADDR without PostgreSQL or without
/// JWT_SECRET, IO_THREADS other than 1.
std::optional<server_config> load(int argc, const char* const* argv,
                                  const std::map<std::string, std::string>& env,
                                  const std::filesystem::path& dotenv_path);

/// The process environment as a map.
std::map<std::string, std::string> process_environment();

}  // namespace chatrix::config
