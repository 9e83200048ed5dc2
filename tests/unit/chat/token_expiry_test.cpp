// token_expiry: deadlines come due in order, only the current one of each device counts, and
// refreshes cannot grow the heap without bound.
#include "chat/token_expiry.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <map>
#include <vector>

using namespace chatrix;

namespace {

class settable_clock final : public clock {
 public:
  std::chrono::system_clock::time_point now() const override { return t; }
  std::chrono::system_clock::time_point t{std::chrono::seconds(1'714'521'600)};
  std::int64_t seconds() const { return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count(); }
};

class token_expiry_test : public ::testing::Test {
 protected:
  void run() {
    io_.restart();
    io_.poll();
  }
  boost::asio::io_context io_;
  settable_clock clock_;
  std::map<std::uint64_t, std::int64_t> deadlines_;  // the devices' current deadlines
  std::vector<std::uint64_t> expired_;
  chat::token_expiry expiry_{
      io_.get_executor(), clock_,
      [this](std::uint64_t d, std::int64_t at) { return deadlines_.contains(d) && deadlines_[d] == at; },
      [this](std::uint64_t d) {
        expired_.push_back(d);
        deadlines_.erase(d);
      }};

  void watch(std::uint64_t device, std::int64_t at) {
    deadlines_[device] = at;
    expiry_.watch(device, at);
  }
};

TEST_F(token_expiry_test, due_deadlines_expire_their_devices_in_order_and_the_others_wait) {
  const auto now = clock_.seconds();
  watch(1, now + 5);
  watch(2, now - 1);
  watch(3, now);
  watch(4, now + 3600);
  run();
  EXPECT_EQ(expired_, (std::vector<std::uint64_t>{2, 3}));
}

TEST_F(token_expiry_test, a_moved_or_dropped_deadline_does_not_expire_its_device) {
  const auto now = clock_.seconds();
  watch(1, now);
  watch(1, now + 3600);  // refreshed before it came up
  watch(2, now);
  deadlines_.erase(2);  // gone
  run();
  EXPECT_TRUE(expired_.empty());
}

TEST_F(token_expiry_test, refreshing_again_and_again_keeps_the_heap_bounded) {
  const auto now = clock_.seconds();
  for (std::uint64_t d = 1; d <= 10; ++d) watch(d, now + 3600);
  for (int i = 0; i < 10'000; ++i) watch(1 + i % 10, now + 3600 + i);
  EXPECT_LE(expiry_.entries(), 2 * 10u + 64u);
  EXPECT_TRUE(expired_.empty());
}

}  // namespace
