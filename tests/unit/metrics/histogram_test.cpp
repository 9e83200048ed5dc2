// The hot-path histogram: which bucket an observation lands in (bounds are inclusive, the
// +Inf bucket takes the rest), the integer sum, and durations kept in nanoseconds.
#include "metrics/histogram.hpp"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

namespace chatrix::metrics {
namespace {

constexpr std::array<std::uint64_t, 3> bounds{10, 20, 40};

TEST(histogram, an_observation_on_a_bound_counts_in_that_bucket_and_above_the_last_in_inf) {
  histogram h(bounds, 1);
  for (std::uint64_t v : {0, 10, 11, 20, 40, 41, 1'000'000}) h.observe(v);
  const auto s = h.read();
  ASSERT_EQ(s.bounds.size(), 3u);
  EXPECT_EQ(s.counts[0], 2u);  // 0, 10
  EXPECT_EQ(s.counts[1], 2u);  // 11, 20
  EXPECT_EQ(s.counts[2], 1u);  // 40
  EXPECT_EQ(s.counts[3], 2u);  // 41, 1'000'000 (+Inf)
  EXPECT_EQ(s.count(), 7u);
  EXPECT_EQ(s.sum, 0u + 10 + 11 + 20 + 40 + 41 + 1'000'000);
}

TEST(histogram, durations_are_kept_in_nanoseconds_and_exposed_in_seconds) {
  latency_histogram h;
  h.observe(std::chrono::microseconds(100));  // exactly the first bound
  h.observe(std::chrono::milliseconds(3));
  h.observe(std::chrono::seconds(30));
  h.observe(std::chrono::steady_clock::duration(-5));  // a clock that went back counts as 0
  const auto s = h.read();
  EXPECT_EQ(s.units_per_base, 1e9);
  EXPECT_EQ(s.counts[0], 2u);
  EXPECT_EQ(s.counts[5], 1u);  // (2.5 ms, 5 ms]
  EXPECT_EQ(s.counts[latency_bounds_ns.size()], 1u);
  EXPECT_EQ(s.sum, 100'000u + 3'000'000u + 30'000'000'000u);
}

TEST(histogram, observe_since_measures_a_positive_time) {
  latency_histogram h;
  const auto start = std::chrono::steady_clock::now();
  h.observe_since(start);
  EXPECT_EQ(h.read().count(), 1u);
}

TEST(histogram, batch_sizes_up_to_the_stores_largest_batch_have_a_bucket_each_power_of_two) {
  batch_histogram h;
  h.observe(1);
  h.observe(3);
  h.observe(1024);
  h.observe(1025);
  const auto s = h.read();
  EXPECT_EQ(s.counts[0], 1u);
  EXPECT_EQ(s.counts[2], 1u);  // (2, 4]
  EXPECT_EQ(s.counts[10], 1u);  // (512, 1024]
  EXPECT_EQ(s.counts[11], 1u);  // +Inf
}

TEST(histogram, concurrent_observations_are_all_counted) {
  histogram h(bounds, 1);
  constexpr int threads = 4, each = 10'000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&h] {
      for (int i = 0; i < each; ++i) h.observe(static_cast<std::uint64_t>(i % 50));
    });
  for (auto& t : pool) t.join();
  const auto s = h.read();
  EXPECT_EQ(s.count(), static_cast<std::uint64_t>(threads) * each);
  std::uint64_t expected_sum = 0;
  for (int i = 0; i < each; ++i) expected_sum += static_cast<std::uint64_t>(i % 50);
  EXPECT_EQ(s.sum, expected_sum * threads);
}

}  // namespace
}  // namespace chatrix::metrics
