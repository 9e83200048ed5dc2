// The login and registration rules without a server: the local limiter (exact, on a fake
// clock), the keys addresses and usernames are limited and logged by, and login_guard's
// decisions (which limit refuses, what a right password gives back, the hash queue).
#include "chat/login_guard.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <optional>

namespace {

namespace asio = boost::asio;
using namespace chatrix;
using namespace chatrix::chat;
using namespace std::chrono_literals;

/// Runs `op` to completion on a fresh io_context and returns its result.
template <class T>
T run(asio::awaitable<T> op) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out.emplace(std::move(value));
  });
  io.run();
  return std::move(out.value());
}

TEST(LocalLoginLimiter, BurstThenRefillsAtTheRate) {
  limits::steady_time now{};
  local_login_limiter limiter({3, 1min}, [&] { return now; });
  for (int i = 0; i < 3; ++i) EXPECT_EQ(run(limiter.take("k")), 0ms);
  const auto wait = run(limiter.take("k"));
  EXPECT_GT(wait, 19s);
  EXPECT_LE(wait, 20s + 1ms);
  now += wait;
  EXPECT_EQ(run(limiter.take("k")), 0ms) << "refilled after the wait it announced";
  EXPECT_GT(run(limiter.take("k")), 0ms);
  EXPECT_EQ(run(limiter.take("other")), 0ms);
}

TEST(LocalLoginLimiter, GiveBackAndOff) {
  limits::steady_time now{};
  local_login_limiter limiter({1, 1h}, [&] { return now; });
  EXPECT_EQ(run(limiter.take("k")), 0ms);
  EXPECT_GT(run(limiter.take("k")), 0ms);
  limiter.give_back("k");
  EXPECT_EQ(run(limiter.take("k")), 0ms);

  local_login_limiter off({0, 1s}, [&] { return now; });
  EXPECT_TRUE(off.off());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(run(off.take("k")), 0ms);
}

TEST(AddressLimitKey, IPv6CountsAsItsSlash64) {
  EXPECT_EQ(address_limit_key("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(address_limit_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(address_limit_key("2001:db8:1:2::1"), address_limit_key("2001:db8:1:2:ffff::9"));
  EXPECT_NE(address_limit_key("2001:db8:1:2::1"), address_limit_key("2001:db8:1:3::1"));
  EXPECT_EQ(address_limit_key("::ffff:203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(address_limit_key(""), "");
  EXPECT_EQ(address_limit_key("not an address"), "not an address");
}

TEST(LoggableUsername, PrintableEscapedAndTruncated) {
  EXPECT_EQ(loggable_username("Alice_1"), "Alice_1");
  EXPECT_EQ(loggable_username("a\nb\"c\\d\x01\xff"), "a\\x0ab\\\"c\\\\d\\x01\\xff");
  const auto shown = loggable_username(std::string(300, 'x'));
  EXPECT_EQ(shown, std::string(64, 'x') + "...");
}

class LoginGuard : public ::testing::Test {
 protected:
  login_guard make(limits::rate failures, limits::rate addresses, limits::rate registrations, std::size_t hash_queue) {
    return login_guard(local_login_limits(failures, addresses, registrations), hash_queue, metrics_);
  }
  static void expect_limited(const result<login_attempt>& r) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::rate_limited);
    EXPECT_GT(r.error().retry_after_ms, 0);
  }
  metrics::server_metrics metrics_;
};

TEST_F(LoginGuard, OnlyFailuresUseUpTheUsernameBudget) {
  auto guard = make({2, 1min}, {0, 1s}, {0, 1s}, 0);
  for (int i = 0; i < 5; ++i) {  // right passwords give their token back
    auto ok = run(guard.admit_login("alice", "198.51.100.1"));
    ASSERT_TRUE(ok);
    guard.released(*ok);
  }
  for (int i = 0; i < 2; ++i) {
    auto wrong = run(guard.admit_login("alice", "198.51.100.1"));
    ASSERT_TRUE(wrong);
    guard.failed(*wrong);
  }
  // Case-folded like usernames, from any address, and whether the right password follows or not.
  expect_limited(run(guard.admit_login("ALICE", "198.51.100.99")));
  EXPECT_EQ(metrics_.login_failures, 2u);
  EXPECT_EQ(metrics_.limited_login_username, 1u);
  EXPECT_TRUE(run(guard.admit_login("bob", "198.51.100.1"))) << "other usernames are not affected";
}

TEST_F(LoginGuard, ParallelGuessesCannotOverrunTheBudget) {
  auto guard = make({2, 1min}, {0, 1s}, {0, 1s}, 0);
  auto first = run(guard.admit_login("carol", "a"));
  auto second = run(guard.admit_login("carol", "a"));
  ASSERT_TRUE(first && second);
  expect_limited(run(guard.admit_login("carol", "a")));  // neither has failed yet
}

TEST_F(LoginGuard, AddressLimitCountsEveryAttempt) {
  auto guard = make({0, 1s}, {3, 1min}, {0, 1s}, 0);
  for (const char* user : {"u1", "u2", "u3"}) {
    auto a = run(guard.admit_login(user, "2001:db8::1"));
    ASSERT_TRUE(a);
    guard.released(*a);
  }
  expect_limited(run(guard.admit_login("u4", "2001:db8::2")));  // same /64
  EXPECT_EQ(metrics_.limited_login_address, 1u);
  EXPECT_TRUE(run(guard.admit_login("u4", "198.51.100.1")));
}

TEST_F(LoginGuard, HashQueueFullIsOverloadedAndCostsNoFailure) {
  auto guard = make({1, 1min}, {0, 1s}, {0, 1s}, 1);
  auto holding = run(guard.admit_login("dave", "a"));
  ASSERT_TRUE(holding);
  EXPECT_EQ(guard.hashes_in_flight(), 1u);
  auto refused = run(guard.admit_login("erin", "a"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::overloaded);
  EXPECT_EQ(metrics_.hash_queue_full, 1u);
  auto refused_reg = run(guard.admit_registration("a"));
  ASSERT_FALSE(refused_reg);
  EXPECT_EQ(refused_reg.error().code, errc::overloaded);
  guard.failed(*holding);
  EXPECT_EQ(guard.hashes_in_flight(), 0u);
  // erin's 503 took nothing from her budget of one failure.
  auto erin = run(guard.admit_login("erin", "a"));
  ASSERT_TRUE(erin);
  guard.failed(*erin);
  expect_limited(run(guard.admit_login("erin", "a")));
}

TEST_F(LoginGuard, RegistrationsCountOnlyAccountsCreated) {
  auto guard = make({0, 1s}, {0, 1s}, {2, 1h}, 0);
  auto taken = run(guard.admit_registration("a"));
  ASSERT_TRUE(taken);
  guard.not_created(*taken);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(run(guard.admit_registration("a")));
  auto refused = run(guard.admit_registration("a"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::rate_limited);
  EXPECT_GT(refused.error().retry_after_ms, 29 * 60 * 1000);  // one registration per 30 min
  EXPECT_EQ(metrics_.limited_register, 1u);
}

}  // namespace
