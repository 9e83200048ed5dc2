// config/address: each address form parsed into its typed value, the refusals, and, over
// random passwords, that a password reaches neither a log form (to_string) nor an error.
#include "config/address.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <string>

namespace {

using namespace chatrix::config;

std::string refusal(auto parse, std::string_view text) {
  try {
    parse(text);
  } catch (const address_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

TEST(ListenAddress, FormsAndLogForm) {
  EXPECT_EQ(parse_listen_address("6969").to_string(), "0.0.0.0:6969");
  EXPECT_EQ(parse_listen_address(":0").to_string(), "0.0.0.0:0");
  EXPECT_EQ(parse_listen_address("[::1]:8080").to_string(), "[::1]:8080");
  EXPECT_EQ(parse_listen_address("localhost:1").host, "127.0.0.1");
  EXPECT_NE(refusal(parse_listen_address, "host.example:80").find("IP address"), std::string::npos);
}

TEST(PostgresAddress, EmptyFieldsAreLeftToLibpq) {
  const auto a = parse_postgres_address("postgres:///chatrix");
  EXPECT_EQ(a.host, "");
  EXPECT_EQ(a.port, "");
  EXPECT_EQ(a.user, "");
  EXPECT_EQ(a.dbname, "chatrix");
  EXPECT_TRUE(parse_postgres_address("postgresql://db").dbname.empty());
}

TEST(PostgresAddress, SeveralHostsAsLibpqTakesThem) {
  auto a = parse_postgres_address("postgresql://chat:pw@db1:5432,[::1]:5433/chatrix?target_session_attrs=read-write");
  EXPECT_EQ(a.host, "db1,::1");
  EXPECT_EQ(a.port, "5432,5433");
  EXPECT_EQ(a.user, "chat");
  EXPECT_EQ(a.password, "pw");
  EXPECT_EQ(a.dbname, "chatrix");
  a = parse_postgres_address("postgres://db1,db2/x");
  EXPECT_EQ(a.host, "db1,db2");
  EXPECT_EQ(a.port, "") << "no port given: libpq's default for every host";
  a = parse_postgres_address("postgres://db1:5432,db2/x");
  EXPECT_EQ(a.port, "5432,") << "libpq reads an empty entry as the default port";
}

TEST(PostgresAddress, OptionsKeepTheirOrderAndSecretsAreMasked) {
  const auto a = parse_postgres_address("host=db sslmode=verify-full sslpassword=k3y-pass application_name=chatrix");
  EXPECT_EQ(a.options, (std::vector<std::pair<std::string, std::string>>{
                           {"sslmode", "verify-full"}, {"sslpassword", "k3y-pass"}, {"application_name", "chatrix"}}));
  EXPECT_EQ(a.to_string().find("k3y-pass"), std::string::npos) << a.to_string();
  EXPECT_EQ(parse_postgres_address("postgres://db/x?ssl=true").options,
            (std::vector<std::pair<std::string, std::string>>{{"sslmode", "require"}}))
      << "libpq's JDBC spelling";
}

TEST(PostgresAddress, Refused) {
  EXPECT_NE(refusal(parse_postgres_address, "mysql://db/x").find("'mysql'"), std::string::npos);
  EXPECT_NE(refusal(parse_postgres_address, "chatrix").find("key=value"), std::string::npos);
  EXPECT_NE(refusal(parse_postgres_address, "postgres://h1:5432,:5433/db").find("empty host"), std::string::npos);
  EXPECT_NE(refusal(parse_postgres_address, "postgres://h1:5432,h2:x/db").find("port"), std::string::npos);
  EXPECT_NE(refusal(parse_postgres_address, "host=db password").find("'='"), std::string::npos);
}

TEST(SqliteAddress, Forms) {
  EXPECT_EQ(parse_sqlite_address("sqlite:x.db"), "x.db");
  EXPECT_EQ(parse_sqlite_address("SQLITE:///abs/x.db"), "/abs/x.db");
  EXPECT_TRUE(is_sqlite_address(" Sqlite:x"));
  EXPECT_FALSE(is_sqlite_address("postgres://db/x"));
  EXPECT_NE(refusal(parse_sqlite_address, "sqlite:").find("file path"), std::string::npos);
}

TEST(RedisAddress, BareUserInfoIsThePasswordAndNeverLogged) {
  const auto a = parse_redis_address("redis://s3cret-pw@cache:7000/1");
  EXPECT_EQ(a.username, "");
  EXPECT_EQ(a.password, "s3cret-pw");
  EXPECT_EQ(a.to_string(), "cache:7000/1 (with AUTH)");
  EXPECT_EQ(parse_redis_address("[::1]:6379").to_string(), "[::1]:6379");
  EXPECT_NE(refusal(parse_redis_address, "rediss://cache:6380").find("TLS to Redis is not supported"),
            std::string::npos);
  EXPECT_NE(refusal(parse_redis_address, "Rediss://cache:6380").find("TLS to Redis is not supported"),
            std::string::npos);
}

TEST(WebsocketAddress, Forms) {
  auto a = parse_websocket_address("ws://127.0.0.1:8080/ws");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, "8080");
  EXPECT_EQ(a.target, "/ws");
  a = parse_websocket_address("WS://[::1]:9000");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.target, "/ws") << "the default path";
  a = parse_websocket_address("ws://node1/chat?v=2");
  EXPECT_EQ(a.port, "80");
  EXPECT_EQ(a.target, "/chat?v=2");
  EXPECT_NE(refusal(parse_websocket_address, "http://h:1/ws").find("ws://"), std::string::npos);
  EXPECT_NE(refusal(parse_websocket_address, "ws://h:0/ws").find("port"), std::string::npos);
}

// Passwords with every character that has a meaning in a URL or a key=value string, written
// raw (as people do) and percent-encoded: encoded, the password comes back exactly; raw, it
// comes back exactly or is refused, and in no case does it show in the log form or the error.
TEST(AddressPasswords, NeverReachALogOrAnError) {
  const std::string alphabet = "abcXYZ019-._~%@:/?#[]!$&'()*+,;= \\";
  std::mt19937 random(20261206);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1), length(4, 12);
  const auto encode = [](const std::string& s) {
    std::string out;
    for (const unsigned char c : s) {
      static constexpr char hex[] = "0123456789ABCDEF";
      if (std::isalnum(c)) {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    return out;
  };
  for (int round = 0; round < 2000; ++round) {
    std::string password = "Pw";
    for (std::size_t n = length(random); n > 0; --n) password += alphabet[pick(random)];
    SCOPED_TRACE(password);

    const auto postgres = parse_postgres_address("postgres://chat:" + encode(password) + "@db:5432/chatrix");
    EXPECT_EQ(postgres.password, password);
    EXPECT_EQ(postgres.to_string().find(password), std::string::npos);
    const auto redis = parse_redis_address("redis://:" + encode(password) + "@cache:6379/2");
    EXPECT_EQ(redis.password, password);
    EXPECT_EQ(redis.to_string().find(password), std::string::npos);

    for (const std::string& raw : {"postgres://chat:" + password + "@db:5432/chatrix",
                                   "host=db user=chat password=" + password + " dbname=chatrix"}) {
      try {
        const auto a = parse_postgres_address(raw);
        if (a.password != password) {
          EXPECT_EQ(a.to_string().find(password), std::string::npos) << raw;
        }
      } catch (const address_error& e) {
        EXPECT_EQ(std::string(e.what()).find(password), std::string::npos) << raw;
      }
    }
    try {
      const auto a = parse_redis_address("redis://:" + password + "@cache:6379");
      if (a.password != password) {
        EXPECT_EQ(a.to_string().find(password), std::string::npos);
      }
    } catch (const address_error& e) {
      EXPECT_EQ(std::string(e.what()).find(password), std::string::npos);
    }
  }
}

}  // namespace
