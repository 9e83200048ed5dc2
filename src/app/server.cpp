#include "app/server.hpp"

#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "chat/account_service.hpp"
#include "chat/chat_service.hpp"
#include "cluster/in_process_bus.hpp"
#include "cluster/redis/redis_bus.hpp"
#include "cluster/redis/redis_connection.hpp"
#include "core/clock.hpp"
#include "http/router.hpp"
#include "metrics/metrics.hpp"
#include "net/server.hpp"
#include "storage/postgres/postgres_store.hpp"
#include "storage/sqlite/sqlite_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
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

/// On a single node with no JWT_SECRET, a strong secret is generated once and kept in the
/// data directory, so tokens survive restarts.
std::string resolve_jwt_secret(const config::server_config& cfg) {
  if (!cfg.jwt_secret.empty()) return cfg.jwt_secret;
  const auto path = cfg.data_dir / "jwt_secret";
  if (std::ifstream in(path); in) {
    std::stringstream ss;
    ss << in.rdbuf();
    auto secret = ss.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.size() >= 16) return secret;
    throw std::runtime_error("JWT_SECRET: the generated secret in " + path.string() + " is damaged; delete it");
  }
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("JWT_SECRET: no randomness to generate one");
  static constexpr char hex[] = "0123456789abcdef";
  std::string secret;
  for (auto b : bytes) {
    secret += hex[b >> 4];
    secret += hex[b & 0xF];
  }
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << secret << '\n';
    if (!out) throw std::runtime_error("JWT_SECRET: cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), 0600);
  std::filesystem::rename(tmp, path);
  spdlog::warn("JWT_SECRET is not set: generated one and stored it in {} (set JWT_SECRET to share it between nodes)",
               path.string());
  return secret;
}

void write_port_file(const std::string& file, std::uint16_t port) {
  if (file.empty()) return;
  const auto tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << '\n';
  }
  std::filesystem::rename(tmp, file);  // atomic: readers never see a partial number
}

/// The configured store: SQLite by default, PostgreSQL for postgres:// and key=value URLs.
std::unique_ptr<storage::store> open_store(const config::server_config& cfg) {
  if (cfg.database == config::database_kind::postgres) {
    spdlog::info("store: PostgreSQL at {}", storage::redact_conninfo(cfg.database_url));
    storage::postgres_options options;
    options.pool_size = cfg.db_pool_size;
    options.max_batch = cfg.db_max_batch;
    options.timeout = cfg.db_timeout;
    options.connect_timeout = cfg.db_connect_timeout;
    return std::make_unique<storage::postgres_store>(cfg.database_url, std::move(options));
  }
  if (!cfg.sqlite_path.parent_path().empty()) std::filesystem::create_directories(cfg.sqlite_path.parent_path());
  spdlog::info("store: SQLite at {}", cfg.sqlite_path.string());
  return std::make_unique<storage::sqlite_store>(cfg.sqlite_path);
}

/// How other nodes and operators reach this node: SERVER_HOST, else host name and port.
std::string advertised_address(const config::server_config& cfg) {
  if (!cfg.advertised_host.empty()) return cfg.advertised_host;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  return std::string(host) + ":" + std::to_string(cfg.port);
}

/// Single node: the in-process bus. REDISADDR: the Redis bus, which needs a shared database
/// and a shared token secret (every node must accept every other node's tokens).
std::unique_ptr<cluster::bus> make_bus(const config::server_config& cfg, asio::io_context& ioc, const clock& clock) {
  if (cfg.redis_address.empty())
    return std::make_unique<cluster::in_process_bus>(
        cluster::node_info{"local", advertised_address(cfg), clock.now_ms(), 0, 0});
  if (cfg.database != config::database_kind::postgres)
    throw std::runtime_error(
        "REDISADDR: cluster mode needs a database shared by every node; set DB_CONNECTION_URL=postgres://...");
  if (cfg.jwt_secret.empty())
    throw std::runtime_error("REDISADDR: cluster mode needs JWT_SECRET set to the same value on every node");
  cluster::redis::redis_bus_options options;
  options.address = cfg.redis_address;
  options.advertised_address = advertised_address(cfg);
  std::string why;
  auto address = cluster::redis::parse_redis_address(cfg.redis_address, &why);
  if (!address) throw std::runtime_error("REDISADDR: " + why);
  auto bus = std::make_unique<cluster::redis::redis_bus>(ioc, options);
  spdlog::info("cluster: node {} ({}) on Redis {}", bus->node_id(), options.advertised_address, address->to_string());
  return bus;
}

}  // namespace

int migrate(const config::server_config& cfg) {
  if (cfg.database == config::database_kind::postgres) {
    auto version = storage::run_migrations(cfg.database_url, cfg.db_connect_timeout);
    if (!version) throw std::runtime_error("migrate: " + version.error().message);
    spdlog::info("PostgreSQL schema at {} is at version {}", storage::redact_conninfo(cfg.database_url), *version);
    return 0;
  }
  // Opening the store applies every pending migration in its own transaction.
  open_store(cfg)->shutdown();
  spdlog::info("SQLite schema at {} is up to date", cfg.sqlite_path.string());
  return 0;
}

int run_server(const config::server_config& cfg) {
  if (cfg.io_threads != 1)
    throw std::runtime_error("IO_THREADS: only 1 is supported so far (one I/O thread runs the network and the domain)");
  raise_open_file_limit();
  std::filesystem::create_directories(cfg.data_dir);

  const system_clock clock;
  metrics::server_metrics metrics;
  auto cost = auth::argon2_cost::from_name(cfg.argon2_profile);
  if (!cost) throw std::runtime_error("ARGON2_PROFILE: " + cost.error().message);
  const auth::password_hasher hasher(*cost);
  const auth::token_codec tokens(resolve_jwt_secret(cfg), cfg.jwt_ttl);

  // Declared first so that it outlives everything posting to it.
  asio::io_context ioc(1);
  auto store_ptr = open_store(cfg);
  auto& store = *store_ptr;
  auto bus_ptr = make_bus(cfg, ioc, clock);
  auto& bus = *bus_ptr;
  asio::thread_pool workers(cfg.worker_threads);

  chat::service_options chat_options;
  chat_options.max_content_bytes = cfg.max_content_bytes;
  chat_options.retry_window = cfg.retry_window;
  chat_options.pending_queue_watermark = cfg.send_queue_bytes / 4;
  chat::chat_service chat(ioc.get_executor(), store, bus, tokens, clock, metrics, chat_options);
  chat::account_service accounts(workers.get_executor(), store, chat.users(), hasher, tokens, clock);
  http::router routes(accounts, bus, metrics, http::cors_policy{cfg.cors_origins});

  net::server_options net_options;
  net_options.address = cfg.listen_address;
  net_options.port = cfg.port;
  net_options.max_frame_bytes = cfg.max_frame_bytes;
  net_options.send_queue_bytes = cfg.send_queue_bytes;
  net_options.auth_timeout = cfg.auth_timeout;
  net_options.idle_timeout = cfg.idle_timeout;
  net::server server(ioc, net_options, chat, routes, metrics);
  const auto port = server.start();
  write_port_file(cfg.port_file, port);
  spdlog::info("chatrix listening on {}:{}", cfg.listen_address, port);

  // Shutdown (docs/cluster.md, "Node SIGTERM"): sends in flight finish and sessions close
  // with 1001 (up to 5 s), then the bus routes what is left and deregisters (up to 1 s each).
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: closing sessions and stopping", sig);
    server.stop(std::chrono::seconds(5), [&] {
      if (chat.texts_in_flight() > 0)
        spdlog::warn("{} messages still being stored at shutdown: they stay pending", chat.texts_in_flight());
      bus.shutdown([&] { ioc.stop(); });
    });
  });

  ioc.run();
  // Writes already queued are finished (and durable) before the process exits.
  store.shutdown();
  workers.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace chatrix::app
