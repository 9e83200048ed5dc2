// redis_limiter against a real redis-server: one bucket per key shared by two nodes' limiters,
// tokens given back, the key's expiry, and the local fallback while Redis is down.
#include "cluster/redis/redis_limiter.hpp"

#include "redis_instance.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace {

namespace asio = boost::asio;
using namespace chatrix::cluster::redis;
using chatrix::chat::local_login_limiter;
using chatrix::limits::rate;
using chatrix::test::redis_instance;
using chatrix::test::run_until;
using namespace std::chrono_literals;

class RedisLimiter : public ::testing::Test {
 protected:
  /// A limiter as one node would have it: its own link, a local fallback of `limit`.
  std::unique_ptr<redis_limiter> node_limiter(rate limit) {
    auto link = std::make_shared<limiter_link>(io_.get_executor(), limiter_options{redis_.parsed_address()});
    EXPECT_TRUE(run_until(io_, [&] { return link->connection().is_up(); }));
    return std::make_unique<redis_limiter>(link, "test", std::make_unique<local_login_limiter>(limit));
  }

  std::chrono::milliseconds take(redis_limiter& limiter, const std::string& key) {
    std::optional<std::chrono::milliseconds> wait;
    asio::co_spawn(io_, limiter.take(key), [&](std::exception_ptr e, std::chrono::milliseconds w) {
      if (e) std::rethrow_exception(e);
      wait = w;
    });
    EXPECT_TRUE(run_until(io_, [&] { return wait.has_value(); }));
    return wait.value_or(-1ms);
  }

  redis_instance redis_;
  asio::io_context io_;
};

TEST_F(RedisLimiter, NodesShareOneBucketPerKey) {
  const rate three_a_minute{3, 1min};
  auto a = node_limiter(three_a_minute);
  auto b = node_limiter(three_a_minute);
  EXPECT_EQ(take(*a, "alice"), 0ms);
  EXPECT_EQ(take(*b, "alice"), 0ms);
  EXPECT_EQ(take(*a, "alice"), 0ms);
  const auto wait = take(*b, "alice");
  EXPECT_GT(wait, 0ms);
  EXPECT_LE(wait, 20s + 1ms);  // one token comes back every 20 s
  EXPECT_EQ(take(*a, "bob"), 0ms) << "another key has a bucket of its own";
}

TEST_F(RedisLimiter, GivenBackTokensCountOnEveryNode) {
  auto a = node_limiter({1, 1min});
  auto b = node_limiter({1, 1min});
  EXPECT_EQ(take(*a, "carol"), 0ms);
  EXPECT_GT(take(*b, "carol"), 0ms);
  b->give_back("carol");
  // The give-back is not awaited (and went over b's link): the bucket is full once Redis has it.
  ASSERT_TRUE(run_until(io_, [&] { return redis_.command({"EXISTS", "chatrix:limit:test:carol"}).integer == 0; }));
  EXPECT_EQ(take(*a, "carol"), 0ms);
}

TEST_F(RedisLimiter, KeysExpireOnceTheirBucketIsFullAgain) {
  auto a = node_limiter({2, 10s});
  EXPECT_EQ(take(*a, "dave"), 0ms);
  const auto ttl = redis_.command({"PTTL", "chatrix:limit:test:dave"});
  EXPECT_GT(ttl.integer, 0);
  EXPECT_LE(ttl.integer, 5000);  // one token missing: refilled in 5 s
  a->give_back("dave");
  EXPECT_TRUE(run_until(io_, [&] { return redis_.command({"EXISTS", "chatrix:limit:test:dave"}).integer == 0; }))
      << "a full bucket is deleted";
}

TEST_F(RedisLimiter, OffTakesNothing) {
  auto a = node_limiter({0, 1min});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(take(*a, "erin"), 0ms);
  EXPECT_EQ(redis_.command({"EXISTS", "chatrix:limit:test:erin"}).integer, 0);
}

TEST_F(RedisLimiter, CountsLocallyWhileRedisIsDown) {
  auto a = node_limiter({2, 1min});
  redis_.stop();
  // Whether the drop is noticed before or during the command, the answer comes from the
  // local bucket: never an error, never everyone let through.
  EXPECT_EQ(take(*a, "frank"), 0ms);
  EXPECT_EQ(take(*a, "frank"), 0ms);
  EXPECT_GT(take(*a, "frank"), 0ms);
}

}  // namespace
