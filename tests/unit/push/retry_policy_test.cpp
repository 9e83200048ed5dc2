// The retry schedule (1 s doubling, capped at 60 s, 8 attempts) and which answers are retried.
#include "push/retry_policy.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace chatrix::push {
namespace {

using namespace std::chrono_literals;

TEST(push_retry_policy, backoff_doubles_from_one_second_up_to_sixty) {
  const retry_policy p;
  std::vector<std::chrono::milliseconds> delays;
  for (int failed = 1; failed <= 9; ++failed) delays.push_back(p.delay_after(failed));
  const std::vector<std::chrono::milliseconds> expected{1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s, 60s};
  EXPECT_EQ(delays, expected);
  EXPECT_EQ(p.delay_after(1000), 60s);
}

TEST(push_retry_policy, at_most_eight_attempts) {
  const retry_policy p;
  for (int failed = 1; failed < 8; ++failed) EXPECT_TRUE(p.may_retry(failed)) << failed;
  EXPECT_FALSE(p.may_retry(8));
  EXPECT_FALSE(p.may_retry(9));
}

TEST(push_retry_policy, which_answers_are_retried) {
  EXPECT_EQ(classify(200), attempt_outcome::sent);
  EXPECT_EQ(classify(202), attempt_outcome::sent);
  EXPECT_EQ(classify(204), attempt_outcome::sent);
  EXPECT_EQ(classify(0), attempt_outcome::retry);  // network error, timeout
  EXPECT_EQ(classify(408), attempt_outcome::retry);
  EXPECT_EQ(classify(429), attempt_outcome::retry);
  EXPECT_EQ(classify(500), attempt_outcome::retry);
  EXPECT_EQ(classify(502), attempt_outcome::retry);
  EXPECT_EQ(classify(503), attempt_outcome::retry);
  EXPECT_EQ(classify(400), attempt_outcome::refused);
  EXPECT_EQ(classify(401), attempt_outcome::refused);
  EXPECT_EQ(classify(404), attempt_outcome::refused);
  EXPECT_EQ(classify(410), attempt_outcome::refused);
  EXPECT_EQ(classify(301), attempt_outcome::refused);
}

}  // namespace
}  // namespace chatrix::push
