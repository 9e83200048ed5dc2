// The per-connection limits on exact, injected times: bursts, the sustained rate, the flood
// rule's "in a row", and the read limits.
#include "chat/device_limits.hpp"

#include <gtest/gtest.h>

using namespace chatrix;
using chat::device_limit_options;
using chat::device_limits;
using outcome = device_limits::text_outcome;
using std::chrono::milliseconds;

namespace {

const limits::steady_time t0{std::chrono::hours(1000)};

device_limit_options texts(std::uint64_t per_second, std::uint64_t burst, std::uint64_t flood_limit) {
  device_limit_options o;
  o.message_rate = {per_second, std::chrono::seconds(1)};
  o.message_burst = burst;
  o.message_flood_limit = flood_limit;
  return o;
}

}  // namespace

TEST(device_limits, a_burst_passes_then_the_next_waits_for_its_token) {
  device_limits l(texts(5, 5, 0), t0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(l.take_text(t0).outcome, outcome::accepted) << i;
  const auto sixth = l.take_text(t0);
  EXPECT_EQ(sixth.outcome, outcome::refused);
  // 5/s: one token every 200 ms (plus the bucket's rounding up).
  EXPECT_GE(sixth.retry_after, milliseconds(200));
  EXPECT_LE(sixth.retry_after, milliseconds(201));
  EXPECT_EQ(l.take_text(t0 + milliseconds(100)).outcome, outcome::refused);
  EXPECT_EQ(l.take_text(t0 + sixth.retry_after).outcome, outcome::accepted);
}

TEST(device_limits, the_sustained_rate_passes_for_ever) {
  device_limits l(texts(1000, 10, 1), t0);
  // Exactly 1000/s for 10 s, after the burst was used up.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(l.take_text(t0).outcome, outcome::accepted);
  for (int ms = 1; ms <= 10'000; ++ms) ASSERT_EQ(l.take_text(t0 + milliseconds(ms)).outcome, outcome::accepted) << ms;
}

TEST(device_limits, a_client_that_ignores_the_refusals_is_flooding_past_the_limit) {
  device_limits l(texts(1000, 1, 30), t0);
  ASSERT_EQ(l.take_text(t0).outcome, outcome::accepted);
  // Ten TEXTs a millisecond: a token comes back every millisecond, so some slip through, but
  // nine of ten are refused while the refusals' own allowance grows by one a millisecond.
  int refused = 0, slipped_through = 0;
  device_limits::text_verdict v;
  for (int i = 1; v.outcome != outcome::flooding && i < 10'000; ++i) {
    v = l.take_text(t0 + std::chrono::microseconds(100 * i));
    ++(v.outcome == outcome::accepted ? slipped_through : refused);
  }
  EXPECT_EQ(v.outcome, outcome::flooding);
  // Thirty at once, a few more refilled on the way (about 4 ms), then the cut-off.
  EXPECT_GE(refused, 31);
  EXPECT_LE(refused, 40);
  EXPECT_GE(slipped_through, 2);
  EXPECT_GT(v.retry_after, milliseconds(0));
}

TEST(device_limits, a_client_that_waits_as_told_is_never_cut_off) {
  device_limits l(texts(10, 1, 2), t0);
  auto now = t0;
  for (int round = 0; round < 1000; ++round) {
    ASSERT_EQ(l.take_text(now).outcome, outcome::accepted) << round;
    const auto v = l.take_text(now);
    ASSERT_EQ(v.outcome, outcome::refused) << round;
    now += v.retry_after;
  }
}

TEST(device_limits, refusals_no_faster_than_the_rate_are_never_cut_off) {
  // Twice the rate for ten seconds: every other TEXT refused, a thousand refusals a second.
  device_limits l(texts(1000, 1, 5), t0);
  int refused = 0;
  for (int us = 0; us < 10'000'000; us += 500) {
    const auto v = l.take_text(t0 + std::chrono::microseconds(us));
    ASSERT_NE(v.outcome, outcome::flooding) << us;
    refused += v.outcome == outcome::refused;
  }
  EXPECT_GE(refused, 9'000);
}

TEST(device_limits, refusals_past_the_limit_at_once_cut_off) {
  device_limits l(texts(1, 1, 3), t0);
  ASSERT_EQ(l.take_text(t0).outcome, outcome::accepted);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(l.take_text(t0).outcome, outcome::refused) << i;
  EXPECT_EQ(l.take_text(t0).outcome, outcome::flooding);
}

TEST(device_limits, flood_limit_zero_never_disconnects) {
  device_limits l(texts(1, 1, 0), t0);
  ASSERT_EQ(l.take_text(t0).outcome, outcome::accepted);
  for (int i = 0; i < 100'000; ++i) ASSERT_EQ(l.take_text(t0).outcome, outcome::refused);
}

TEST(device_limits, rate_zero_turns_the_text_limit_off) {
  device_limits l(texts(0, 1, 1), t0);
  for (int i = 0; i < 100'000; ++i) ASSERT_EQ(l.take_text(t0).outcome, outcome::accepted);
}

TEST(device_limits, searches_and_history_have_buckets_of_their_own) {
  device_limit_options o;
  o.search_limit = {2, std::chrono::seconds(1)};
  o.history_limit = {3, std::chrono::minutes(1)};
  device_limits l(o, t0);
  EXPECT_EQ(l.take_search(t0), milliseconds(0));
  EXPECT_EQ(l.take_search(t0), milliseconds(0));
  EXPECT_EQ(l.take_search(t0), milliseconds(501));  // one token each 500 ms, rounded up
  for (int i = 0; i < 3; ++i) EXPECT_EQ(l.take_history(t0), milliseconds(0));
  EXPECT_EQ(l.take_history(t0), milliseconds(20'001));
  // TEXTs are untouched by either.
  EXPECT_EQ(l.take_text(t0).outcome, outcome::accepted);
  EXPECT_EQ(l.take_search(t0 + milliseconds(501)), milliseconds(0));
}

TEST(device_limits, zero_turns_the_read_limits_off) {
  device_limit_options o;
  o.search_limit = {};
  o.history_limit = {};
  device_limits l(o, t0);
  for (int i = 0; i < 10'000; ++i) {
    ASSERT_EQ(l.take_search(t0), milliseconds(0));
    ASSERT_EQ(l.take_history(t0), milliseconds(0));
  }
}

TEST(device_limits, typing_has_a_bucket_of_its_own) {
  device_limit_options o;
  o.typing_limit = {2, std::chrono::seconds(1)};
  device_limits l(o, t0);
  EXPECT_EQ(l.take_typing(t0), milliseconds(0));
  EXPECT_EQ(l.take_typing(t0), milliseconds(0));
  EXPECT_GT(l.take_typing(t0), milliseconds(0));
  // Texts and reads are not charged for it.
  EXPECT_EQ(l.take_text(t0).outcome, outcome::accepted);
  EXPECT_EQ(l.take_search(t0), milliseconds(0));
  EXPECT_EQ(l.take_typing(t0 + milliseconds(500)), milliseconds(0));
  o.typing_limit = {};
  device_limits off(o, t0);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(off.take_typing(t0), milliseconds(0));
}

TEST(device_limits, one_warning_a_minute) {
  device_limits l(device_limit_options{}, t0);
  EXPECT_TRUE(l.warning_due(t0));
  EXPECT_FALSE(l.warning_due(t0 + std::chrono::seconds(59)));
  EXPECT_TRUE(l.warning_due(t0 + std::chrono::seconds(60)));
  EXPECT_FALSE(l.warning_due(t0 + std::chrono::seconds(61)));
}

TEST(left_over_buckets, a_new_connection_goes_on_from_what_the_closed_one_left) {
  chat::left_over_buckets left;
  device_limits flooded(texts(10, 3, 0), t0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(flooded.take_text(t0).outcome, outcome::accepted);
  left.keep(7, flooded, t0);
  ASSERT_EQ(left.size(), 1u);

  device_limits next(texts(10, 3, 0), t0 + milliseconds(50));
  left.resume(7, next, t0 + milliseconds(50));
  EXPECT_EQ(next.take_text(t0 + milliseconds(50)).outcome, outcome::refused);  // no fresh burst
  EXPECT_EQ(next.take_text(t0 + milliseconds(101)).outcome, outcome::accepted);
  EXPECT_EQ(left.size(), 0u) << "taken once";

  // Another user, and a later connection of the same one, start full.
  device_limits other(texts(10, 3, 0), t0);
  left.resume(8, other, t0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(other.take_text(t0).outcome, outcome::accepted);
}

TEST(left_over_buckets, a_refilled_bucket_is_forgotten_and_the_table_is_bounded) {
  chat::left_over_buckets left(3);
  device_limits used(texts(10, 3, 0), t0);
  ASSERT_EQ(used.take_text(t0).outcome, outcome::accepted);
  left.keep(1, used, t0 + std::chrono::seconds(1));  // refilled by then: nothing to keep
  EXPECT_EQ(left.size(), 0u);
  for (user_id u = 1; u <= 10; ++u) left.keep(u, used, t0);
  EXPECT_LE(left.size(), 3u);
  // Limits turned off leave nothing either.
  left.keep(20, device_limits(texts(0, 1, 0), t0), t0);
  EXPECT_LE(left.size(), 3u);
}
