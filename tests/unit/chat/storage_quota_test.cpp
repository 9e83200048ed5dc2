// The daily storage quota on injected times: the limit, the UTC day boundary, refunds and
// the bounded table.
#include "chat/storage_quota.hpp"

#include <gtest/gtest.h>

using namespace chatrix;
using chat::storage_quota;
using std::chrono::milliseconds;

namespace {

constexpr unix_ms day = 24LL * 60 * 60 * 1000;
// 2026-12-06 00:00:00 UTC.
constexpr unix_ms midnight = 20'793 * day;

}  // namespace

TEST(storage_quota, charges_up_to_the_quota_and_refuses_beyond_until_midnight) {
  storage_quota q(1000);
  const unix_ms now = midnight + 15 * 60 * 60 * 1000;  // 15:00 UTC
  EXPECT_EQ(q.charge(1, 600, now), milliseconds(0));
  EXPECT_EQ(q.charge(1, 400, now), milliseconds(0));  // exactly the quota
  EXPECT_EQ(q.charge(1, 1, now), milliseconds(9 * 60 * 60 * 1000));
  // Another user has a quota of its own.
  EXPECT_EQ(q.charge(2, 1000, now), milliseconds(0));
}

TEST(storage_quota, a_message_that_would_pass_the_quota_is_refused_whole) {
  storage_quota q(1000);
  EXPECT_EQ(q.charge(1, 900, midnight), milliseconds(0));
  EXPECT_EQ(q.charge(1, 200, midnight + 1), milliseconds(day - 1));
  // The refused message took nothing: a smaller one still fits.
  EXPECT_EQ(q.charge(1, 100, midnight + 2), milliseconds(0));
  // Larger than the whole quota: never, and no overflow on the way.
  storage_quota small(10);
  EXPECT_GT(small.charge(1, ~std::uint64_t{0}, midnight), milliseconds(0));
}

TEST(storage_quota, the_count_starts_again_at_utc_midnight) {
  storage_quota q(1000);
  EXPECT_EQ(q.charge(1, 1000, midnight + day - 1), milliseconds(0));
  EXPECT_EQ(q.charge(1, 1, midnight + day - 1), milliseconds(1));
  EXPECT_EQ(q.charge(1, 1000, midnight + day), milliseconds(0));
  // A clock stepping back over midnight does not bring yesterday's count back.
  EXPECT_EQ(q.charge(1, 1, midnight + day - 5), milliseconds(5 + day));
}

TEST(storage_quota, refunds_give_back_what_was_not_stored_today_only) {
  storage_quota q(1000);
  ASSERT_EQ(q.charge(1, 1000, midnight + 10), milliseconds(0));
  q.refund(1, 300, midnight + 10);
  EXPECT_EQ(q.charge(1, 300, midnight + 20), milliseconds(0));
  EXPECT_GT(q.charge(1, 1, midnight + 20), milliseconds(0));
  // A refund never takes the count below zero.
  q.refund(1, 5000, midnight + 30);
  EXPECT_EQ(q.charge(1, 1000, midnight + 40), milliseconds(0));
  // Yesterday's charge is not refunded into today's count.
  q.refund(1, 1000, midnight - 1);
  EXPECT_GT(q.charge(1, 1, midnight + 50), milliseconds(0));
}

TEST(storage_quota, zero_is_off) {
  storage_quota q(0);
  EXPECT_TRUE(q.off());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(q.charge(1, 1 << 20, midnight), milliseconds(0));
  EXPECT_EQ(q.size(), 0u);
}

TEST(storage_quota, a_full_table_forgets_the_lighter_half_first) {
  storage_quota q(1000, 4);
  ASSERT_EQ(q.charge(1, 900, midnight), milliseconds(0));
  ASSERT_EQ(q.charge(2, 10, midnight), milliseconds(0));
  ASSERT_EQ(q.charge(3, 800, midnight), milliseconds(0));
  ASSERT_EQ(q.charge(4, 20, midnight), milliseconds(0));
  ASSERT_EQ(q.size(), 4u);
  ASSERT_EQ(q.charge(5, 1, midnight), milliseconds(0));  // full: users 2 and 4 are forgotten
  EXPECT_EQ(q.size(), 3u);
  // The heavy users kept their counts; the forgotten light ones start afresh.
  EXPECT_GT(q.charge(1, 101, midnight), milliseconds(0));
  EXPECT_GT(q.charge(3, 201, midnight), milliseconds(0));
  EXPECT_EQ(q.charge(2, 1000, midnight), milliseconds(0));
  for (user_id u = 100; u < 10'000; ++u) ASSERT_EQ(q.charge(u, 1, midnight), milliseconds(0));
  EXPECT_LE(q.size(), 4u);
}
