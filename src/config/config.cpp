// Server configuration: one table of settings (variable, alias, flag, help) drives the CLI11
// flags, --help and the lookup order flag > environment > .env > default; then each raw
// string is validated into server_config, every failure a one-line config_error.
#include "config/config.hpp"
#include "config/text.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <iterator>
#include <limits>
#include <string_view>

extern char** environ;  // POSIX; not declared by <unistd.h> unless _GNU_SOURCE

#ifndef CHATRIX_VERSION
#define CHATRIX_VERSION "unknown"
#endif

namespace chatrix::config {
namespace {

using text::all_digits;
using text::lower;
using text::trim;

using namespace std::string_literals;

// ---- the settings table ----

struct setting_spec {
  const char* variable;
  const char* alias;  // older spelling still accepted ("" = none)
  const char* flag;
  const char* help;
};

// Help lines say what is accepted and the default; they are shown by --help and settings().
constexpr setting_spec setting_specs[] = {
    {"SERVER_PORT", "", "--port",
     "listen address: PORT, :PORT, IPV4:PORT or [IPV6]:PORT; port 0 = any free port (default 0.0.0.0:6969)"},
    {"SERVER_HOST", "SERVERHOST", "--host",
     "how other nodes reach this one, e.g. node1:6969 (alias SERVERHOST; default none)"},
    {"CHATRIX_PORT_FILE", "", "--port-file", "write the bound port to this file once listening (default none)"},
    {"DB_CONNECTION_URL", "", "--db",
     "database: empty = SQLite at DATA_DIR/chatrix.db; sqlite:PATH; postgres://...; or libpq key=value"},
    {"DB_POOL_SIZE", "", "--db-pool-size", "PostgreSQL read connections, 1-256; the writers have their own (default 4)"},
    {"DB_WRITERS", "", "--db-writers", "PostgreSQL write connections, each committing its own batches, 1-16 (default 2)"},
    {"DB_MAX_BATCH", "", "--db-max-batch", "PostgreSQL: most writes sharing one transaction, 1-100000 (default 1024)"},
    {"DB_TIMEOUT", "", "--db-timeout",
     "PostgreSQL: limit for one write batch or read, then it fails as unavailable, 1s-1h (default 10s)"},
    {"DB_CONNECT_TIMEOUT", "", "--db-connect-timeout",
     "PostgreSQL: limit for opening one connection, 1s-10m (default 5s)"},
    {"CHATRIX_DATA_DIR", "", "--data-dir", "directory for the SQLite file and the generated secret (default data)"},
    {"REDISADDR", "", "--redis", "Redis for a cluster: HOST:PORT or redis://... (default none = single node)"},
    {"JWT_SECRET", "", "--jwt-secret",
     "token signing secret, at least 16 bytes (default: generated and kept in the data dir)"},
    {"JWT_TTL", "", "--jwt-ttl", "token lifetime: seconds, or with s/m/h/d, up to 30d (default 24h)"},
    {"ARGON2_PROFILE", "", "--argon2", "password hashing cost: interactive, moderate or min (default interactive)"},
    {"CORS_ORIGINS", "", "--cors-origins",
     "allowed browser origins: * or a comma list of http(s)://host[:port] (default *)"},
    {"LOG_LEVEL", "", "--log-level", "trace, debug, info, warn, error, critical or off (default info)"},
    {"LOG_FORMAT", "", "--log-format", "text, or json for one JSON object per line (default text)"},
    {"ACCESS_LOG", "", "--access-log", "log every HTTP request: on or off (default off)"},
    {"WEB_DIR", "", "--web-dir",
     "the web client's files served at /, or off (default share/chatrix/web beside the binary's bin/)"},
    {"TLS_CERT", "", "--tls-cert", "PEM certificate chain: serve https:// and wss:// (default none = plain)"},
    {"TLS_KEY", "", "--tls-key", "PEM private key of TLS_CERT; both reload on SIGHUP (default none)"},
    {"IO_THREADS", "", "--io-threads", "network threads: only 1 is supported so far (default 1)"},
    {"WORKER_THREADS", "", "--worker-threads", "password hashing threads, 1-64 (default 2)"},
    {"MAX_FRAME_BYTES", "", "--max-frame-bytes", "largest WebSocket frame, 1K-16M (default 64K)"},
    {"MAX_CONTENT_BYTES", "", "--max-content-bytes",
     "largest message text, 1 to MAX_FRAME_BYTES/2 (default 8K, or MAX_FRAME_BYTES/2 if smaller)"},
    {"SEND_QUEUE_BYTES", "", "--send-queue-bytes", "outgoing bytes queued per connection, 64K-1G (default 4M)"},
    {"AUTH_TIMEOUT", "", "--auth-timeout", "time allowed for the first (token) frame, 1s-1h (default 10s)"},
    {"IDLE_TIMEOUT", "", "--idle-timeout", "close a connection silent for this long, 1s-1d (default 60s)"},
    {"RETRY_WINDOW", "", "--retry-window", "how long a resent TEXT counts as a retry, 1s-30d (default 10m)"},
    {"SYNC_RETENTION", "", "--sync-retention",
     "how long a device may stay away and still catch up with \"since\", 1h-3650d (default 30d)"},
    {"EDIT_WINDOW", "", "--edit-window", "how long after sending a message its sender may edit it, 1s-3650d (default 48h)"},
    {"FILE_MAX_BYTES", "", "--file-max-bytes", "largest file upload, 1K-4G (default 25M)"},
    {"PRESENCE_GRACE", "", "--presence-grace",
     "a user shows offline only once their last device has been gone this long, 1s-1h (default 5s)"},
    {"USERNAME_QUARANTINE", "", "--username-quarantine",
     "how long a deleted account's username stays reserved, 1s-3650d (default 30d)"},
    {"PUSH_WEBHOOK_URL", "", "--push-webhook-url",
     "http(s):// URL that gets a signed POST for messages no device received (default none = no push)"},
    {"PUSH_WEBHOOK_SECRET", "", "--push-webhook-secret",
     "HMAC-SHA256 key of the webhook's signature, at least 16 bytes; required with PUSH_WEBHOOK_URL (default none)"},
    {"PUSH_DELAY", "", "--push-delay", "how long a message may reach no device before its push, 1s-1h (default 3s)"},
    {"PUSH_INCLUDE_CONTENT", "", "--push-include-content", "put the message text in the webhook: on or off (default off)"},
    {"PUSH_QUEUE", "", "--push-queue", "pushes waiting or being retried on a node; beyond it they are dropped, 1-10000000 (default 10000)"},
    // Abuse limits (docs/security.md). Rates are N/s, N/m or N/h (N at once, then N per
    // period); 0 turns a limit off.
    {"LOGIN_FAILURE_LIMIT", "", "--login-failure-limit", "wrong passwords per username (default 10/m)"},
    {"LOGIN_ADDRESS_LIMIT", "", "--login-address-limit", "login attempts per client address (default 300/m)"},
    {"REGISTER_LIMIT", "", "--register-limit", "registrations per client address (default 300/h)"},
    {"MESSAGE_RATE", "", "--message-rate", "TEXT frames per connection, sustained (default 5000/s)"},
    {"MESSAGE_BURST", "", "--message-burst", "TEXT frames per connection at once, 1-1000000 (default 2000)"},
    {"MESSAGE_FLOOD_LIMIT", "", "--message-flood-limit",
     "TEXT frames refused for rate at once (then MESSAGE_RATE) before the connection is closed with 1008; 0 = never (default 1000)"},
    {"SEARCH_LIMIT", "", "--search-limit", "user searches per connection (default 10/s)"},
    {"HISTORY_LIMIT", "", "--history-limit", "history requests per connection (default 20/s)"},
    {"FILE_UPLOAD_LIMIT", "", "--file-upload-limit", "file uploads per user (default 30/m)"},
    {"HTTP_SEND_LIMIT", "", "--http-send-limit", "POST /v1/messages per user (default 50/s)"},
    {"TYPING_LIMIT", "", "--typing-limit", "typing frames per connection (default 10/s)"},
    {"EXPORT_LIMIT", "", "--export-limit", "account exports (GET /v1/me/export) per user (default 5/h)"},
    {"STORAGE_QUOTA", "", "--storage-quota",
     "message bytes a user may store per UTC day, with K, M or G; 0 = no quota (default 64M)"},
    {"HASH_QUEUE", "", "--hash-queue",
     "password hashes queued or running; beyond it login and register answer 503; 0 = no bound (default 64)"},
    {"CONNECT_LIMIT", "", "--connect-limit", "connection attempts per client address (default 300/s)"},
    {"ADDRESS_CONNECTIONS", "", "--address-connections",
     "open connections per client address, WebSocket and HTTP; 0 = no limit (default 1000)"},
    {"HTTP_ADDRESS_CONNECTIONS", "", "--http-address-connections",
     "open plain HTTP connections per client address; 0 = no limit (default 64)"},
    {"UNAUTHENTICATED_PER_ADDRESS", "", "--unauthenticated-per-address",
     "WebSocket connections not yet authenticated per client address; 0 = no limit (default 256)"},
    {"UNAUTHENTICATED_TOTAL", "", "--unauthenticated-total",
     "WebSocket connections not yet authenticated on this node; 0 = no limit (default 8192)"},
    {"UNAUTHENTICATED_PINGS", "", "--unauthenticated-pings",
     "control frames a connection may send before authenticating, then 1008; 0 = no limit (default 8)"},
    {"HTTP_HEADER_TIMEOUT", "", "--http-header-timeout",
     "time allowed for a request line and headers, 1s-10m (default 10s)"},
    {"HTTP_REQUEST_TIMEOUT", "", "--http-request-timeout",
     "time allowed for a whole request, and for an idle keep-alive connection, 1s-1h (default 30s)"},
    {"TRUSTED_PROXIES", "", "--trusted-proxies",
     "comma list of proxy addresses or CIDR blocks whose X-Forwarded-For is believed (default none)"},
    {"WS_ORIGINS", "", "--ws-origins",
     "browser origins allowed to open /ws: a comma list of http(s)://host[:port] (default any)"},
    {"ADMIN_PORT", "", "--admin-port",
     "serve /metrics and /cluster only here: PORT (on 127.0.0.1) or ADDRESS:PORT (default: on the main port)"},
};

// ---- raw values and errors ----

/// One variable's value as found, with where it came from (for error messages).
struct raw_value {
  std::string variable;
  std::string value;
  std::string origin;  // "" for the environment, else " (from --port)" or " (from .env:3)"
  bool set = false;
};

// Values are echoed in errors; keep the message one line and short whatever was typed.
std::string shown(std::string_view v) {
  std::string out = "'";
  for (const char c : v.substr(0, 64)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? '?' : c;
  if (v.size() > 64) out += "...";
  return out + "'";
}

[[noreturn]] void fail(const raw_value& r, const std::string& what) {
  throw config_error(r.variable + ": " + what + r.origin);
}

std::optional<std::uint64_t> parse_uint(std::string_view s) {
  if (!all_digits(s)) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// ---- value parsers ----

// A number with an optional unit; nullopt when malformed or when the product overflows.
std::optional<std::uint64_t> parse_scaled(std::string_view s,
                                          const std::vector<std::pair<std::string, std::uint64_t>>& units) {
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  const auto number = parse_uint(s.substr(0, digits));
  if (!number) return std::nullopt;
  const std::string unit = lower(trim(s.substr(digits)));
  std::uint64_t multiplier = 1;
  if (!unit.empty()) {
    const auto it = std::find_if(units.begin(), units.end(), [&](const auto& u) { return u.first == unit; });
    if (it == units.end()) return std::nullopt;
    multiplier = it->second;
  }
  if (*number > std::numeric_limits<std::uint64_t>::max() / multiplier) return std::nullopt;
  return *number * multiplier;
}

constexpr std::int64_t minute = 60, hour = 3600, day = 86400;

std::chrono::seconds parse_duration(const raw_value& r, std::int64_t max_seconds, const char* range) {
  static const std::vector<std::pair<std::string, std::uint64_t>> units{
      {"s", 1}, {"m", minute}, {"h", hour}, {"d", day}};
  const auto v = parse_scaled(trim(r.value), units);
  const std::string accepted = "(accepted: seconds, or a number with s, m, h or d such as 90m; "s + range + ")";
  if (!v) fail(r, shown(r.value) + " is not a duration " + accepted);
  if (*v == 0 || *v > std::uint64_t(max_seconds)) fail(r, shown(r.value) + " is out of range " + accepted);
  return std::chrono::seconds(static_cast<std::int64_t>(*v));
}

std::size_t parse_bytes(const raw_value& r, std::uint64_t min, std::uint64_t max, const std::string& range) {
  constexpr std::uint64_t kib = 1024, mib = 1024 * kib, gib = 1024 * mib;
  static const std::vector<std::pair<std::string, std::uint64_t>> units{
      {"b", 1}, {"k", kib}, {"kib", kib}, {"m", mib}, {"mib", mib}, {"g", gib}, {"gib", gib}};
  const auto v = parse_scaled(trim(r.value), units);
  const std::string accepted = "(accepted: bytes, or with a K, M or G suffix (x1024) such as 64K; " + range + ")";
  if (!v) fail(r, shown(r.value) + " is not a size " + accepted);
  if (*v < min || *v > max) fail(r, shown(r.value) + " is out of range " + accepted);
  return static_cast<std::size_t>(*v);
}

std::uint64_t parse_count(const raw_value& r, std::uint64_t min, std::uint64_t max, const char* what) {
  const auto v = parse_uint(trim(r.value));
  if (!v || *v < min || *v > max) {
    fail(r, shown(r.value) + " is not " + what + " (accepted: a whole number from " + std::to_string(min) + " to " +
                std::to_string(max) + ")");
  }
  return *v;
}

unsigned parse_thread_count(const raw_value& r) {
  const auto v = parse_uint(trim(r.value));
  if (!v || *v < 1 || *v > 64) {
    fail(r, shown(r.value) + " is not a thread count (accepted: a whole number from 1 to 64)");
  }
  return static_cast<unsigned>(*v);
}

// SERVER_PORT keeps the original's Go-style ":6969" and adds an optional bind address.
void parse_listen(const raw_value& r, server_config& c) {
  try {
    c.listen = parse_listen_address(r.value);
  } catch (const address_error& e) {
    fail(r, shown(r.value) + " " + e.what() +
                " (accepted: PORT, :PORT, IPV4:PORT or [IPV6]:PORT; port 0-65535, 0 = any free port)");
  }
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; });
}

// The value is never echoed: a connection string may carry a password (address_error's
// reasons never quote one either).
void parse_database(const raw_value& r, server_config& c) {
  const std::string_view v = trim(r.value);
  c.database_url = std::string(v);
  const auto accepted =
      " (accepted: empty for SQLite in the data dir, sqlite:PATH, postgres://..., postgresql://..., or a libpq "
      "key=value string such as 'host=db dbname=chatrix')";
  try {
    if (is_sqlite_address(v)) {
      c.database = database_kind::sqlite;
      c.sqlite_path = parse_sqlite_address(v);
      return;
    }
    if (is_postgres_address(v)) {
      c.database = database_kind::postgres;
      c.postgres = parse_postgres_address(v);
      c.sqlite_path.clear();
      return;
    }
  } catch (const address_error& e) {
    fail(r, std::string(e.what()) + accepted);
  }
  const auto scheme_end = v.find("://");
  const std::string what = scheme_end != v.npos && scheme_end < 20
                               ? "unsupported database scheme " + shown(v.substr(0, scheme_end))
                               : "not a database URL";
  fail(r, what + accepted);
}

void parse_redis(const raw_value& r, server_config& c) {
  const std::string_view v = trim(r.value);
  try {
    c.redis = parse_redis_address(v);
  } catch (const address_error& e) {
    // Whatever precedes an '@' may be a password (redis://user:secret@host): not echoed.
    const auto at = v.rfind('@'), scheme = v.find("://");
    const std::string echo = at == v.npos ? std::string(v)
                                          : std::string(v.substr(0, scheme == v.npos ? 0 : scheme + 3)) + "***" +
                                                std::string(v.substr(at));
    fail(r, shown(echo) + " is not a Redis address: " + e.what() +
                " (accepted: HOST:PORT, [IPV6]:PORT or redis://[[user]:password@]host[:port][/db])");
  }
}

std::vector<std::string> split_list(std::string_view v) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= v.size()) {
    const auto comma = std::min(v.find(',', start), v.size());
    auto item = std::string(trim(v.substr(start, comma - start)));
    start = comma + 1;
    if (!item.empty()) out.push_back(std::move(item));  // tolerate "a, b," and doubled commas
  }
  return out;
}

std::vector<std::string> parse_cors(const raw_value& r) {
  const std::string_view v = trim(r.value);
  if (v == "*") return {"*"};
  std::vector<std::string> origins;
  for (const auto& item : split_list(v)) {
    std::string origin = lower(item);
    const auto accepted = " (accepted: * alone, or a comma list of origins like https://chat.example.com:8443)";
    if (origin == "*") fail(r, "'*' cannot be combined with other origins" + std::string(accepted));
    if (!origin.starts_with("http://") && !origin.starts_with("https://")) {
      fail(r, shown(origin) + " does not start with http:// or https://" + accepted);
    }
    // Browsers send the Origin header without a path; "https://x/" is a common slip, so forgive it.
    if (origin.back() == '/') origin.pop_back();
    const auto host = std::string_view(origin).substr(origin.find("://") + 3);
    if (host.empty() || host.find('/') != host.npos || has_space_or_control(host)) {
      fail(r, shown(origin) + " is not an origin (scheme://host[:port], no path)" + accepted);
    }
    origins.push_back(std::move(origin));
  }
  if (origins.empty()) fail(r, "no origins given (accepted: * or a comma list of http(s) origins)");
  return origins;
}

// "10/m": ten a minute; "0" (or "0/m") turns the limit off.
limits::rate parse_rate(const raw_value& r) {
  const std::string v = lower(trim(r.value));
  const auto accepted = " (accepted: N/s, N/m or N/h such as 10/m; 0 turns the limit off)";
  if (v == "0") return limits::rate{0, std::chrono::seconds(1)};
  const auto slash = v.find('/');
  const auto count = parse_uint(trim(std::string_view(v).substr(0, slash)));
  if (slash == v.npos || !count || *count > 1'000'000'000) fail(r, shown(r.value) + " is not a rate" + accepted);
  const auto unit = trim(std::string_view(v).substr(slash + 1));
  std::chrono::milliseconds period;
  if (unit == "s") {
    period = std::chrono::seconds(1);
  } else if (unit == "m") {
    period = std::chrono::minutes(1);
  } else if (unit == "h") {
    period = std::chrono::hours(1);
  } else {
    fail(r, shown(r.value) + " has an unknown period" + accepted);
  }
  return limits::rate{*count, period};
}

std::vector<ip_network> parse_networks(const raw_value& r) {
  std::vector<ip_network> out;
  for (const auto& item : split_list(r.value)) {
    try {
      out.push_back(parse_ip_network(item));
    } catch (const address_error& e) {
      fail(r, shown(item) + " " + e.what() + " (accepted: a comma list of addresses or CIDR blocks such as 10.0.0.0/8)");
    }
  }
  return out;
}

// A bare port is on loopback: the admin routes are for the operator, not the internet.
listen_address parse_admin(const raw_value& r) {
  const auto v = trim(r.value);
  listen_address a;
  try {
    a = parse_listen_address(v);
  } catch (const address_error& e) {
    fail(r, shown(r.value) + " " + e.what() + " (accepted: PORT for 127.0.0.1:PORT, or IPV4:PORT or [IPV6]:PORT)");
  }
  if (all_digits(v) || v.starts_with(":")) a.host = "127.0.0.1";
  return a;
}

std::string parse_choice(const raw_value& r, const std::vector<std::pair<std::string, std::string>>& names,
                         const std::string& accepted) {
  const std::string v = lower(trim(r.value));
  for (const auto& [name, canonical] : names) {
    if (v == name) return canonical;
  }
  fail(r, shown(r.value) + " is not accepted (accepted: " + accepted + ")");
}

/// on/off, true/false, 1/0, yes/no.
bool parse_switch(const raw_value& r) {
  return parse_choice(r,
                      {{"on", "on"}, {"off", "off"}, {"true", "on"}, {"false", "off"}, {"1", "on"}, {"0", "off"},
                       {"yes", "on"}, {"no", "off"}},
                      "on or off") == "on";
}

// ---- .env ----

struct dotenv_entry {
  std::string value;
  std::size_t line = 0;
};

std::map<std::string, dotenv_entry> parse_dotenv_lines(const std::string& text, const std::string& file_name) {
  std::map<std::string, dotenv_entry> out;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = std::min(text.find('\n', pos), text.size());
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    const auto malformed = [&](const std::string& why) {
      throw config_error(file_name + ":" + std::to_string(line_no) + ": " + why);
    };
    if (line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);  // UTF-8 BOM
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("export ") || line.starts_with("export\t")) line = trim(line.substr(7));

    const auto eq = line.find('=');
    if (eq == line.npos) malformed("malformed line (expected KEY=VALUE)");
    const std::string_view key = trim(line.substr(0, eq));
    const bool key_ok = !key.empty() && !(key.front() >= '0' && key.front() <= '9') &&
                        std::all_of(key.begin(), key.end(),
                                    [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
    if (!key_ok) malformed("malformed line (expected KEY=VALUE with KEY of letters, digits and _)");

    const std::string_view rest = line.substr(eq + 1);
    const std::string_view lead = trim(rest);
    std::string value;
    std::string_view after;  // what follows a closing quote: must be empty or a comment
    if (!lead.empty() && (lead.front() == '"' || lead.front() == '\'')) {
      const char quote = lead.front();
      std::size_t i = 1;
      bool closed = false;
      for (; i < lead.size(); ++i) {
        const char c = lead[i];
        if (c == quote) {
          closed = true;
          break;
        }
        // Double quotes take the usual shell-like escapes; single quotes are literal.
        if (quote == '"' && c == '\\' && i + 1 < lead.size()) {
          const char n = lead[++i];
          switch (n) {
            case 'n': value += '\n'; break;
            case 't': value += '\t'; break;
            case 'r': value += '\r'; break;
            case '"':
            case '\\':
            case '$': value += n; break;
            default: value += '\\', value += n;
          }
          continue;
        }
        value += c;
      }
      if (!closed) malformed(std::string("unterminated ") + (quote == '"' ? "double" : "single") + " quote");
      after = trim(lead.substr(i + 1));
      if (!after.empty() && after.front() != '#') malformed("unexpected text after the closing quote");
    } else {
      // Unquoted: a '#' after whitespace starts a comment ("a#b" keeps its '#').
      std::size_t end = rest.size();
      for (std::size_t i = 1; i < rest.size(); ++i) {
        if (rest[i] == '#' && (rest[i - 1] == ' ' || rest[i - 1] == '\t')) {
          end = i;
          break;
        }
      }
      value = std::string(trim(rest.substr(0, end)));
    }
    out[std::string(key)] = {std::move(value), line_no};  // a repeated key: the last one wins
  }
  return out;
}

// ---- command line ----

struct cli_state {
  std::map<std::string, std::string> values;  // variable -> flag value (stable addresses for CLI11)
  std::map<std::string, CLI::Option*> options;
};

// All settings live on the top-level app. A later `chatrix migrate` would be
// app.add_subcommand("migrate")->fallthrough() (so settings may follow it) plus
// app.require_subcommand(0, 1); load() would then report which one was chosen.
void add_settings(CLI::App& app, cli_state& state) {
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // "--port 1 --port 2" = 2
  for (const auto& s : setting_specs) {
    std::string& slot = state.values[s.variable];
    state.options[s.variable] =
        app.add_option(s.flag, slot, std::string(s.variable) + ": " + s.help)->type_name("VALUE");
  }
}

}  // namespace

const std::vector<setting_doc>& settings() {
  static const std::vector<setting_doc> docs = [] {
    std::vector<setting_doc> out;
    for (const auto& s : setting_specs) out.push_back({s.variable, s.flag, s.help});
    return out;
  }();
  return docs;
}

std::map<std::string, std::string> parse_dotenv(const std::string& text, const std::string& file_name) {
  std::map<std::string, std::string> out;
  for (auto& [key, entry] : parse_dotenv_lines(text, file_name)) out.emplace(key, std::move(entry.value));
  return out;
}

std::optional<server_config> load(int argc, const char* const* argv, const std::map<std::string, std::string>& env,
                                  const std::filesystem::path& dotenv_path) {
  // ---- flags first: --help must work even when the .env file is broken ----
  CLI::App app(
      "Chatrix chat server. Every flag has an environment variable (named first in its help line); "
      "precedence: flag > environment > .env > default.",
      "chatrix");
  app.set_version_flag("--version", "chatrix " CHATRIX_VERSION);
  cli_state cli;
  add_settings(app, cli);
  std::vector<std::string> args;
  for (int i = argc - 1; i >= 1; --i) args.emplace_back(argv[i]);  // CLI11 wants them reversed
  try {
    app.parse(args);
  } catch (const CLI::Success& e) {  // --help or --version
    app.exit(e);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    throw config_error("command line: " + std::string(trim(what)) + " (see --help)");
  }

  // ---- .env ----
  std::map<std::string, dotenv_entry> dotenv;
  std::error_code ec;
  if (!dotenv_path.empty() && std::filesystem::exists(dotenv_path, ec)) {
    if (!std::filesystem::is_regular_file(dotenv_path, ec)) {
      throw config_error(dotenv_path.string() + ": not a regular file");
    }
    std::ifstream in(dotenv_path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw config_error(dotenv_path.string() + ": cannot read the file");
    dotenv = parse_dotenv_lines(text, dotenv_path.string());
  }

  // ---- lookup: flag > environment > .env. An empty variable counts as unset (so `X=` in a
  // compose file does not hide .env); an explicit empty flag means "use the default". ----
  const auto lookup = [&](const setting_spec& s) {
    raw_value r{s.variable, "", "", false};
    if (cli.options.at(s.variable)->count() > 0) {
      r.value = cli.values.at(s.variable);
      r.origin = " (from "s + s.flag + ")";
      r.set = !r.value.empty();
      return r;
    }
    for (const char* name : {s.variable, s.alias}) {
      if (*name == '\0') continue;
      if (const auto it = env.find(name); it != env.end() && !it->second.empty()) {
        r.value = it->second;
        r.set = true;
        if (name != s.variable) r.origin = " (from "s + name + ")";
        return r;
      }
    }
    for (const char* name : {s.variable, s.alias}) {
      if (*name == '\0') continue;
      if (const auto it = dotenv.find(name); it != dotenv.end() && !it->second.value.empty()) {
        r.value = it->second.value;
        r.set = true;
        r.origin = " (from " + dotenv_path.string() + ":" + std::to_string(it->second.line) +
                   (name != s.variable ? ", as "s + name : ""s) + ")";
        return r;
      }
    }
    return r;
  };
  std::map<std::string, raw_value> raw;
  for (const auto& s : setting_specs) raw.emplace(s.variable, lookup(s));
  const auto get = [&](const char* variable) -> const raw_value& { return raw.at(variable); };

  // ---- validation, in dependency order (data dir before the SQLite path, frame before content) ----
  server_config c;
  if (const auto& r = get("SERVER_PORT"); r.set) parse_listen(r, c);
  if (const auto& r = get("SERVER_HOST"); r.set) {
    const auto v = trim(r.value);
    if (has_space_or_control(v) || v.size() > 255) {
      fail(r, shown(r.value) + " is not a host (accepted: HOST or HOST:PORT, no spaces)");
    }
    c.advertised_host = std::string(v);
  }
  if (const auto& r = get("CHATRIX_PORT_FILE"); r.set) c.port_file = r.value;
  if (const auto& r = get("CHATRIX_DATA_DIR"); r.set) c.data_dir = std::filesystem::path(r.value);
  c.sqlite_path = c.data_dir / "chatrix.db";
  if (const auto& r = get("DB_CONNECTION_URL"); r.set) parse_database(r, c);
  if (const auto& r = get("DB_POOL_SIZE"); r.set) {
    c.db_pool_size = static_cast<int>(parse_count(r, 1, 256, "a connection count"));
  }
  if (const auto& r = get("DB_WRITERS"); r.set) {
    c.db_writers = static_cast<int>(parse_count(r, 1, 16, "a connection count"));
  }
  if (const auto& r = get("DB_MAX_BATCH"); r.set) c.db_max_batch = parse_count(r, 1, 100000, "a batch size");
  if (const auto& r = get("DB_TIMEOUT"); r.set) c.db_timeout = parse_duration(r, hour, "from 1s to 1h");
  if (const auto& r = get("DB_CONNECT_TIMEOUT"); r.set) {
    c.db_connect_timeout = parse_duration(r, 10 * minute, "from 1s to 10m");
  }
  if (const auto& r = get("REDISADDR"); r.set) parse_redis(r, c);
  if (const auto& r = get("JWT_SECRET"); r.set) {
    // Used byte for byte (no trimming), and never echoed.
    if (r.value.size() < 16) fail(r, "too short (" + std::to_string(r.value.size()) + " bytes; at least 16)");
    c.jwt_secret = r.value;
  }
  if (const auto& r = get("JWT_TTL"); r.set) c.jwt_ttl = parse_duration(r, 30 * day, "from 1s to 30d");
  if (const auto& r = get("ARGON2_PROFILE"); r.set) {
    c.argon2_profile = parse_choice(r, {{"interactive", "interactive"}, {"moderate", "moderate"}, {"min", "min"}},
                                    "interactive, moderate or min");
  }
  if (const auto& r = get("CORS_ORIGINS"); r.set) c.cors_origins = parse_cors(r);
  if (const auto& r = get("LOG_LEVEL"); r.set) {
    // spdlog's own spellings "warning" and "err" are accepted too; the stored name is canonical.
    c.log_level = parse_choice(r,
                               {{"trace", "trace"}, {"debug", "debug"}, {"info", "info"}, {"warn", "warn"},
                                {"warning", "warn"}, {"error", "error"}, {"err", "error"}, {"critical", "critical"},
                                {"off", "off"}},
                               "trace, debug, info, warn, error, critical or off");
  }
  if (const auto& r = get("LOG_FORMAT"); r.set) {
    c.log_format = parse_choice(r, {{"text", "text"}, {"json", "json"}}, "text or json");
  }
  if (const auto& r = get("ACCESS_LOG"); r.set) {
    c.access_log = parse_switch(r);
  }
  if (const auto& r = get("WEB_DIR"); r.set) {
    if (trim(r.value) == "off") {
      c.serve_web = false;
    } else {
      c.web_dir = std::filesystem::path(r.value);
    }
  }
  if (const auto& r = get("TLS_CERT"); r.set) c.tls_cert = std::filesystem::path(r.value);
  if (const auto& r = get("TLS_KEY"); r.set) c.tls_key = std::filesystem::path(r.value);
  if (const auto& r = get("IO_THREADS"); r.set) {
    c.io_threads = parse_thread_count(r);
    if (c.io_threads != 1) {
      fail(r, shown(r.value) + " is not supported yet (accepted: 1; one I/O thread runs the network and the domain)");
    }
  }
  if (const auto& r = get("WORKER_THREADS"); r.set) c.worker_threads = parse_thread_count(r);
  if (const auto& r = get("MAX_FRAME_BYTES"); r.set) {
    c.max_frame_bytes = parse_bytes(r, 1024, 16 * 1024 * 1024, "from 1K to 16M");
  }
  if (const auto& r = get("MAX_CONTENT_BYTES"); r.set) {
    const std::size_t max = c.max_frame_bytes / 2;
    c.max_content_bytes = parse_bytes(r, 1, max, "from 1 to MAX_FRAME_BYTES/2 = " + std::to_string(max));
  } else {
    // Only a smaller frame limit lowers the default; erroring on a value nobody set would puzzle.
    c.max_content_bytes = std::min(c.max_content_bytes, c.max_frame_bytes / 2);
  }
  if (const auto& r = get("SEND_QUEUE_BYTES"); r.set) {
    c.send_queue_bytes = parse_bytes(r, 64 * 1024, 1024 * 1024 * 1024, "from 64K to 1G");
  }
  if (const auto& r = get("AUTH_TIMEOUT"); r.set) c.auth_timeout = parse_duration(r, hour, "from 1s to 1h");
  if (const auto& r = get("IDLE_TIMEOUT"); r.set) c.idle_timeout = parse_duration(r, day, "from 1s to 1d");
  if (const auto& r = get("RETRY_WINDOW"); r.set) c.retry_window = parse_duration(r, 30 * day, "from 1s to 30d");
  if (const auto& r = get("SYNC_RETENTION"); r.set) {
    c.sync_retention = parse_duration(r, 3650 * day, "from 1h to 3650d");
    if (c.sync_retention.count() < hour) fail(r, shown(r.value) + " is out of range (accepted: from 1h to 3650d)");
  }
  if (const auto& r = get("EDIT_WINDOW"); r.set) c.edit_window = parse_duration(r, 3650 * day, "from 1s to 3650d");
  if (const auto& r = get("FILE_MAX_BYTES"); r.set) {
    c.file_max_bytes = parse_bytes(r, 1024, 4ull * 1024 * 1024 * 1024, "from 1K to 4G");
  }
  if (const auto& r = get("PRESENCE_GRACE"); r.set) c.presence_grace = parse_duration(r, hour, "from 1s to 1h");
  if (const auto& r = get("USERNAME_QUARANTINE"); r.set) {
    c.username_quarantine = parse_duration(r, 3650 * day, "from 1s to 3650d");
  }
  if (const auto& r = get("PUSH_WEBHOOK_URL"); r.set) {
    c.push_webhook_url = trim(r.value);
    if (!c.push_webhook_url.starts_with("http://") && !c.push_webhook_url.starts_with("https://")) {
      fail(r, shown(r.value) + " is not accepted (accepted: an http:// or https:// URL)");
    }
  }
  if (const auto& r = get("PUSH_WEBHOOK_SECRET"); r.set) c.push_webhook_secret = r.value;
  if (const auto& r = get("PUSH_DELAY"); r.set) c.push_delay = parse_duration(r, hour, "from 1s to 1h");
  if (const auto& r = get("PUSH_INCLUDE_CONTENT"); r.set) {
    c.push_include_content = parse_switch(r);
  }
  if (const auto& r = get("PUSH_QUEUE"); r.set) c.push_queue = parse_count(r, 1, 10'000'000, "a queue length");

  // ---- abuse limits ----
  if (const auto& r = get("LOGIN_FAILURE_LIMIT"); r.set) c.login_failure_limit = parse_rate(r);
  if (const auto& r = get("LOGIN_ADDRESS_LIMIT"); r.set) c.login_address_limit = parse_rate(r);
  if (const auto& r = get("REGISTER_LIMIT"); r.set) c.register_limit = parse_rate(r);
  if (const auto& r = get("MESSAGE_RATE"); r.set) c.message_rate = parse_rate(r);
  if (const auto& r = get("MESSAGE_BURST"); r.set) c.message_burst = parse_count(r, 1, 1'000'000, "a burst size");
  if (const auto& r = get("MESSAGE_FLOOD_LIMIT"); r.set) {
    c.message_flood_limit = parse_count(r, 0, 1'000'000'000, "a count");
  }
  if (const auto& r = get("SEARCH_LIMIT"); r.set) c.search_limit = parse_rate(r);
  if (const auto& r = get("HISTORY_LIMIT"); r.set) c.history_limit = parse_rate(r);
  if (const auto& r = get("FILE_UPLOAD_LIMIT"); r.set) c.file_upload_limit = parse_rate(r);
  if (const auto& r = get("HTTP_SEND_LIMIT"); r.set) c.http_send_limit = parse_rate(r);
  if (const auto& r = get("TYPING_LIMIT"); r.set) c.typing_limit = parse_rate(r);
  if (const auto& r = get("EXPORT_LIMIT"); r.set) c.export_limit = parse_rate(r);
  if (const auto& r = get("STORAGE_QUOTA"); r.set) {
    c.storage_quota = trim(r.value) == "0" ? 0 : parse_bytes(r, 1, 1ull << 50, "0 for none, or up to 1024T");
  }
  if (const auto& r = get("HASH_QUEUE"); r.set) c.hash_queue = parse_count(r, 0, 1'000'000, "a queue length");
  if (const auto& r = get("CONNECT_LIMIT"); r.set) c.connect_limit = parse_rate(r);
  if (const auto& r = get("ADDRESS_CONNECTIONS"); r.set) {
    c.address_connections = parse_count(r, 0, 10'000'000, "a connection count");
  }
  if (const auto& r = get("HTTP_ADDRESS_CONNECTIONS"); r.set) {
    c.http_address_connections = parse_count(r, 0, 10'000'000, "a connection count");
  }
  if (const auto& r = get("UNAUTHENTICATED_PER_ADDRESS"); r.set) {
    c.unauthenticated_per_address = parse_count(r, 0, 10'000'000, "a connection count");
  }
  if (const auto& r = get("UNAUTHENTICATED_TOTAL"); r.set) {
    c.unauthenticated_total = parse_count(r, 0, 10'000'000, "a connection count");
  }
  if (const auto& r = get("UNAUTHENTICATED_PINGS"); r.set) {
    c.unauthenticated_pings = parse_count(r, 0, 1'000'000, "a frame count");
  }
  if (const auto& r = get("HTTP_HEADER_TIMEOUT"); r.set) {
    c.http_header_timeout = parse_duration(r, 10 * minute, "from 1s to 10m");
  }
  if (const auto& r = get("HTTP_REQUEST_TIMEOUT"); r.set) {
    c.http_request_timeout = parse_duration(r, hour, "from 1s to 1h");
  }
  if (const auto& r = get("TRUSTED_PROXIES"); r.set) c.trusted_proxies = parse_networks(r);
  if (const auto& r = get("WS_ORIGINS"); r.set) {
    c.ws_origins = parse_cors(r);
    if (c.ws_origins == std::vector<std::string>{"*"}) c.ws_origins.clear();  // any origin: the default
  }
  if (const auto& r = get("ADMIN_PORT"); r.set) c.admin = parse_admin(r);

  // ---- combinations, refused here so that a server that cannot run writes nothing to disk ----
  if (!c.push_webhook_url.empty() && c.push_webhook_secret.size() < 16) {
    fail(get("PUSH_WEBHOOK_SECRET"), "PUSH_WEBHOOK_URL needs PUSH_WEBHOOK_SECRET of at least 16 bytes to sign with");
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    fail(get(c.tls_cert.empty() ? "TLS_KEY" : "TLS_CERT"), "TLS needs both TLS_CERT and TLS_KEY");
  }
  if (const auto& r = get("REDISADDR"); r.set) {
    if (c.database != database_kind::postgres) {
      fail(r, "cluster mode needs a database shared by every node; set DB_CONNECTION_URL=postgres://...");
    }
    if (c.jwt_secret.empty()) fail(r, "cluster mode needs JWT_SECRET set to the same value on every node");
  }
  return c;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == entry.npos) continue;
    out.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));  // first one wins, as getenv
  }
  return out;
}

}  // namespace chatrix::config
