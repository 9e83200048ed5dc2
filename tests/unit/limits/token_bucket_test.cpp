// limits::token_bucket and limits::keyed_limiter with times handed in: bursts, the
// sustained rate, the wait they report, forgetting refilled keys, bounded memory.
#include "limits/keyed_limiter.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using chatrix::limits::keyed_limiter;
using chatrix::limits::rate;
using chatrix::limits::steady_time;
using chatrix::limits::token_bucket;

const steady_time t0{};

TEST(TokenBucket, BurstThenSustainedRate) {
  token_bucket b(rate{10, 1s}, 20, t0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(b.take(t0), 0ms) << i;
  const auto wait = b.take(t0);
  EXPECT_GE(wait, 100ms);  // one token every 100 ms
  EXPECT_LE(wait, 101ms);
  EXPECT_EQ(b.take(t0 + 100ms), 0ms);
  EXPECT_GT(b.take(t0 + 100ms), 0ms);
  EXPECT_EQ(b.take(t0 + 1100ms), 0ms);  // ten more a second later
}

TEST(TokenBucket, RefillsNoFurtherThanTheBurst) {
  token_bucket b(rate{1, 1s}, 3, t0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b.take(t0), 0ms);
  EXPECT_FALSE(b.full_at(t0 + 2s));
  EXPECT_TRUE(b.full_at(t0 + 3s));
  const auto later = t0 + 1h;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b.take(later), 0ms);
  EXPECT_GT(b.take(later), 0ms);
}

TEST(TokenBucket, GiveBackAndTimeGoingBackwards) {
  token_bucket b(rate{1, 1min}, 1, t0 + 10s);
  EXPECT_EQ(b.take(t0 + 10s), 0ms);
  EXPECT_GT(b.take(t0), 0ms);  // an earlier time adds nothing
  b.give_back();
  EXPECT_EQ(b.take(t0 + 10s), 0ms);
}

TEST(KeyedLimiter, KeysAreIndependentAndOffLetsAllThrough) {
  keyed_limiter l(rate{2, 1min});
  EXPECT_EQ(l.take("alice", t0), 0ms);
  EXPECT_EQ(l.take("alice", t0), 0ms);
  const auto wait = l.take("alice", t0);
  EXPECT_GE(wait, 29s);
  EXPECT_LE(wait, 31s);
  EXPECT_EQ(l.take("bob", t0), 0ms);
  EXPECT_EQ(l.peek("alice", t0 + 30s), 0ms);
  EXPECT_EQ(l.peek("carol", t0), 0ms);
  EXPECT_EQ(l.size(), 2u);  // peek adds nothing

  keyed_limiter off(rate{0, 1s});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(off.take("x", t0), 0ms);
  EXPECT_EQ(off.size(), 0u);
}

TEST(KeyedLimiter, MemoryStaysBoundedUnderAFloodOfKeys) {
  keyed_limiter l(rate{1, 1h}, 1, /*max_keys=*/100);
  for (int i = 0; i < 10'000; ++i) l.take("key" + std::to_string(i), t0);
  EXPECT_LE(l.size(), 100u);
  // Refilled buckets are the first to go: a later key costs nothing it should not.
  keyed_limiter r(rate{1, 1s}, 1, 2);
  r.take("a", t0);
  r.take("b", t0 + 500ms);
  r.take("c", t0 + 1200ms);  // "a" has refilled and is forgotten, "b" is kept
  EXPECT_GT(r.peek("b", t0 + 1200ms), 0ms);
  EXPECT_EQ(r.size(), 2u);
}

}  // namespace
