#include "app/server.hpp"

#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "chat/account_control.hpp"
#include "chat/account_service.hpp"
#include "chat/chat_service.hpp"
#include "chat/login_guard.hpp"
#include "cluster/in_process_bus.hpp"
#include "cluster/redis/redis_bus.hpp"
#include "cluster/redis/redis_connection.hpp"
#include "cluster/redis/redis_limiter.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "http/api_routes.hpp"
#include "http/file_routes.hpp"
#include "http/people_routes.hpp"
#include "http/router.hpp"
#include "metrics/metrics.hpp"
#include "net/server.hpp"
#include "net/tls_context.hpp"
#include "storage/postgres/postgres_store.hpp"
#include "storage/sqlite/sqlite_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/system/system_error.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace chatrix::app {

namespace asio = boost::asio;

namespace {

/// Sessions hold one descriptor each; the default soft limit (often 1024) would cap a node
/// far below what it can serve.
void raise_open_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const auto soft_before = lim.rlim_cur;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  spdlog::info("open files: soft limit {} (was {}), hard limit {}", lim.rlim_cur, soft_before, lim.rlim_max);
}

/// A start-up failure the operator can fix: one line that names the variable, printed like a
/// bad configuration value (main prints config errors without a log prefix).
[[noreturn]] void refuse(const std::string& line) { throw config::config_error(line); }

/// An OS error reason in the style of the configuration messages ("no such file or directory").
std::string reason(std::string message) {
  if (!message.empty()) message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  return message;
}
std::string reason(const std::error_code& ec) { return reason(ec.message()); }
std::string reason(int errnum) { return reason(std::error_code(errnum, std::generic_category())); }

/// Creates `dir` (and its parents) unless it exists; `variable` names the setting to blame.
void make_directory(const std::filesystem::path& dir, const char* variable) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) refuse(std::string(variable) + ": cannot create " + dir.string() + ": " + reason(ec));
}

/// The first 8 hex digits of the secret's SHA-256: enough to tell whether two nodes (or two
/// runs) sign with the same secret, and nothing an attacker could use (any token is already
/// an HMAC of the secret).
std::string fingerprint(std::string_view secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(secret.data(), secret.size(), digest, &size, EVP_sha256(), nullptr) != 1) return "unknown";
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 4 && i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

/// The stored secret at `path`, or nullopt when there is none yet.
std::optional<std::string> read_stored_secret(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    refuse("JWT_SECRET: not set, and the stored secret " + path.string() + " cannot be read: " + reason(errno));
  }
  std::string secret;
  char buf[256];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && secret.size() < 4096) secret.append(buf, static_cast<std::size_t>(n));
  const int err = errno;
  ::close(fd);
  if (n < 0) refuse("JWT_SECRET: not set, and the stored secret " + path.string() + " cannot be read: " + reason(err));
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.size() < 16) {
    refuse("JWT_SECRET: not set, and the stored secret " + path.string() +
           " is damaged (delete it to generate a new one)");
  }
  return secret;
}

/// A new random secret stored at `path`, or the one another process stored there first.
std::string generate_secret(const std::filesystem::path& path) {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) refuse("JWT_SECRET: not set, and no randomness to generate one");
  static constexpr char hex[] = "0123456789abcdef";
  std::string secret;
  for (auto b : bytes) {
    secret += hex[b >> 4];
    secret += hex[b & 0xF];
  }
  const auto cannot_store = [&](int err) {
    refuse("JWT_SECRET: not set, and a generated one cannot be stored in " + path.string() + ": " + reason(err) +
           " (set JWT_SECRET, or make CHATRIX_DATA_DIR writable)");
  };
  // Created 0600 from the start (never readable by others, even for a moment), under a name of
  // this process's own; a temp file left by a crashed run with the same pid is replaced.
  const auto tmp = path.string() + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) cannot_store(errno);
  const std::string text = secret + "\n";
  errno = 0;
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  const int write_err = errno != 0 ? errno : EIO;  // a short write leaves errno unset
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    cannot_store(write_err);
  }
  // link() does not replace: if two processes start on a fresh data dir at once, both end up
  // with the first one's secret. Where hard links are not supported, rename() does.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST) {
      ::unlink(tmp.c_str());
      return read_stored_secret(path).value_or(secret);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      const int rename_err = errno;
      ::unlink(tmp.c_str());
      cannot_store(rename_err);
    }
  }
  ::unlink(tmp.c_str());
  spdlog::warn("JWT secret: generated and stored in {} (fingerprint {}); set JWT_SECRET to share one between nodes",
               path.string(), fingerprint(secret));
  return secret;
}

/// JWT_SECRET, else a strong secret generated once and kept in the data directory, so tokens
/// survive restarts. Every start logs where it came from and its fingerprint.
std::string resolve_jwt_secret(const config::server_config& cfg) {
  if (!cfg.jwt_secret.empty()) {
    spdlog::info("JWT secret: from JWT_SECRET (fingerprint {})", fingerprint(cfg.jwt_secret));
    return cfg.jwt_secret;
  }
  make_directory(cfg.data_dir, "CHATRIX_DATA_DIR");
  const auto path = cfg.data_dir / "jwt_secret";
  if (auto stored = read_stored_secret(path)) {
    spdlog::info("JWT secret: from {} (fingerprint {})", path.string(), fingerprint(*stored));
    return std::move(*stored);
  }
  return generate_secret(path);
}

/// CHATRIX_PORT_FILE. Its temp file is created before anything else, so an unwritable path is
/// reported before the server starts; the port is written once listening and renamed into
/// place (readers never see a partial number). Removed again if the start fails.
class port_file {
 public:
  explicit port_file(std::string path) : path_(std::move(path)) {
    if (path_.empty()) return;
    tmp_ = path_ + ".tmp";
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) refuse("CHATRIX_PORT_FILE: cannot write " + path_ + ": " + reason(errno));
  }
  ~port_file() {
    if (fd_ < 0) return;
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
  port_file(const port_file&) = delete;
  port_file& operator=(const port_file&) = delete;

  void publish(std::uint16_t port) {
    if (fd_ < 0) return;
    const auto text = std::to_string(port) + "\n";
    int err = 0;
    errno = 0;
    if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) err = errno != 0 ? errno : EIO;
    ::close(fd_);
    fd_ = -1;
    if (err == 0 && ::rename(tmp_.c_str(), path_.c_str()) != 0) err = errno;
    if (err != 0) {
      ::unlink(tmp_.c_str());
      refuse("CHATRIX_PORT_FILE: cannot write " + path_ + ": " + reason(err));
    }
  }

 private:
  std::string path_;
  std::string tmp_;
  int fd_ = -1;
};

/// SERVER_PORT (or ADMIN_PORT, named by `variable`), bound before anything is written: a port
/// in use leaves no trace behind.
asio::ip::tcp::acceptor bind_listener(asio::io_context& ioc, const config::listen_address& at,
                                      const char* variable = "SERVER_PORT") {
  try {
    return net::listen(ioc, at.host, at.port);
  } catch (const boost::system::system_error& e) {
    // e.what() carries Boost's source location; the operator needs the address and the reason.
    refuse(std::string(variable) + ": cannot listen on " + at.to_string() + ": " + reason(e.code().message()));
  }
}

/// The configured store: SQLite by default, PostgreSQL for postgres:// and key=value URLs. A
/// database that cannot be reached is a dependency missing, not a bad setting: a plain
/// exception (exit status 1), still naming the variable.
std::unique_ptr<storage::store> open_store(const config::server_config& cfg, metrics::store_metrics* metrics) {
  if (cfg.database == config::database_kind::postgres) {
    spdlog::info("store: PostgreSQL at {}", storage::redact_conninfo(cfg.database_url));
    storage::postgres_options options;
    options.pool_size = cfg.db_pool_size;
    options.writers = cfg.db_writers;
    options.max_batch = cfg.db_max_batch;
    options.timeout = cfg.db_timeout;
    options.connect_timeout = cfg.db_connect_timeout;
    options.sync_retention = cfg.sync_retention;
    options.metrics = metrics;
    try {
      return std::make_unique<storage::postgres_store>(cfg.postgres, std::move(options));
    } catch (const error_exception& e) {
      throw std::runtime_error("DB_CONNECTION_URL: " + e.err.message);
    }
  }
  if (!cfg.sqlite_path.parent_path().empty()) {
    // The default file is in the data dir; an explicit sqlite:PATH is DB_CONNECTION_URL's.
    make_directory(cfg.sqlite_path.parent_path(), cfg.database_url.empty() ? "CHATRIX_DATA_DIR" : "DB_CONNECTION_URL");
  }
  spdlog::info("store: SQLite at {}", cfg.sqlite_path.string());
  storage::sqlite_options options;
  options.metrics = metrics;
  options.sync_retention = cfg.sync_retention;
  return std::make_unique<storage::sqlite_store>(cfg.sqlite_path, std::move(options));
}

/// How other nodes and operators reach this node: SERVER_HOST, else host name and port.
std::string advertised_address(const config::server_config& cfg) {
  if (!cfg.advertised_host.empty()) return cfg.advertised_host;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  return std::string(host) + ":" + std::to_string(cfg.listen.port);
}

/// Single node: the in-process bus. REDISADDR: the Redis bus (config::load has made sure of
/// the shared database and the shared token secret it needs).
std::unique_ptr<cluster::bus> make_bus(const config::server_config& cfg, asio::io_context& ioc, const clock& clock,
                                       metrics::cluster_metrics& metrics) {
  if (!cfg.redis) {
    metrics.nodes = 1;  // the only node there is
    return std::make_unique<cluster::in_process_bus>(
        cluster::node_info{"local", advertised_address(cfg), clock.now_ms(), 0, 0});
  }
  cluster::redis::redis_bus_options options;
  options.address = *cfg.redis;
  options.advertised_address = advertised_address(cfg);
  options.metrics = &metrics;
  auto bus = std::make_unique<cluster::redis::redis_bus>(ioc, options, clock);
  spdlog::info("cluster: node {} ({}) on Redis {}", bus->node_id(), options.advertised_address, cfg.redis->to_string());
  return bus;
}

/// WEB_DIR, or share/chatrix/web beside the binary's bin/ (the build tree and every install
/// prefix have that layout). Missing by default: a warning, and the API still runs; missing when
/// WEB_DIR names it: refused.
std::optional<http::static_files> load_web_client(const config::server_config& cfg) {
  if (!cfg.serve_web) return std::nullopt;
  auto dir = cfg.web_dir;
  if (dir.empty()) {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return std::nullopt;
    dir = exe.parent_path().parent_path() / "share" / "chatrix" / "web";
    if (!std::filesystem::is_directory(dir, ec)) {
      spdlog::warn("no web client at {} (set WEB_DIR, or WEB_DIR=off to silence this)", dir.string());
      return std::nullopt;
    }
  }
  try {
    auto files = http::static_files::load(dir);
    spdlog::info("web client: {} files from {}", files.size(), dir.string());
    return files;
  } catch (const std::exception& e) {
    refuse(e.what());
  }
}

/// TLS_CERT / TLS_KEY, read and checked before anything is bound or written; null without them.
std::shared_ptr<net::tls_credentials> load_tls(const config::server_config& cfg) {
  if (cfg.tls_cert.empty()) return nullptr;
  try {
    auto tls = std::make_shared<net::tls_credentials>(cfg.tls_cert, cfg.tls_key);
    const auto& cert = tls->certificate();
    spdlog::info("TLS: {} from {}, valid until {}, SHA-256 {}", cert.subject, cfg.tls_cert.string(), cert.not_after,
                 cert.fingerprint);
    if (cert.expired) spdlog::warn("TLS: the certificate in TLS_CERT expired on {}; clients will refuse it",
                                   cert.not_after);
    return tls;
  } catch (const net::tls_error& e) {
    refuse(e.what());
  }
}

/// SIGHUP reads TLS_CERT and TLS_KEY again (a renewed certificate): new connections get it,
/// open ones keep theirs. A reload that fails keeps the certificate already loaded. Without TLS
/// there is nothing to reload, but SIGHUP is still taken: `systemctl reload` (the package's
/// unit) must not end a server whose default action for the signal would be to exit.
void reload_tls_on_hangup(asio::signal_set& hangups, net::tls_credentials* tls) {
  hangups.async_wait([&hangups, tls](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (tls == nullptr) {
      spdlog::info("SIGHUP: nothing to reload (TLS_CERT is not set)");
      reload_tls_on_hangup(hangups, tls);
      return;
    }
    try {
      tls->reload();
      const auto& cert = tls->certificate();
      spdlog::info("TLS: reloaded on SIGHUP: {}, valid until {}, SHA-256 {}", cert.subject, cert.not_after,
                   cert.fingerprint);
      if (cert.expired) spdlog::warn("TLS: the certificate in TLS_CERT expired on {}", cert.not_after);
    } catch (const net::tls_error& e) {
      spdlog::error("TLS: reload on SIGHUP failed, still serving SHA-256 {}: {}", tls->certificate().fingerprint,
                    e.what());
    }
    reload_tls_on_hangup(hangups, tls);
  });
}

/// The address to open the web client at: a wildcard listener is reached on localhost.
std::string browser_address(const config::server_config& cfg, std::uint16_t port) {
  std::string host = cfg.listen.host;
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "localhost";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return (cfg.tls_cert.empty() ? "http://" : "https://") + host + ":" + std::to_string(port) + "/";
}

}  // namespace

int migrate(const config::server_config& cfg) {
  if (cfg.database == config::database_kind::postgres) {
    auto version = storage::run_migrations(cfg.postgres, cfg.db_connect_timeout);
    if (!version) throw std::runtime_error("DB_CONNECTION_URL: " + version.error().message);
    spdlog::info("PostgreSQL schema at {} is at version {}", storage::redact_conninfo(cfg.database_url), *version);
    return 0;
  }
  // Opening the store applies every pending migration in its own transaction.
  open_store(cfg, nullptr)->shutdown();
  spdlog::info("SQLite schema at {} is up to date", cfg.sqlite_path.string());
  return 0;
}

int run_server(const config::server_config& cfg) {
  // Whatever can be refused without side effects was refused by config::load. From here on,
  // what can still be refused comes before what it would leave behind: the port file's path
  // (its temp file is removed on failure), the listener, then the store (the SQLite file, or
  // PostgreSQL's schema) and only then the data dir's JWT secret.
  auto cost = auth::argon2_cost::from_name(cfg.argon2_profile);
  if (!cost) refuse("ARGON2_PROFILE: " + cost.error().message);
  const auto tls = load_tls(cfg);
  port_file ports(cfg.port_file);
  raise_open_file_limit();

  // Declared first so that it outlives everything posting to it.
  asio::io_context ioc(1);
  auto listener = bind_listener(ioc, cfg.listen);
  std::optional<asio::ip::tcp::acceptor> admin_listener;
  if (cfg.admin) admin_listener = bind_listener(ioc, *cfg.admin, "ADMIN_PORT");
  // Before the store and the bus, which report into it from their own threads until they stop.
  metrics::server_metrics metrics;
  auto store_ptr = open_store(cfg, &metrics.store);
  auto& store = *store_ptr;

  const system_clock clock;
  const auth::password_hasher hasher(*cost);
  const auth::token_codec tokens(resolve_jwt_secret(cfg), cfg.jwt_ttl);
  auto bus_ptr = make_bus(cfg, ioc, clock, metrics.cluster);
  auto& bus = *bus_ptr;
  asio::thread_pool workers(cfg.worker_threads);

  chat::service_options chat_options;
  chat_options.max_content_bytes = cfg.max_content_bytes;
  chat_options.retry_window = cfg.retry_window;
  chat_options.pending_queue_watermark = cfg.send_queue_bytes / 4;
  chat_options.device_limits = {cfg.message_rate, cfg.message_burst, cfg.message_flood_limit, cfg.search_limit,
                                cfg.history_limit, cfg.typing_limit};
  chat_options.storage_quota = cfg.storage_quota;
  chat_options.http_send_limit = cfg.http_send_limit;
  chat_options.edit_window = cfg.edit_window;
  chat_options.presence_grace = cfg.presence_grace;
  chat::chat_service chat(ioc.get_executor(), store, bus, tokens, clock, metrics, chat_options);
  // Before the first session: no token is honoured until this node knows which are revoked.
  auto revocations = chat::read_revocations(store, clock.now_ms());
  if (!revocations) throw std::runtime_error("cannot read the token revocations: " + revocations.error().message);
  chat.tokens().load(*revocations);
  auto login_limits = chat::local_login_limits(cfg.login_failure_limit, cfg.login_address_limit, cfg.register_limit);
  if (cfg.redis)
    login_limits = cluster::redis::shared_login_limits(ioc.get_executor(), {*cfg.redis}, std::move(login_limits));
  chat::login_guard login_guard(std::move(login_limits), cfg.hash_queue, metrics);
  chat::account_service accounts(workers.get_executor(), store, chat.users(), hasher, chat.tokens(), clock,
                                 login_guard, cfg.username_quarantine);
  chat::account_control account_control(store, accounts, chat, clock);
  const auto web = load_web_client(cfg);
  http::readiness readiness(ioc.get_executor(), store, bus);
  http::api_routes api(accounts, chat, store);
  http::file_routes files(accounts, chat, store, clock, http::file_options{cfg.file_max_bytes, cfg.file_upload_limit});
  http::people_routes people(accounts, account_control, store, clock, cfg.export_limit);
  http::router routes(accounts, api, files, people, bus, metrics, readiness, http::cors_policy{cfg.cors_origins},
                      web ? &*web : nullptr);

  net::server_options net_options;
  net_options.max_frame_bytes = cfg.max_frame_bytes;
  net_options.send_queue_bytes = cfg.send_queue_bytes;
  net_options.auth_timeout = cfg.auth_timeout;
  net_options.idle_timeout = cfg.idle_timeout;
  net_options.unauthenticated_pings = cfg.unauthenticated_pings;
  net_options.http_header_timeout = cfg.http_header_timeout;
  net_options.http_request_timeout = cfg.http_request_timeout;
  net_options.admission = {cfg.connect_limit, cfg.address_connections, cfg.http_address_connections,
                           cfg.unauthenticated_per_address, cfg.unauthenticated_total};
  net_options.trusted_proxies = cfg.trusted_proxies;
  net_options.ws_origins = cfg.ws_origins;
  net_options.access_log = cfg.access_log;
  net_options.tls = tls;
  net::server server(ioc, net_options, chat, routes, metrics);
  if (admin_listener) {
    spdlog::info("admin routes (/metrics, /cluster) on {}",
                 config::listen_address{cfg.admin->host, admin_listener->local_endpoint().port()}.to_string());
  }
  const std::uint16_t port = server.start(std::move(listener), std::move(admin_listener));
  ports.publish(port);
  spdlog::info("chatrix listening on {}{}", config::listen_address{cfg.listen.host, port}.to_string(),
               tls ? " (TLS only: https:// and wss://)" : "");
  if (web) spdlog::info("web client: open {} in a browser", browser_address(cfg, port));

  // Shutdown (docs/cluster.md, "Node SIGTERM"): sends in flight finish and sessions close
  // with 1001 (up to 5 s), then the bus routes what is left and deregisters (up to 1 s each).
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: closing sessions and stopping", sig);
    // /ready says "draining" from now on, so that load balancers stop sending new clients
    // while the sessions here finish (the listeners answer until they have).
    readiness.begin_draining();
    server.stop(std::chrono::seconds(5), [&] {
      if (chat.texts_in_flight() > 0)
        spdlog::warn("{} messages still being stored at shutdown: they stay pending", chat.texts_in_flight());
      // Receipts not yet stored would have their messages pushed again on the next connection.
      chat.flush_receipts();
      // Every session is closed: whoever was online here is offline, as of now.
      chat.shutdown_presence();
      bus.shutdown([&] { ioc.stop(); });
    });
  });

  asio::signal_set hangups(ioc, SIGHUP);
  reload_tls_on_hangup(hangups, tls.get());

  ioc.run();
  // Writes already queued are finished (and durable) before the process exits.
  store.shutdown();
  workers.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace chatrix::app
