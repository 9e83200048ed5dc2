// Login and registration limits against the real server (docs/security.md, "Login and
// registration"): wrong passwords per username, attempts and registrations per client
// address, the bound on password hashes in flight, 0 turning each off, and the log lines.
#include "support/chat_fixture.hpp"
#include "support/metrics_probe.hpp"

#include <atomic>
#include <csignal>
#include <fstream>
#include <iterator>
#include <thread>

namespace chatrix::test {
namespace {

using namespace std::chrono_literals;

class login_limits : public chat_test {
 protected:
  // Each test starts its server with the limits it is about.
  void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
  void start(std::map<std::string, std::string> env) {
    server_ = std::make_unique<server_process>(std::move(env));
    server_->start();
  }

  http_response login_as(const std::string& username, const std::string& password) {
    return http_request(port(), "POST", "/auth/login",
                        json::serialize(json::object{{"username", username}, {"password", password}}));
  }
  http_response register_as(const std::string& username) {
    return http_request(
        port(), "POST", "/auth/register",
        json::serialize(json::object{{"username", username}, {"password", "password-" + username}, {"name", ""}}));
  }

  /// A 429 as docs/security.md describes it: code rate_limited, retry_after_ms in the body
  /// and Retry-After in whole seconds, rounded up. Returns retry_after_ms.
  static std::int64_t expect_limited(const http_response& res) {
    EXPECT_EQ(res.status, 429) << res.body;
    const auto body = res.json();
    EXPECT_EQ(str_field(body, "code"), "rate_limited");
    EXPECT_FALSE(str_field(body, "error").empty());
    const auto ms = int_field(body, "retry_after_ms");
    EXPECT_GT(ms, 0);
    EXPECT_EQ(res.header("Retry-After"), std::to_string((ms + 999) / 1000));
    return ms;
  }

  /// The body without its retry_after_ms, which differs by the time each key has left.
  static json::object without_retry_after(const http_response& res) {
    auto body = res.json().as_object();
    body.erase("retry_after_ms");
    return body;
  }

  std::string server_log() const {
    std::ifstream in(server_->log_path());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

TEST_F(login_limits, wrong_passwords_per_username_then_429_alike_for_unknown_usernames) {
  start({{"LOGIN_FAILURE_LIMIT", "3/m"}});
  const auto alice = make_user("alice");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login_as("alice", alice.password).status, 200) << "right passwords cost nothing";
  http_response wrong;
  for (int i = 0; i < 3; ++i) {
    wrong = login_as("alice", "not-her-password");
    EXPECT_EQ(wrong.status, 401) << wrong.body;
  }
  // Now refused before the password is looked at: the right one too, in any case.
  const auto alice_limited = login_as("ALICE", alice.password);
  const auto wait = expect_limited(alice_limited);
  EXPECT_LE(wait, 20'000);  // one failure comes back every 20 s

  // A username that does not exist gets exactly the same answers.
  http_response unknown;
  for (int i = 0; i < 3; ++i) {
    unknown = login_as("nobody", "not-her-password");
    EXPECT_EQ(unknown.status, 401);
  }
  EXPECT_EQ(unknown.body, wrong.body);
  const auto unknown_limited = login_as("nobody", "not-her-password");
  expect_limited(unknown_limited);
  EXPECT_EQ(without_retry_after(unknown_limited), without_retry_after(alice_limited));
  EXPECT_EQ(unknown_limited.has_header("Retry-After"), alice_limited.has_header("Retry-After"));

  const auto bob = make_user("bob");
  EXPECT_EQ(login_as("bob", bob.password).status, 200) << "other usernames are not affected";
  EXPECT_EQ(metric_value(port(), "chatrix_login_failures_total"), 6);
  EXPECT_EQ(metric_value(port(), "chatrix_limited_login_username_total"), 2);
}

TEST_F(login_limits, a_limited_username_recovers_after_the_period) {
  start({{"LOGIN_FAILURE_LIMIT", "3/s"}});
  const auto carol = make_user("carol");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login_as("carol", "wrong-password").status, 401);
  const auto wait = expect_limited(login_as("carol", carol.password));
  // The owner is never locked out for good: once the announced time has passed, it works.
  std::this_thread::sleep_for(std::chrono::milliseconds(wait));
  EXPECT_EQ(login_as("carol", carol.password).status, 200);
}

TEST_F(login_limits, attempts_per_address) {
  start({{"LOGIN_ADDRESS_LIMIT", "5/m"}, {"LOGIN_FAILURE_LIMIT", "0"}});
  const auto dave = make_user("dave");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login_as("dave", dave.password).status, 200);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(login_as(unique_name("sprayed"), "guess-1234").status, 401);
  const auto limited = login_as("dave", dave.password);
  expect_limited(limited);
  EXPECT_NE(str_field(limited.json(), "error").find("address"), std::string::npos) << limited.body;
  EXPECT_EQ(metric_value(port(), "chatrix_limited_login_address_total"), 1);
  EXPECT_EQ(register_as("erin").status, 200) << "registration has a limit of its own";
}

TEST_F(login_limits, registrations_per_address_count_accounts_created) {
  start({{"REGISTER_LIMIT", "3/h"}});
  EXPECT_EQ(register_as("reg1").status, 200);
  EXPECT_EQ(register_as("reg2").status, 200);
  EXPECT_EQ(register_as("REG1").status, 409) << "a taken name costs nothing";
  EXPECT_EQ(register_as("reg3").status, 200);
  const auto wait = expect_limited(register_as("reg4"));
  EXPECT_GT(wait, 19 * 60 * 1000);  // one registration per 20 min
  EXPECT_EQ(metric_value(port(), "chatrix_limited_register_total"), 1);
  EXPECT_EQ(login_as("reg1", "password-reg1").status, 200) << "login has limits of its own";
}

TEST_F(login_limits, full_hash_queue_answers_503_at_once_and_a_real_login_gets_through) {
  // One worker, one hash at a time, at the real cost: a flood of parallel wrong logins
  // used to queue behind each other (200 of them held a real login for ~7 s).
  start({{"HASH_QUEUE", "1"},
         {"WORKER_THREADS", "1"},
         {"ARGON2_PROFILE", "interactive"},
         {"LOGIN_FAILURE_LIMIT", "0"}});
  const auto frank = make_user("frank");
  constexpr int flood = 30;
  std::atomic<int> ready{0};
  std::atomic<int> unauthorized{0};
  std::atomic<int> overloaded{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < flood; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < flood) std::this_thread::yield();
      const auto res = login_as("flood" + std::to_string(i), "wrong-password");
      if (res.status == 401) {
        ++unauthorized;
      } else if (res.status == 503 && res.body.find("\"code\":\"overloaded\"") != std::string::npos &&
                 res.has_header("Retry-After")) {
        ++overloaded;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(overloaded.load(), 1) << unauthorized.load() << " of the flood were checked";
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(unauthorized.load() + overloaded.load(), flood);
  EXPECT_GE(metric_value(port(), "chatrix_hash_queue_full_total"), overloaded.load());
  // Nothing of the flood is left queued: the real login is checked at once.
  EXPECT_EQ(login_as("frank", frank.password).status, 200);
}

TEST_F(login_limits, zero_turns_each_off) {
  start({{"LOGIN_FAILURE_LIMIT", "0"},
         {"LOGIN_ADDRESS_LIMIT", "0"},
         {"REGISTER_LIMIT", "0"},
         {"HASH_QUEUE", "0"},
         {"WORKER_THREADS", "1"}});
  const auto gina = make_user("gina");
  for (int i = 0; i < 15; ++i) EXPECT_EQ(login_as("gina", "wrong-password").status, 401);  // default: 10
  EXPECT_EQ(login_as("gina", gina.password).status, 200);
  std::atomic<int> not_401{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i)
    threads.emplace_back([&] {
      if (login_as("gina", "wrong-password").status != 401) ++not_401;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(not_401.load(), 0) << "no 503 without HASH_QUEUE, no 429 without the limits";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(register_as(unique_name("off")).status, 200);
  EXPECT_EQ(metric_value(port(), "chatrix_limited_login_username_total"), 0);
  EXPECT_EQ(metric_value(port(), "chatrix_hash_queue_full_total"), 0);
}

TEST_F(login_limits, failed_logins_are_logged_with_username_and_address_never_the_password) {
  start({{"LOGIN_FAILURE_LIMIT", "1/m"}});
  const std::string password = "hunter2-must-never-be-logged";
  ASSERT_EQ(http_request(port(), "POST", "/auth/register",
                         json::serialize(json::object{{"username", "Log_Victim"}, {"password", password}}))
                .status,
            200);
  EXPECT_EQ(login_as("Log_Victim", password + "-wrong").status, 401);
  expect_limited(login_as("log_victim", password));
  expect_limited(login_as("log_victim", password));
  // The limited answer is sent after its log line; poll only to let stderr reach the file.
  const std::string failed = "login failed: username \"Log_Victim\" from 127.0.0.1";
  const std::string limited = "rate limited: login for username \"log_victim\" from 127.0.0.1";
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string log = server_log();
  while ((log.find(limited) == std::string::npos) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    log = server_log();
  }
  EXPECT_NE(log.find(failed), std::string::npos) << log;
  EXPECT_NE(log.find(limited), std::string::npos) << log;
  EXPECT_EQ(log.find(limited), log.rfind(limited)) << "refusals of one key are logged once a minute";
  EXPECT_EQ(log.find("hunter2"), std::string::npos) << log;
}

}  // namespace
}  // namespace chatrix::test
