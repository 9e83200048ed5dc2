// The integration tests' store selection: a database per server on a PostgreSQL shared by
// the ctest run (URL file) or on a private pg_instance per test process. See test_store.hpp.
#include "support/test_store.hpp"

#include "cluster/redis_instance.hpp"
#include "support/pg_instance.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>

namespace chatrix::test {

namespace {

struct conn_deleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct result_deleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};

/// Runs one statement on `url`; the error text (empty on success).
std::string exec(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, conn_deleter> c(PQconnectdb(url.c_str()));
  if (PQstatus(c.get()) != CONNECTION_OK) return std::string("connect: ") + PQerrorMessage(c.get());
  std::unique_ptr<PGresult, result_deleter> r(PQexec(c.get(), sql.c_str()));
  const auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return sql + ": " + PQresultErrorMessage(r.get());
  return {};
}

/// The shared server's base URL ("postgresql://postgres@127.0.0.1:PORT/", a database name
/// is appended) from CHATRIX_TEST_PG_URL_FILE, if that server answers. A file left behind
/// by an aborted run names a dead server: then the test process starts its own.
std::optional<std::string> shared_server_base() {
  const char* file = std::getenv("CHATRIX_TEST_PG_URL_FILE");
  if (file == nullptr || *file == '\0') return std::nullopt;
  std::ifstream in(file);
  std::string base;
  if (!(in >> base) || base.empty()) return std::nullopt;
  if (const auto err = exec(base + "postgres?connect_timeout=5", "SELECT 1"); !err.empty()) {
    std::cerr << "[test_store] the shared PostgreSQL in " << file << " does not answer (" << err
              << "); starting a private one\n";
    return std::nullopt;
  }
  return base;
}

struct server_choice {
  std::optional<std::string> shared_base;            // set: databases go there
  std::unique_ptr<chatrix::testing::pg_instance> own;  // else: this process's own server
};

/// Decided once per process, on first use (so SQLite runs never touch PostgreSQL). The
/// private instance lives until exit: a function-static is destroyed after every fixture
/// (and so every chatrix server using it) is gone.
server_choice& choice() {
  static std::mutex m;
  static server_choice c;
  static bool decided = false;
  std::lock_guard lock(m);
  if (!decided) {
    c.shared_base = shared_server_base();
    if (!c.shared_base) c.own = std::make_unique<chatrix::testing::pg_instance>();
    decided = true;
  }
  return c;
}

}  // namespace

bool testing_postgres() {
  const char* store = std::getenv("CHATRIX_TEST_STORE");
  return store != nullptr && (std::string(store) == "postgres" || std::string(store) == "cluster");
}

bool testing_cluster() {
  const char* store = std::getenv("CHATRIX_TEST_STORE");
  return store != nullptr && std::string(store) == "cluster";
}

std::string test_redis_address() {
  static redis_instance redis;  // one per test process; its destructor stops it
  return redis.address();
}

std::string create_test_database() {
  auto& c = choice();
  if (c.own) return c.own->create_database();
  // Unique across the processes sharing the server: the pid, then a per-process counter.
  static std::atomic<int> counter{0};
  std::string name = "it";
  name.append(std::to_string(::getpid())).append("_").append(std::to_string(++counter));
  if (const auto err = exec(*c.shared_base + "postgres", "CREATE DATABASE " + name); !err.empty())
    throw std::runtime_error("cannot create a test database: " + err);
  return *c.shared_base + name;
}

void drop_test_database(const std::string& url) noexcept {
  try {
    auto& c = choice();
    if (!c.shared_base || url.rfind(*c.shared_base, 0) != 0) return;
    const std::string name = url.substr(c.shared_base->size());
    // FORCE: a server killed by a test may leave a backend that has not noticed yet.
    if (const auto err = exec(*c.shared_base + "postgres", "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
        !err.empty())
      std::cerr << "[test_store] " << err << '\n';
  } catch (...) {
  }
}

}  // namespace chatrix::test
