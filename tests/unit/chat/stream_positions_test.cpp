// stream_positions: what a device has had, as a watermark plus the few positions above it.
#include "chat/stream_positions.hpp"

#include <gtest/gtest.h>

namespace {

using chatrix::chat::stream_positions;

TEST(stream_positions, nothing_counts_before_start_and_pos_zero_never) {
  stream_positions p;
  EXPECT_TRUE(p.take(5));
  EXPECT_TRUE(p.take(5));
  EXPECT_FALSE(p.had(5));
  p.have_through(10);
  EXPECT_TRUE(p.take(0));
  EXPECT_TRUE(p.take(0));
}

TEST(stream_positions, the_watermark_follows_contiguous_positions) {
  stream_positions p;
  p.have_through(10);
  EXPECT_TRUE(p.had(10));
  EXPECT_FALSE(p.take(3));
  EXPECT_TRUE(p.take(12));  // 11 not yet: 12 waits above
  EXPECT_EQ(p.through(), 10);
  EXPECT_FALSE(p.take(12));
  EXPECT_TRUE(p.take(11));
  EXPECT_EQ(p.through(), 12);
  EXPECT_FALSE(p.take(11));
}

TEST(stream_positions, a_later_mark_keeps_what_was_had_above_it) {
  stream_positions p;
  p.have_through(10);
  EXPECT_TRUE(p.take(15));
  p.have_through(12);  // SYNCED at 12 while 15 was had already (the device's own message)
  EXPECT_EQ(p.through(), 12);
  EXPECT_TRUE(p.had(15));
  EXPECT_TRUE(p.take(13));
  EXPECT_TRUE(p.take(14));
  EXPECT_EQ(p.through(), 15);
  p.have_through(3);  // never backwards
  EXPECT_EQ(p.through(), 15);
}

TEST(stream_positions, past_capacity_the_oldest_gap_is_given_up) {
  stream_positions p;
  p.have_through(0);
  // Position 1 never comes; 2 .. capacity+2 wait above it until there are too many.
  for (chatrix::stream_pos pos = 2; pos <= static_cast<chatrix::stream_pos>(stream_positions::capacity) + 1; ++pos)
    EXPECT_TRUE(p.take(pos));
  EXPECT_EQ(p.through(), 0);
  EXPECT_TRUE(p.take(static_cast<chatrix::stream_pos>(stream_positions::capacity) + 2));
  EXPECT_EQ(p.through(), static_cast<chatrix::stream_pos>(stream_positions::capacity) + 2);
  EXPECT_TRUE(p.had(1)) << "given up for had";
}

}  // namespace
