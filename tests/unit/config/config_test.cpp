// config::load: precedence (flag > env > .env > default), every variable's accepted and
// refused forms, and error messages that name the variable on one line.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace chatrix::config;
using env_map = std::map<std::string, std::string>;

/// Runs load() with a private .env file (absent unless `dotenv` is given).
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("chatrix-config-" + std::string(info->test_suite_name()) + "-" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    dotenv_path_ = dir_ / ".env";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write_dotenv(const std::string& text) { std::ofstream(dotenv_path_, std::ios::binary) << text; }

  std::optional<server_config> run(std::vector<std::string> args = {}, const env_map& env = {}) {
    std::vector<const char*> argv{"chatrix"};
    for (const auto& a : args) argv.push_back(a.c_str());
    return load(static_cast<int>(argv.size()), argv.data(), env, dotenv_path_);
  }

  server_config with_env(const std::string& var, const std::string& value) {
    auto c = run({}, {{var, value}});
    EXPECT_TRUE(c.has_value());
    if (!c) return {};
    return std::move(*c);
  }

  /// The config_error message for VAR=value (empty string and a test failure if it loads).
  std::string error_for(const std::string& var, const std::string& value) {
    try {
      run({}, {{var, value}});
    } catch (const config_error& e) {
      return e.what();
    }
    ADD_FAILURE() << var << "=" << value << " was accepted";
    return {};
  }

  void expect_refused(const std::string& var, const std::string& value, const std::string& reason_part = "") {
    const auto msg = error_for(var, value);
    if (msg.empty()) return;
    EXPECT_TRUE(msg.starts_with(var + ": ")) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(reason_part), std::string::npos) << msg;
  }

  std::filesystem::path dir_;
  std::filesystem::path dotenv_path_;
};

// ---- defaults and precedence ----

TEST_F(ConfigTest, Defaults) {
  const auto c = run();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->listen.host, "0.0.0.0");
  EXPECT_EQ(c->listen.port, 6969);
  EXPECT_EQ(c->advertised_host, "");
  EXPECT_EQ(c->port_file, "");
  EXPECT_EQ(c->database, database_kind::sqlite);
  EXPECT_EQ(c->database_url, "");
  EXPECT_EQ(c->data_dir, "data");
  EXPECT_EQ(c->sqlite_path, std::filesystem::path("data") / "chatrix.db");
  EXPECT_FALSE(c->redis.has_value());
  EXPECT_EQ(c->jwt_secret, "");
  EXPECT_EQ(c->jwt_ttl, 24h);
  EXPECT_EQ(c->argon2_profile, "interactive");
  EXPECT_EQ(c->cors_origins, std::vector<std::string>{"*"});
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->io_threads, 1u);
  EXPECT_EQ(c->worker_threads, 2u);
  EXPECT_EQ(c->max_frame_bytes, 64u * 1024);
  EXPECT_EQ(c->max_content_bytes, 8u * 1024);
  EXPECT_EQ(c->send_queue_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c->auth_timeout, 10s);
  EXPECT_EQ(c->idle_timeout, 60s);
  EXPECT_EQ(c->retry_window, 600s);
}

TEST_F(ConfigTest, PrecedenceFlagOverEnvOverDotenvOverDefault) {
  write_dotenv("SERVER_PORT=1111\nLOG_LEVEL=debug\nAUTH_TIMEOUT=3\n");
  const env_map env{{"SERVER_PORT", "2222"}, {"LOG_LEVEL", "warn"}};
  auto c = run({"--port", "3333"}, env);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->listen.port, 3333);          // flag
  EXPECT_EQ(c->log_level, "warn");   // env
  EXPECT_EQ(c->auth_timeout, 3s);    // .env
  EXPECT_EQ(c->worker_threads, 2u);  // default

  c = run({}, env);
  EXPECT_EQ(c->listen.port, 2222);
  c = run();
  EXPECT_EQ(c->listen.port, 1111);
  EXPECT_EQ(c->log_level, "debug");
  std::filesystem::remove(dotenv_path_);
  c = run();
  EXPECT_EQ(c->listen.port, 6969);
}

TEST_F(ConfigTest, EmptyEnvironmentValueDoesNotHideDotenv) {
  write_dotenv("JWT_SECRET=from-dotenv-0123456789\n");
  const auto c = run({}, {{"JWT_SECRET", ""}});
  EXPECT_EQ(c->jwt_secret, "from-dotenv-0123456789");
}

TEST_F(ConfigTest, EmptyFlagMeansDefault) {
  write_dotenv("LOG_LEVEL=debug\n");
  // (CLI11 refuses the "--log-level=" spelling as a missing value; an explicit "" is accepted.)
  const auto c = run({"--log-level", ""}, {{"LOG_LEVEL", "error"}});
  EXPECT_EQ(c->log_level, "info");
}

TEST_F(ConfigTest, LastRepeatedFlagWins) {
  const auto c = run({"--port", "1000", "--port=2000"});
  EXPECT_EQ(c->listen.port, 2000);
}

TEST_F(ConfigTest, UnknownVariablesAreIgnored) {
  write_dotenv("SOMETHING_ELSE=1\nPATH=/nowhere\n");
  EXPECT_TRUE(run({}, {{"HOME", "/root"}, {"SERVER_PORTS", "garbage"}}).has_value());
}

TEST_F(ConfigTest, MissingDotenvIsFineButADirectoryIsNot) {
  EXPECT_TRUE(run().has_value());
  std::filesystem::create_directory(dotenv_path_);
  EXPECT_THROW(run(), config_error);
}

TEST_F(ConfigTest, EmptyDotenvIsFine) {
  write_dotenv("");
  EXPECT_TRUE(run().has_value());
}

TEST_F(ConfigTest, MalformedDotenvNamesFileAndLine) {
  write_dotenv("# settings\nSERVER_PORT=1\nthis line is wrong\n");
  try {
    run();
    FAIL() << "accepted";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find(dotenv_path_.string() + ":3:"), std::string::npos) << e.what();
  }
}

// ---- SERVER_PORT ----

TEST_F(ConfigTest, ServerPortForms) {
  struct form {
    const char* text;
    const char* address;
    std::uint16_t port;
  };
  for (const form f :
       {form{":6969", "0.0.0.0", 6969}, form{"6969", "0.0.0.0", 6969}, form{"0.0.0.0:7000", "0.0.0.0", 7000},
        form{"127.0.0.1:0", "127.0.0.1", 0}, form{"0", "0.0.0.0", 0}, form{":65535", "0.0.0.0", 65535},
        form{"[::1]:8080", "::1", 8080}, form{"[::]:80", "::", 80}, form{"localhost:6969", "127.0.0.1", 6969},
        form{" :6969 ", "0.0.0.0", 6969}}) {
    const auto c = with_env("SERVER_PORT", f.text);
    EXPECT_EQ(c.listen.host, f.address) << f.text;
    EXPECT_EQ(c.listen.port, f.port) << f.text;
  }
}

TEST_F(ConfigTest, ServerPortRefused) {
  expect_refused("SERVER_PORT", "70000", "not a port");
  expect_refused("SERVER_PORT", ":65536", "not a port");
  expect_refused("SERVER_PORT", "-1");
  expect_refused("SERVER_PORT", "abc");
  expect_refused("SERVER_PORT", ":");
  expect_refused("SERVER_PORT", "80a");
  expect_refused("SERVER_PORT", "1.2.3:80", "IP address");
  expect_refused("SERVER_PORT", "example.com:80", "IP address");
  expect_refused("SERVER_PORT", "::1:80", "brackets");
  expect_refused("SERVER_PORT", "[::1]80");
  expect_refused("SERVER_PORT", "[nope]:80", "IPv6");
  // The message says what is accepted.
  EXPECT_NE(error_for("SERVER_PORT", "x").find("PORT, :PORT"), std::string::npos);
}

// ---- SERVER_HOST / SERVERHOST ----

TEST_F(ConfigTest, ServerHostAndAlias) {
  EXPECT_EQ(with_env("SERVER_HOST", "node1:6969").advertised_host, "node1:6969");
  EXPECT_EQ(with_env("SERVERHOST", "node2:6969").advertised_host, "node2:6969");
  // Both set: the documented name wins.
  auto c = run({}, {{"SERVER_HOST", "a:1"}, {"SERVERHOST", "b:2"}});
  EXPECT_EQ(c->advertised_host, "a:1");
  // The alias in the environment still beats the main name in .env.
  write_dotenv("SERVER_HOST=from-dotenv:1\n");
  c = run({}, {{"SERVERHOST", "from-env:2"}});
  EXPECT_EQ(c->advertised_host, "from-env:2");
  // The alias works in .env too, and --host beats everything.
  write_dotenv("SERVERHOST=alias-in-dotenv:3\n");
  EXPECT_EQ(run()->advertised_host, "alias-in-dotenv:3");
  EXPECT_EQ(run({"--host", "flag:4"}, {{"SERVERHOST", "x:1"}})->advertised_host, "flag:4");
}

TEST_F(ConfigTest, ServerHostRefused) {
  expect_refused("SERVER_HOST", "two words", "not a host");
  const auto msg = error_for("SERVERHOST", "two words");
  EXPECT_TRUE(msg.starts_with("SERVER_HOST: ")) << msg;
  EXPECT_NE(msg.find("SERVERHOST"), std::string::npos) << msg;
}

TEST_F(ConfigTest, PortFile) { EXPECT_EQ(with_env("CHATRIX_PORT_FILE", "/tmp/p").port_file, "/tmp/p"); }

// ---- storage ----

TEST_F(ConfigTest, DatabaseSqliteForms) {
  auto c = with_env("CHATRIX_DATA_DIR", "/var/lib/chatrix");
  EXPECT_EQ(c.data_dir, "/var/lib/chatrix");
  EXPECT_EQ(c.sqlite_path, "/var/lib/chatrix/chatrix.db");
  EXPECT_EQ(c.database, database_kind::sqlite);

  c = with_env("DB_CONNECTION_URL", "sqlite:my.db");
  EXPECT_EQ(c.database, database_kind::sqlite);
  EXPECT_EQ(c.sqlite_path, "my.db");
  EXPECT_EQ(c.database_url, "sqlite:my.db");
  EXPECT_EQ(with_env("DB_CONNECTION_URL", "sqlite://rel/x.db").sqlite_path, "rel/x.db");
  EXPECT_EQ(with_env("DB_CONNECTION_URL", "sqlite:///abs/x.db").sqlite_path, "/abs/x.db");
  EXPECT_EQ(with_env("DB_CONNECTION_URL", "sqlite:/abs/y.db").sqlite_path, "/abs/y.db");
}

TEST_F(ConfigTest, DatabasePostgresFormsAccepted) {
  for (const char* url :
       {"postgres://chat:pw@db:5432/chatrix", "postgresql://localhost/chatrix", "POSTGRES://db/x",
        "host=localhost dbname=chatrix user=chat", "dbname=chatrix", "user = chat  host = /run/postgresql"}) {
    const auto c = with_env("DB_CONNECTION_URL", url);
    EXPECT_EQ(c.database, database_kind::postgres) << url;
    EXPECT_EQ(c.database_url, url);
    EXPECT_TRUE(c.sqlite_path.empty()) << url;
  }
}

TEST_F(ConfigTest, DatabasePostgresAddressIsParsedOnce) {
  auto p = with_env("DB_CONNECTION_URL", "PostgreSQL://chat:p%40ss%20w@db.example:5433/chatrix?sslmode=require").postgres;
  EXPECT_EQ(p.host, "db.example");
  EXPECT_EQ(p.port, "5433");
  EXPECT_EQ(p.user, "chat");
  EXPECT_EQ(p.password, "p@ss w");
  EXPECT_EQ(p.dbname, "chatrix");
  EXPECT_EQ(p.options, (std::vector<std::pair<std::string, std::string>>{{"sslmode", "require"}}));
  EXPECT_EQ(p.to_string(), "postgres://chat:***@db.example:5433/chatrix?sslmode=require");

  p = with_env("DB_CONNECTION_URL", "postgres://[::1]/x?application_name=chatrix&password=s3cret").postgres;
  EXPECT_EQ(p.host, "::1");
  EXPECT_EQ(p.password, "s3cret");
  EXPECT_EQ(p.to_string().find("s3cret"), std::string::npos) << p.to_string();

  p = with_env("DB_CONNECTION_URL", "postgresql://%2Frun%2Fpostgresql/chatrix").postgres;
  EXPECT_EQ(p.host, "/run/postgresql") << "a socket directory, percent-encoded";

  p = with_env("DB_CONNECTION_URL", "host=db port=5433 user=chat password='se cr\\'et' dbname=chatrix sslmode=disable")
          .postgres;
  EXPECT_EQ(p.host, "db");
  EXPECT_EQ(p.port, "5433");
  EXPECT_EQ(p.password, "se cr'et");
  EXPECT_EQ(p.dbname, "chatrix");
  EXPECT_EQ(p.options, (std::vector<std::pair<std::string, std::string>>{{"sslmode", "disable"}}));

  p = with_env("DB_CONNECTION_URL", "host=a,b port=5432,5433 dbname=x").postgres;
  EXPECT_EQ(p.host, "a,b") << "several hosts: the key=value form passes them to libpq";
}

TEST_F(ConfigTest, DatabasePostgresAddressRefusedWithoutThePassword) {
  // Refused by config::load, before anything is written, never quoting the password.
  for (const char* url : {"postgres://u:50%off@db/x", "postgres://u:p@ss@db/x", "postgres://u:pw@db:99999/x",
                          "postgres://u:pw@db/x#frag", "host=db password='unterminated",
                          "host=db passwd=secretish", "postgres://u:pw@db/x?nokeyword=1"}) {
    const auto msg = error_for("DB_CONNECTION_URL", url);
    EXPECT_TRUE(msg.starts_with("DB_CONNECTION_URL: ")) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const char* secret : {"50%off", "ss@", "pw", "unterminated", "secretish"}) {
      EXPECT_EQ(msg.find(secret), std::string::npos) << url << " -> " << msg;
    }
  }
  EXPECT_NE(error_for("DB_CONNECTION_URL", "postgres://u:p@ss@db/x").find("%40"), std::string::npos)
      << "the message says how to write an '@' in a password";
}

TEST_F(ConfigTest, SchemesAreCaseInsensitive) {
  EXPECT_EQ(with_env("DB_CONNECTION_URL", "SQLite:up.db").sqlite_path, "up.db");
  EXPECT_EQ(with_env("DB_CONNECTION_URL", "POSTGRES://db/x").database, database_kind::postgres);
  const auto c =
      run({}, {{"REDISADDR", "Redis://cache:6379"}, {"DB_CONNECTION_URL", "postgres://db/x"}, {"JWT_SECRET", "cluster-secret-0123"}});
  ASSERT_TRUE(c && c->redis);
  EXPECT_EQ(c->redis->host, "cache");
}

TEST_F(ConfigTest, DatabaseRefused) {
  expect_refused("DB_CONNECTION_URL", "mysql://root:hunter2@db/x", "'mysql'");
  EXPECT_EQ(error_for("DB_CONNECTION_URL", "mysql://root:hunter2@db/x").find("hunter2"), std::string::npos);
  expect_refused("DB_CONNECTION_URL", "chatrix.db", "not a database URL");
  expect_refused("DB_CONNECTION_URL", "foo=bar", "not a libpq keyword");
  expect_refused("DB_CONNECTION_URL", "sqlite:", "file path");
  expect_refused("DB_CONNECTION_URL", "sqlite://", "file path");
  EXPECT_NE(error_for("DB_CONNECTION_URL", "x").find("postgres://"), std::string::npos);
}

TEST_F(ConfigTest, PostgresSettings) {
  const auto d = with_env("LOG_LEVEL", "info");
  EXPECT_EQ(d.db_pool_size, 4);
  EXPECT_EQ(d.db_writers, 2);
  EXPECT_EQ(d.db_max_batch, 1024u);
  EXPECT_EQ(d.db_timeout, 10s);
  EXPECT_EQ(d.db_connect_timeout, 5s);
  EXPECT_EQ(with_env("DB_POOL_SIZE", "1").db_pool_size, 1);
  EXPECT_EQ(with_env("DB_POOL_SIZE", " 256 ").db_pool_size, 256);
  EXPECT_EQ(with_env("DB_WRITERS", "1").db_writers, 1);
  EXPECT_EQ(with_env("DB_WRITERS", "16").db_writers, 16);
  for (const char* bad : {"0", "17", "x"}) expect_refused("DB_WRITERS", bad, "not a connection count");
  EXPECT_EQ(with_env("DB_MAX_BATCH", "1").db_max_batch, 1u);
  EXPECT_EQ(with_env("DB_MAX_BATCH", "100000").db_max_batch, 100000u);
  EXPECT_EQ(with_env("DB_TIMEOUT", "30").db_timeout, 30s);
  EXPECT_EQ(with_env("DB_TIMEOUT", "2m").db_timeout, 2min);
  EXPECT_EQ(with_env("DB_TIMEOUT", "1h").db_timeout, 1h);
  EXPECT_EQ(with_env("DB_CONNECT_TIMEOUT", "1s").db_connect_timeout, 1s);
  EXPECT_EQ(with_env("DB_CONNECT_TIMEOUT", "10m").db_connect_timeout, 10min);
  for (const char* bad : {"0", "257", "-1", "4.5", "x", "4 connections"}) {
    expect_refused("DB_POOL_SIZE", bad, "not a connection count");
  }
  for (const char* bad : {"0", "100001", "1K", "x"}) expect_refused("DB_MAX_BATCH", bad, "not a batch size");
  EXPECT_NE(error_for("DB_POOL_SIZE", "0").find("from 1 to 256"), std::string::npos);
  expect_refused("DB_TIMEOUT", "0", "out of range");
  expect_refused("DB_TIMEOUT", "2h", "out of range");
  expect_refused("DB_TIMEOUT", "500ms", "not a duration");
  expect_refused("DB_CONNECT_TIMEOUT", "11m", "out of range");
  expect_refused("DB_CONNECT_TIMEOUT", "soon", "not a duration");
}

TEST_F(ConfigTest, RedisAddress) {
  struct form {
    const char* text;
    const char* host;
    const char* port;
    const char* password;
    int db;
  };
  for (const form f : {form{"localhost:6379", "localhost", "6379", "", 0}, form{"10.0.0.5:6380", "10.0.0.5", "6380", "", 0},
                       form{"[::1]:6379", "::1", "6379", "", 0}, form{"redis://cache:6379/2", "cache", "6379", "", 2},
                       form{"REDIS://:s%40cret@Cache:7000", "Cache", "7000", "s@cret", 0},
                       form{"redis://cache", "cache", "6379", "", 0}}) {
    // Cluster mode also needs PostgreSQL and JWT_SECRET (ClusterModeNeedsPostgresAndAJwtSecret).
    const auto c = run({}, {{"REDISADDR", f.text},
                            {"DB_CONNECTION_URL", "postgres://db/x"},
                            {"JWT_SECRET", "cluster-secret-0123"}});
    ASSERT_TRUE(c && c->redis) << f.text;
    EXPECT_EQ(c->redis->host, f.host) << f.text;
    EXPECT_EQ(c->redis->port, f.port) << f.text;
    EXPECT_EQ(c->redis->password, f.password) << f.text;
    EXPECT_EQ(c->redis->db, f.db) << f.text;
  }
  for (const char* bad : {"localhost", "localhost:0", "localhost:70000", "host:abc", "a b:1", "::1:6379", ":6379",
                          "redis://", "[zz]:1", "redis://h:1/x", "redis://h:1?db=2", "http://h:1"}) {
    expect_refused("REDISADDR", bad, "Redis address");
  }
  // TLS is refused as such, whatever the case of the scheme; the server would otherwise try
  // a plain connection to a TLS port after writing the database schema.
  for (const char* tls : {"rediss://cache:6380", "REDISS://user:pw@cache:6380"}) {
    expect_refused("REDISADDR", tls, "TLS to Redis is not supported");
  }
  // What precedes an '@' may be a password: not echoed, the rest is.
  for (const char* bad : {"redis://:my secret@h:6379", "rediss://user:my secret@h:6379", "user:my-secret@h:6379"}) {
    const auto msg = error_for("REDISADDR", bad);
    EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
    EXPECT_NE(msg.find("***@h:6379"), std::string::npos) << msg;
  }
  EXPECT_NE(error_for("REDISADDR", "redis://:my secret@h:6379").find("'redis://***@h:6379'"), std::string::npos);
}

TEST_F(ConfigTest, ClusterModeNeedsPostgresAndAJwtSecret) {
  const std::string pg = "postgres://db/chatrix";
  const std::string secret = "cluster-secret-0123456789";
  auto c = run({}, {{"REDISADDR", "cache:6379"}, {"DB_CONNECTION_URL", pg}, {"JWT_SECRET", secret}});
  ASSERT_TRUE(c && c->redis);
  EXPECT_EQ(c->redis->to_string(), "cache:6379");

  const auto refusal = [&](const env_map& env, const std::vector<std::string>& args = {}) -> std::string {
    try {
      run(args, env);
    } catch (const config_error& e) {
      return e.what();
    }
    return "(accepted)";
  };
  // SQLite (default or explicit): every node would have its own users and messages.
  for (const std::string db : {"", "sqlite:x.db"}) {
    env_map env{{"REDISADDR", "cache:6379"}, {"JWT_SECRET", secret}};
    if (!db.empty()) env["DB_CONNECTION_URL"] = db;
    const auto msg = refusal(env);
    EXPECT_TRUE(msg.starts_with("REDISADDR: ")) << msg;
    EXPECT_NE(msg.find("DB_CONNECTION_URL=postgres://"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  // A generated secret lives in one node's data dir; the others would refuse its tokens.
  auto msg = refusal({{"REDISADDR", "cache:6379"}, {"DB_CONNECTION_URL", pg}});
  EXPECT_TRUE(msg.starts_with("REDISADDR: ")) << msg;
  EXPECT_NE(msg.find("JWT_SECRET"), std::string::npos) << msg;
  // The error says where REDISADDR came from.
  msg = refusal({{"DB_CONNECTION_URL", pg}}, {"--redis", "cache:6379"});
  EXPECT_TRUE(msg.starts_with("REDISADDR: ")) << msg;
  EXPECT_NE(msg.find("(from --redis)"), std::string::npos) << msg;
}

// ---- auth ----

TEST_F(ConfigTest, JwtSecret) {
  EXPECT_EQ(with_env("JWT_SECRET", "0123456789abcdef").jwt_secret, "0123456789abcdef");
  // Used exactly as given: no trimming.
  EXPECT_EQ(with_env("JWT_SECRET", " 0123456789abcdef ").jwt_secret, " 0123456789abcdef ");
  EXPECT_EQ(error_for("JWT_SECRET", "0123456789abcde"), "JWT_SECRET: too short (15 bytes; at least 16)");
  EXPECT_EQ(error_for("JWT_SECRET", "x"), "JWT_SECRET: too short (1 bytes; at least 16)");
}

TEST_F(ConfigTest, JwtSecretIsNeverEchoed) {
  const auto msg = error_for("JWT_SECRET", "shortsecret");
  EXPECT_EQ(msg.find("shortsecret"), std::string::npos);
}

TEST_F(ConfigTest, DurationForms) {
  EXPECT_EQ(with_env("JWT_TTL", "86400").jwt_ttl, 86400s);
  EXPECT_EQ(with_env("JWT_TTL", "24h").jwt_ttl, 24h);
  EXPECT_EQ(with_env("JWT_TTL", "90m").jwt_ttl, 90min);
  EXPECT_EQ(with_env("JWT_TTL", "3600s").jwt_ttl, 3600s);
  EXPECT_EQ(with_env("JWT_TTL", "1d").jwt_ttl, 24h);
  EXPECT_EQ(with_env("JWT_TTL", "30d").jwt_ttl, 30 * 24h);
  EXPECT_EQ(with_env("JWT_TTL", "1").jwt_ttl, 1s);
  EXPECT_EQ(with_env("JWT_TTL", "2H").jwt_ttl, 2h);
  EXPECT_EQ(with_env("JWT_TTL", " 5m ").jwt_ttl, 5min);
}

TEST_F(ConfigTest, DurationRefused) {
  for (const char* bad : {"0", "0h", "31d", "2592001", "721h"}) expect_refused("JWT_TTL", bad, "out of range");
  for (const char* bad :
       {"abc", "1w", "-5", "1.5h", "h", "5 minutes", "99999999999999999999d", "18446744073709551615d"}) {
    expect_refused("JWT_TTL", bad, "not a duration");
  }
  EXPECT_NE(error_for("JWT_TTL", "x").find("s, m, h or d"), std::string::npos);
}

TEST_F(ConfigTest, TimeoutsAndRetryWindow) {
  EXPECT_EQ(with_env("AUTH_TIMEOUT", "5").auth_timeout, 5s);
  EXPECT_EQ(with_env("AUTH_TIMEOUT", "1h").auth_timeout, 1h);
  expect_refused("AUTH_TIMEOUT", "0", "out of range");
  expect_refused("AUTH_TIMEOUT", "61m", "1s to 1h");
  EXPECT_EQ(with_env("IDLE_TIMEOUT", "2m").idle_timeout, 120s);
  EXPECT_EQ(with_env("IDLE_TIMEOUT", "1d").idle_timeout, 24h);
  expect_refused("IDLE_TIMEOUT", "25h", "1s to 1d");
  expect_refused("IDLE_TIMEOUT", "soon", "not a duration");
  EXPECT_EQ(with_env("RETRY_WINDOW", "30d").retry_window, 30 * 24h);
  EXPECT_EQ(with_env("RETRY_WINDOW", "15m").retry_window, 15min);
  expect_refused("RETRY_WINDOW", "31d", "1s to 30d");
  expect_refused("RETRY_WINDOW", "0", "out of range");
}

TEST_F(ConfigTest, Argon2Profile) {
  EXPECT_EQ(with_env("ARGON2_PROFILE", "interactive").argon2_profile, "interactive");
  EXPECT_EQ(with_env("ARGON2_PROFILE", "moderate").argon2_profile, "moderate");
  EXPECT_EQ(with_env("ARGON2_PROFILE", "min").argon2_profile, "min");
  EXPECT_EQ(with_env("ARGON2_PROFILE", "MIN").argon2_profile, "min");
  expect_refused("ARGON2_PROFILE", "fast", "interactive, moderate or min");
  expect_refused("ARGON2_PROFILE", "minimal", "interactive, moderate or min");
}

// ---- HTTP ----

TEST_F(ConfigTest, CorsOrigins) {
  EXPECT_EQ(with_env("CORS_ORIGINS", "*").cors_origins, std::vector<std::string>{"*"});
  EXPECT_EQ(with_env("CORS_ORIGINS", " https://a.example.com , http://b.example.org:8080 ,").cors_origins,
            (std::vector<std::string>{"https://a.example.com", "http://b.example.org:8080"}));
  EXPECT_EQ(with_env("CORS_ORIGINS", "https://A.Example.com/").cors_origins,
            std::vector<std::string>{"https://a.example.com"});
  expect_refused("CORS_ORIGINS", "a.example.com", "http:// or https://");
  expect_refused("CORS_ORIGINS", "https://ok.com,ftp://x.com", "http:// or https://");
  expect_refused("CORS_ORIGINS", "*,https://a.com", "'*' cannot be combined");
  expect_refused("CORS_ORIGINS", "https://a.com/app", "no path");
  expect_refused("CORS_ORIGINS", "https://", "not an origin");
  expect_refused("CORS_ORIGINS", ",", "no origins");
}

// ---- logging ----

TEST_F(ConfigTest, LogLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_EQ(with_env("LOG_LEVEL", level).log_level, level);
  }
  EXPECT_EQ(with_env("LOG_LEVEL", "WARNING").log_level, "warn");
  EXPECT_EQ(with_env("LOG_LEVEL", "Debug").log_level, "debug");
  expect_refused("LOG_LEVEL", "verbose", "trace, debug, info, warn, error, critical or off");
}

// ---- limits ----

TEST_F(ConfigTest, ThreadCounts) {
  EXPECT_EQ(with_env("IO_THREADS", "1").io_threads, 1u);
  // One I/O thread runs the network and the domain; more is refused rather than ignored.
  expect_refused("IO_THREADS", "4", "not supported");
  EXPECT_EQ(with_env("WORKER_THREADS", "1").worker_threads, 1u);
  EXPECT_EQ(with_env("WORKER_THREADS", "64").worker_threads, 64u);
  for (const char* var : {"IO_THREADS", "WORKER_THREADS"}) {
    for (const char* bad : {"0", "65", "two", "-1", "1.5", "4294967297"}) expect_refused(var, bad, "1 to 64");
  }
}

TEST_F(ConfigTest, FrameBytes) {
  EXPECT_EQ(with_env("MAX_FRAME_BYTES", "1024").max_frame_bytes, 1024u);
  EXPECT_EQ(with_env("MAX_FRAME_BYTES", "1K").max_frame_bytes, 1024u);
  EXPECT_EQ(with_env("MAX_FRAME_BYTES", "64k").max_frame_bytes, 64u * 1024);
  EXPECT_EQ(with_env("MAX_FRAME_BYTES", "16M").max_frame_bytes, 16u * 1024 * 1024);
  EXPECT_EQ(with_env("MAX_FRAME_BYTES", "16MiB").max_frame_bytes, 16u * 1024 * 1024);
  EXPECT_EQ(with_env("MAX_FRAME_BYTES", "2048B").max_frame_bytes, 2048u);
  expect_refused("MAX_FRAME_BYTES", "1023", "1K to 16M");
  expect_refused("MAX_FRAME_BYTES", "16777217", "out of range");
  expect_refused("MAX_FRAME_BYTES", "17M", "out of range");
  expect_refused("MAX_FRAME_BYTES", "1T", "not a size");
  expect_refused("MAX_FRAME_BYTES", "lots", "not a size");
  expect_refused("MAX_FRAME_BYTES", "99999999999G", "not a size");
}

TEST_F(ConfigTest, ContentBytesDependsOnFrameBytes) {
  EXPECT_EQ(with_env("MAX_CONTENT_BYTES", "1").max_content_bytes, 1u);
  EXPECT_EQ(with_env("MAX_CONTENT_BYTES", "32K").max_content_bytes, 32u * 1024);  // default frame 64K
  expect_refused("MAX_CONTENT_BYTES", "32769", "MAX_FRAME_BYTES/2 = 32768");
  expect_refused("MAX_CONTENT_BYTES", "0", "out of range");
  auto c = run({}, {{"MAX_FRAME_BYTES", "1M"}, {"MAX_CONTENT_BYTES", "512K"}});
  EXPECT_EQ(c->max_content_bytes, 512u * 1024);
  // A small frame limit lowers the default content limit instead of failing on a value nobody set.
  c = run({}, {{"MAX_FRAME_BYTES", "4K"}});
  EXPECT_EQ(c->max_content_bytes, 2048u);
  EXPECT_THROW(run({}, {{"MAX_FRAME_BYTES", "4K"}, {"MAX_CONTENT_BYTES", "4K"}}), config_error);
}

TEST_F(ConfigTest, SendQueueBytes) {
  EXPECT_EQ(with_env("SEND_QUEUE_BYTES", "64K").send_queue_bytes, 64u * 1024);
  EXPECT_EQ(with_env("SEND_QUEUE_BYTES", "1G").send_queue_bytes, 1024u * 1024 * 1024);
  expect_refused("SEND_QUEUE_BYTES", "65535", "64K to 1G");
  expect_refused("SEND_QUEUE_BYTES", "1025M", "64K to 1G");
}

// ---- error messages ----

TEST_F(ConfigTest, EveryBadValueNamesItsVariableOnOneLine) {
  const env_map bad{
      {"SERVER_PORT", "x"},       {"SERVER_HOST", "a b"},    {"DB_CONNECTION_URL", "nope"}, {"REDISADDR", "nope"},
      {"JWT_SECRET", "short"},    {"JWT_TTL", "x"},          {"ARGON2_PROFILE", "x"},       {"CORS_ORIGINS", "x"},
      {"LOG_LEVEL", "x"},         {"IO_THREADS", "x"},       {"WORKER_THREADS", "x"},       {"MAX_FRAME_BYTES", "x"},
      {"MAX_CONTENT_BYTES", "x"}, {"SEND_QUEUE_BYTES", "x"}, {"AUTH_TIMEOUT", "x"},         {"IDLE_TIMEOUT", "x"},
      {"RETRY_WINDOW", "x"},      {"DB_POOL_SIZE", "x"},     {"DB_MAX_BATCH", "x"},         {"DB_TIMEOUT", "x"},
      {"DB_CONNECT_TIMEOUT", "x"}, {"DB_WRITERS", "x"},
  };
  for (const auto& [var, value] : bad) expect_refused(var, value + "\n");
}

TEST_F(ConfigTest, ErrorsSayWhereTheValueCameFrom) {
  try {
    run({"--io-threads", "0"});
    FAIL();
  } catch (const config_error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("IO_THREADS: ")) << e.what();
    EXPECT_NE(std::string(e.what()).find("(from --io-threads)"), std::string::npos) << e.what();
  }
  write_dotenv("\n\nLOG_LEVEL=loud\n");
  try {
    run();
    FAIL();
  } catch (const config_error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("LOG_LEVEL: ")) << e.what();
    EXPECT_NE(std::string(e.what()).find(dotenv_path_.string() + ":3"), std::string::npos) << e.what();
  }
}

// ---- flags ----

TEST_F(ConfigTest, EveryVariableHasAWorkingFlag) {
  const env_map valid{
      {"SERVER_PORT", "127.0.0.1:7001"},
      {"SERVER_HOST", "n1:7001"},
      {"CHATRIX_PORT_FILE", "/tmp/port"},
      {"DB_CONNECTION_URL", "postgres://db/flag"},
      {"DB_POOL_SIZE", "8"},
      {"DB_WRITERS", "3"},
      {"DB_MAX_BATCH", "512"},
      {"DB_TIMEOUT", "20s"},
      {"DB_CONNECT_TIMEOUT", "3s"},
      {"CHATRIX_DATA_DIR", "/srv/chatrix"},
      {"REDISADDR", "cache:6379"},
      {"JWT_SECRET", "flag-secret-0123456789"},
      {"JWT_TTL", "2h"},
      {"ARGON2_PROFILE", "min"},
      {"CORS_ORIGINS", "https://x.example"},
      {"LOG_LEVEL", "trace"},
      {"LOG_FORMAT", "json"},
      {"ACCESS_LOG", "on"},
      {"WEB_DIR", "/srv/web"},
      {"TLS_CERT", "/etc/chatrix/cert.pem"},
      {"TLS_KEY", "/etc/chatrix/key.pem"},
      {"IO_THREADS", "1"},
      {"WORKER_THREADS", "5"},
      {"MAX_FRAME_BYTES", "128K"},
      {"MAX_CONTENT_BYTES", "16K"},
      {"SEND_QUEUE_BYTES", "8M"},
      {"AUTH_TIMEOUT", "7"},
      {"IDLE_TIMEOUT", "90"},
      {"RETRY_WINDOW", "1h"},
      {"SYNC_RETENTION", "7d"},
      {"EDIT_WINDOW", "15m"},
      {"FILE_MAX_BYTES", "10M"},
      {"FILE_UPLOAD_LIMIT", "5/m"},
      {"HTTP_SEND_LIMIT", "7/s"},
      {"TYPING_LIMIT", "4/s"},
      {"EXPORT_LIMIT", "2/h"},
      {"PRESENCE_GRACE", "9s"},
      {"USERNAME_QUARANTINE", "2d"},
      {"PUSH_WEBHOOK_URL", "https://push.example/hook"},
      {"PUSH_WEBHOOK_SECRET", "push-secret-0123456789"},
      {"PUSH_DELAY", "4s"},
      {"PUSH_INCLUDE_CONTENT", "on"},
      {"PUSH_QUEUE", "77"},
      {"LOGIN_FAILURE_LIMIT", "5/m"},
      {"LOGIN_ADDRESS_LIMIT", "100/m"},
      {"REGISTER_LIMIT", "10/h"},
      {"MESSAGE_RATE", "50/s"},
      {"MESSAGE_BURST", "100"},
      {"MESSAGE_FLOOD_LIMIT", "10"},
      {"SEARCH_LIMIT", "2/s"},
      {"HISTORY_LIMIT", "3/s"},
      {"STORAGE_QUOTA", "1M"},
      {"HASH_QUEUE", "8"},
      {"CONNECT_LIMIT", "0"},
      {"ADDRESS_CONNECTIONS", "50"},
      {"HTTP_ADDRESS_CONNECTIONS", "5"},
      {"UNAUTHENTICATED_PER_ADDRESS", "9"},
      {"UNAUTHENTICATED_TOTAL", "99"},
      {"UNAUTHENTICATED_PINGS", "3"},
      {"HTTP_HEADER_TIMEOUT", "5s"},
      {"HTTP_REQUEST_TIMEOUT", "20s"},
      {"TRUSTED_PROXIES", "10.0.0.0/8"},
      {"WS_ORIGINS", "https://x.example"},
      {"ADMIN_PORT", "9100"},
  };
  std::vector<std::string> args;
  std::set<std::string> seen;
  for (const auto& s : settings()) {
    ASSERT_TRUE(valid.contains(s.variable)) << "no test value for " << s.variable;
    args.push_back(s.flag + "=" + valid.at(s.variable));
    seen.insert(s.variable);
  }
  EXPECT_EQ(seen.size(), valid.size());
  const auto c = run(args);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->listen.host, "127.0.0.1");
  EXPECT_EQ(c->listen.port, 7001);
  EXPECT_EQ(c->advertised_host, "n1:7001");
  EXPECT_EQ(c->port_file, "/tmp/port");
  EXPECT_EQ(c->database, database_kind::postgres);
  EXPECT_EQ(c->database_url, "postgres://db/flag");
  EXPECT_EQ(c->db_pool_size, 8);
  EXPECT_EQ(c->db_writers, 3);
  EXPECT_EQ(c->db_max_batch, 512u);
  EXPECT_EQ(c->db_timeout, 20s);
  EXPECT_EQ(c->db_connect_timeout, 3s);
  EXPECT_EQ(c->data_dir, "/srv/chatrix");
  ASSERT_TRUE(c->redis.has_value());
  EXPECT_EQ(c->redis->host, "cache");
  EXPECT_EQ(c->redis->port, "6379");
  EXPECT_EQ(c->jwt_secret, "flag-secret-0123456789");
  EXPECT_EQ(c->jwt_ttl, 2h);
  EXPECT_EQ(c->argon2_profile, "min");
  EXPECT_EQ(c->cors_origins, std::vector<std::string>{"https://x.example"});
  EXPECT_EQ(c->log_level, "trace");
  EXPECT_EQ(c->log_format, "json");
  EXPECT_TRUE(c->access_log);
  EXPECT_EQ(c->web_dir, "/srv/web");
  EXPECT_TRUE(c->serve_web);
  EXPECT_EQ(c->tls_cert, "/etc/chatrix/cert.pem");
  EXPECT_EQ(c->tls_key, "/etc/chatrix/key.pem");
  EXPECT_EQ(c->io_threads, 1u);
  EXPECT_EQ(c->worker_threads, 5u);
  EXPECT_EQ(c->max_frame_bytes, 128u * 1024);
  EXPECT_EQ(c->max_content_bytes, 16u * 1024);
  EXPECT_EQ(c->send_queue_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(c->auth_timeout, 7s);
  EXPECT_EQ(c->idle_timeout, 90s);
  EXPECT_EQ(c->retry_window, 1h);
  EXPECT_EQ(c->sync_retention, std::chrono::hours(7 * 24));
  EXPECT_EQ(c->edit_window, 15min);
  EXPECT_EQ(c->file_max_bytes, 10u * 1024 * 1024);
  EXPECT_EQ(c->file_upload_limit, (chatrix::limits::rate{5, 1min}));
  EXPECT_EQ(c->http_send_limit, (chatrix::limits::rate{7, 1s}));
  EXPECT_EQ(c->typing_limit, (chatrix::limits::rate{4, 1s}));
  EXPECT_EQ(c->export_limit, (chatrix::limits::rate{2, 1h}));
  EXPECT_EQ(c->presence_grace, 9s);
  EXPECT_EQ(c->username_quarantine, 48h);
  EXPECT_EQ(c->push_webhook_url, "https://push.example/hook");
  EXPECT_EQ(c->push_webhook_secret, "push-secret-0123456789");
  EXPECT_EQ(c->push_delay, 4s);
  EXPECT_TRUE(c->push_include_content);
  EXPECT_EQ(c->push_queue, 77u);
  EXPECT_EQ(c->login_failure_limit, (chatrix::limits::rate{5, 1min}));
  EXPECT_EQ(c->login_address_limit, (chatrix::limits::rate{100, 1min}));
  EXPECT_EQ(c->register_limit, (chatrix::limits::rate{10, 1h}));
  EXPECT_EQ(c->message_rate, (chatrix::limits::rate{50, 1s}));
  EXPECT_EQ(c->message_burst, 100u);
  EXPECT_EQ(c->message_flood_limit, 10u);
  EXPECT_EQ(c->search_limit, (chatrix::limits::rate{2, 1s}));
  EXPECT_EQ(c->history_limit, (chatrix::limits::rate{3, 1s}));
  EXPECT_EQ(c->storage_quota, 1024u * 1024);
  EXPECT_EQ(c->hash_queue, 8u);
  EXPECT_TRUE(c->connect_limit.off());
  EXPECT_EQ(c->address_connections, 50u);
  EXPECT_EQ(c->http_address_connections, 5u);
  EXPECT_EQ(c->unauthenticated_per_address, 9u);
  EXPECT_EQ(c->unauthenticated_total, 99u);
  EXPECT_EQ(c->unauthenticated_pings, 3u);
  EXPECT_EQ(c->http_header_timeout, 5s);
  EXPECT_EQ(c->http_request_timeout, 20s);
  ASSERT_EQ(c->trusted_proxies.size(), 1u);
  EXPECT_EQ(c->ws_origins, std::vector<std::string>{"https://x.example"});
  ASSERT_TRUE(c->admin.has_value());
  EXPECT_EQ(c->admin->to_string(), "127.0.0.1:9100");

  // The same values from the environment give the same result.
  const auto from_env = run({}, valid);
  ASSERT_TRUE(from_env);
  EXPECT_EQ(from_env->listen.port, 7001);
  EXPECT_EQ(from_env->retry_window, 1h);
  EXPECT_EQ(from_env->db_pool_size, 8);
  EXPECT_EQ(from_env->db_writers, 3);
  EXPECT_EQ(from_env->db_timeout, 20s);
}

TEST_F(ConfigTest, WebTlsAndLogSettings) {
  EXPECT_FALSE(with_env("WEB_DIR", "off").serve_web);
  EXPECT_EQ(with_env("LOG_FORMAT", "text").log_format, "text");
  EXPECT_FALSE(with_env("ACCESS_LOG", "off").access_log);
  EXPECT_EQ(error_for("LOG_FORMAT", "xml"), "LOG_FORMAT: 'xml' is not accepted (accepted: text or json)");
  EXPECT_EQ(error_for("TLS_CERT", "/c.pem"), "TLS_CERT: TLS needs both TLS_CERT and TLS_KEY");
  EXPECT_EQ(error_for("TLS_KEY", "/k.pem"), "TLS_KEY: TLS needs both TLS_CERT and TLS_KEY");
}

TEST_F(ConfigTest, PushNeedsAnHttpUrlAndASecret) {
  const auto c = run({});
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->push_webhook_url.empty());
  EXPECT_EQ(c->push_delay, 3s);
  EXPECT_FALSE(c->push_include_content);
  EXPECT_EQ(c->push_queue, 10000u);
  EXPECT_EQ(c->presence_grace, 5s);
  EXPECT_EQ(c->username_quarantine, 30 * 24h);
  EXPECT_EQ(error_for("PUSH_WEBHOOK_URL", "ftp://x/hook"),
            "PUSH_WEBHOOK_URL: 'ftp://x/hook' is not accepted (accepted: an http:// or https:// URL)");
  EXPECT_NE(error_for("PUSH_WEBHOOK_URL", "http://127.0.0.1:9/hook").find("PUSH_WEBHOOK_SECRET of at least 16 bytes"),
            std::string::npos);
}

TEST_F(ConfigTest, SettingsListIsComplete) {
  std::set<std::string> flags;
  for (const auto& s : settings()) {
    EXPECT_TRUE(s.flag.starts_with("--")) << s.flag;
    EXPECT_FALSE(s.help.empty()) << s.variable;
    EXPECT_TRUE(flags.insert(s.flag).second) << "duplicate flag " << s.flag;
  }
  EXPECT_EQ(settings().size(), 64u);
  const auto find = [](const std::string& var) {
    for (const auto& s : settings()) {
      if (s.variable == var) return s.flag;
    }
    return std::string();
  };
  EXPECT_EQ(find("SERVER_PORT"), "--port");
  EXPECT_EQ(find("SERVER_HOST"), "--host");
  EXPECT_EQ(find("DB_CONNECTION_URL"), "--db");
  EXPECT_EQ(find("CHATRIX_PORT_FILE"), "--port-file");
  EXPECT_EQ(find("ARGON2_PROFILE"), "--argon2");
  EXPECT_EQ(find("DB_POOL_SIZE"), "--db-pool-size");
  EXPECT_EQ(find("DB_MAX_BATCH"), "--db-max-batch");
  EXPECT_EQ(find("DB_TIMEOUT"), "--db-timeout");
  EXPECT_EQ(find("DB_CONNECT_TIMEOUT"), "--db-connect-timeout");
}

TEST_F(ConfigTest, HelpListsVariablesAndReturnsNothing) {
  write_dotenv("broken line\n");  // --help must work even then
  ::testing::internal::CaptureStdout();
  const auto c = run({"--help"});
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_FALSE(c.has_value());
  for (const auto& s : settings()) {
    EXPECT_NE(out.find(s.flag), std::string::npos) << s.flag;
    EXPECT_NE(out.find(s.variable), std::string::npos) << s.variable;
  }
}

TEST_F(ConfigTest, VersionPrintsAndReturnsNothing) {
  ::testing::internal::CaptureStdout();
  const auto c = run({"--version"});
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_FALSE(c.has_value());
  EXPECT_TRUE(out.starts_with("chatrix ")) << out;
}

TEST_F(ConfigTest, BadCommandLinesRefused) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--bogus"}, {"--bogus=1"}, {"stray"}, {"--port"}, {"-x"}}) {
    try {
      run(args);
      ADD_FAILURE() << "accepted " << args.front();
    } catch (const config_error& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(msg.starts_with("command line: ")) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

TEST_F(ConfigTest, NoArgvAtAll) { EXPECT_TRUE(load(0, nullptr, {}, dotenv_path_).has_value()); }

TEST(ProcessEnvironment, ReadsTheRealEnvironment) {
  ::setenv("CHATRIX_CONFIG_TEST_VAR", "a=b", 1);
  const auto env = process_environment();
  ASSERT_TRUE(env.contains("CHATRIX_CONFIG_TEST_VAR"));
  EXPECT_EQ(env.at("CHATRIX_CONFIG_TEST_VAR"), "a=b");
  ::unsetenv("CHATRIX_CONFIG_TEST_VAR");
}

}  // namespace
