// The real server on a password-authenticated PostgreSQL role: the password, in every form
// it was written in, never reaches the server's output: not while it works, not when a
// reconnect is refused, not when the server cannot start (wrong password, malformed URL).
#include "support/chat_fixture.hpp"
#include "support/pg_instance.hpp"

#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <thread>

namespace chatrix::test {
namespace {

using clock_type = std::chrono::steady_clock;

constexpr const char* role = "chatrix_pw";
constexpr const char* database = "chat_pw";
// Characters a URL must percent-encode; "5ecr" is part of every form of it.
constexpr const char* password = "Pw-5ecr%t x@y";
constexpr const char* password_encoded = "Pw-5ecr%25t%20x%40y";
constexpr const char* marker = "5ecr";

class server_pg_password : public chat_test_base {
 protected:
  void SetUp() override {
    pg_ = std::make_unique<chatrix::testing::pg_instance>();
    pg_->query("postgres", std::string("CREATE ROLE ") + role + " LOGIN PASSWORD '" + password + "'");
    pg_->query("postgres", std::string("CREATE DATABASE ") + database + " OWNER " + role);
    pg_->require_password(role);
  }
  void TearDown() override {
    if (server_) chat_test_base::TearDown();
    server_.reset();
    pg_.reset();
  }
  server_process& server() override { return *server_; }

  std::string url(const std::string& scheme, const std::string& secret) const {
    return scheme + "://" + role + ":" + secret + "@127.0.0.1:" + std::to_string(pg_->port()) + "/" + database;
  }
  void make_server(const std::string& db_url) {
    // debug: every line the store can write is in the log.
    server_ = std::make_unique<server_process>(
        std::map<std::string, std::string>{{"DB_CONNECTION_URL", db_url}, {"LOG_LEVEL", "debug"}});
  }
  std::string whole_log() const {
    std::ifstream in(server_->log_path());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  /// Waits (generously) until the log contains `text`.
  bool log_shows(const std::string& text, std::chrono::seconds limit = std::chrono::seconds(60)) const {
    const auto deadline = clock_type::now() + limit;
    while (whole_log().find(text) == std::string::npos) {
      if (clock_type::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
  }
  /// Sends TEXTs to bob until one is DELIVERED (ERR "unavailable" meanwhile).
  bool send_until_delivered(const session& a, std::chrono::seconds limit) {
    const auto deadline = clock_type::now() + limit;
    for (int mark = 1000; clock_type::now() < deadline; ++mark) {
      a->send_json(ev_text, text_to("bob", "try " + std::to_string(mark), mark));
      for (;;) {
        const json::value frame = a->recv_json(std::chrono::seconds(30));
        const auto type = int_field(frame, "type");
        if (type == ev_delivered) return true;
        if (type == ev_err) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  std::unique_ptr<chatrix::testing::pg_instance> pg_;  // declared first: outlives the server
  std::unique_ptr<server_process> server_;
};

TEST_F(server_pg_password, the_password_never_appears_while_connected_nor_when_a_reconnect_is_refused) {
  // An upper-case scheme on purpose: it is a URL like any other, also for the redaction.
  make_server(url("POSTGRES", password_encoded));
  server_->start();
  const auto alice = make_user("alice");
  make_user("bob");
  session a = connect_authed(alice);
  send_and_confirm(a, text_to("bob", "hello"));

  // The role's password changes and the server's sessions are cut: every reconnect is
  // refused by authentication until the old password is back.
  pg_->query("postgres", std::string("ALTER ROLE ") + role + " PASSWORD 'Changed-0ther'");
  pg_->query("postgres",
             std::string("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '") + role + "'");
  ASSERT_TRUE(log_shows("password authentication failed")) << server_->log_tail();
  pg_->query("postgres", std::string("ALTER ROLE ") + role + " PASSWORD '" + password + "'");
  ASSERT_TRUE(send_until_delivered(a, std::chrono::seconds(60))) << "no recovery with the right password";
  ASSERT_TRUE(server_->stop(std::chrono::seconds(10)).has_value());

  const std::string log = whole_log();
  EXPECT_NE(log.find("POSTGRES://chatrix_pw:***@"), std::string::npos) << "the redacted URL is logged";
  EXPECT_EQ(log.find(marker), std::string::npos) << log;
}

TEST_F(server_pg_password, the_password_never_appears_when_the_server_cannot_start) {
  struct refusal {
    std::string reason;
    int exit_status;  // 1: the database refused; 2: a malformed URL, refused with the settings
  };
  const std::map<std::string, refusal> cases{
      {url("postgres", "Wr0ng-5ecr%25x"), {"password authentication failed", 1}},
      {url("postgresql", "Wr0ng-5ecr x"), {"DB_CONNECTION_URL: has a space", 2}},
      {url("Postgres", "50%off-5ecr"), {"DB_CONNECTION_URL: is not a valid URL", 2}},
      {"host=127.0.0.1 port=" + std::to_string(pg_->port()) + " user=" + role + " dbname=" + database +
           " password='Bad 5ecr'",
       {"password authentication failed", 1}},
  };
  for (const auto& [db_url, expected] : cases) {
    const auto& reason = expected.reason;
    make_server(db_url);
    EXPECT_THROW(server_->start(), std::runtime_error) << db_url;
    ASSERT_TRUE(server_->last_status().has_value());
    EXPECT_TRUE(WIFEXITED(*server_->last_status()) && WEXITSTATUS(*server_->last_status()) == expected.exit_status)
        << whole_log();
    const std::string log = whole_log();
    EXPECT_NE(log.find(reason), std::string::npos) << log;
    EXPECT_EQ(log.find(marker), std::string::npos) << log;
    EXPECT_EQ(log.find("50%off"), std::string::npos) << log;
  }
}

}  // namespace
}  // namespace chatrix::test
