// notice_replay on its own: what is held, for how long, what a replay carries, and the
// receiver's repeat filter. Times are passed in, so no clock runs.
#include "cluster/redis/notice_replay.hpp"

#include "cluster/redis/event_codec.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using namespace chatrix::cluster;
using namespace chatrix::cluster::redis;
using namespace std::chrono_literals;

user_event notice(const std::string& what) {
  return user_event{7, user_event::kind::notice, 0, 0, std::make_shared<const std::string>(what)};
}

/// The notices a payload set carries, in order, with whether a hello came along.
struct replayed {
  std::vector<std::string> frames;
  bool hello = false;
};

replayed decode(const std::vector<std::string>& payloads) {
  replayed out;
  for (const auto& p : payloads) {
    auto res = decode_payload(
        p, [](user_event&&) { FAIL() << "a plain event in a replay"; }, [] { FAIL() << "a resync in a replay"; },
        [&](std::string_view origin, std::uint64_t, user_event&& ev) {
          EXPECT_EQ(origin, "node-a");
          out.frames.push_back(*ev.frame);
        },
        [&](std::string_view origin) {
          EXPECT_EQ(origin, "node-a");
          out.hello = true;
        });
    EXPECT_TRUE(res.ok);
  }
  return out;
}

constexpr chatrix::unix_ms t0 = 1'700'000'000'000;

TEST(NoticeReplay, HoldsNoticesNotMessages) {
  redis_bus_stats stats;
  notice_replay r({}, stats);
  r.hold(notice("receipt"), {}, t0);
  r.hold(user_event{7, user_event::kind::message, 1, 0, std::make_shared<const std::string>("text")}, {}, t0);
  EXPECT_EQ(r.held(), 1u);
  EXPECT_EQ(stats.notices_held, 1u);
}

TEST(NoticeReplay, OldestGoFirstBeyondTheBoundAndPastTheRetention) {
  redis_bus_stats stats;
  notice_replay r({.max_held = 3, .retention = 1000ms, .max_payload_bytes = 1 << 20}, stats);
  for (int i = 0; i < 5; ++i) r.hold(notice(std::to_string(i)), {}, t0 + i);
  EXPECT_EQ(r.held(), 3u);
  EXPECT_EQ(stats.notices_held_dropped, 2u);
  EXPECT_EQ(decode(r.payloads_for("node-b", "node-a", false)).frames, (std::vector<std::string>{"2", "3", "4"}));

  r.prune(t0 + 1003);  // "2" is 1001 ms old
  EXPECT_EQ(r.held(), 2u);
  r.prune(t0 + 10'000);
  EXPECT_EQ(r.held(), 0u);
  EXPECT_EQ(stats.notices_held_dropped, 5u);
}

TEST(NoticeReplay, ANodeGetsWhatWasRoutedNowhereAndWhatItMissed) {
  redis_bus_stats stats;
  notice_replay r({}, stats);
  r.hold(notice("everyone"), {}, t0);
  r.hold(notice("for b"), "node-b", t0);
  r.hold(notice("for c"), "node-c", t0);
  EXPECT_EQ(decode(r.payloads_for("node-b", "node-a", false)).frames, (std::vector<std::string>{"everyone", "for b"}));
  r.forget("node-b");  // it died
  EXPECT_EQ(decode(r.payloads_for("node-b", "node-a", false)).frames, (std::vector<std::string>{"everyone"}));
  EXPECT_EQ(stats.notices_replayed, 3u);
}

TEST(NoticeReplay, AHelloTravelsEvenWithNothingHeld) {
  redis_bus_stats stats;
  notice_replay r({}, stats);
  EXPECT_TRUE(r.payloads_for("node-b", "node-a", false).empty());
  const auto payloads = r.payloads_for("node-b", "node-a", true);
  ASSERT_EQ(payloads.size(), 1u);
  EXPECT_TRUE(decode(payloads).hello);
}

TEST(NoticeReplay, LongReplaysAreCutIntoSeveralPayloads) {
  redis_bus_stats stats;
  notice_replay r({.max_held = 100, .retention = 1000ms, .max_payload_bytes = 64}, stats);
  for (int i = 0; i < 20; ++i) r.hold(notice(std::string(20, static_cast<char>('a' + i))), {}, t0);
  const auto payloads = r.payloads_for("node-b", "node-a", true);
  EXPECT_GT(payloads.size(), 1u);
  const auto got = decode(payloads);
  ASSERT_EQ(got.frames.size(), 20u);
  EXPECT_EQ(got.frames.front(), std::string(20, 'a'));
  EXPECT_EQ(got.frames.back(), std::string(20, 't'));
  EXPECT_TRUE(got.hello);
}

TEST(NoticeReplay, EachReplayedNoticeIsHandedOverOnce) {
  redis_bus_stats stats;
  notice_replay r({}, stats);
  EXPECT_TRUE(r.first_sight("node-b", 1));
  EXPECT_TRUE(r.first_sight("node-b", 2));
  EXPECT_FALSE(r.first_sight("node-b", 2));
  EXPECT_FALSE(r.first_sight("node-b", 1));
  EXPECT_TRUE(r.first_sight("node-c", 1)) << "seqs are per origin";
}

TEST(NoticeReplay, DeferredHellosAreTakenOnce) {
  redis_bus_stats stats;
  notice_replay r({}, stats);
  r.defer_hello("node-b");
  r.defer_hello("node-b");
  EXPECT_EQ(r.take_deferred_hellos().size(), 1u);
  EXPECT_TRUE(r.take_deferred_hellos().empty());
}

}  // namespace
