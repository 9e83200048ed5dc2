// remote_presence: a node's snapshot becomes the changes it implies against what its updates
// said, and a node that left is forgotten.
#include "cluster/redis/remote_presence.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace chatrix::cluster;
using namespace chatrix::cluster::redis;

std::vector<presence_update> snapshot(remote_presence& rp, const std::string& node, std::vector<presence_update> users,
                                      chatrix::unix_ms now) {
  rp.begin_snapshot(node);
  for (const auto& u : users) rp.add_to_snapshot(node, u);
  return rp.end_snapshot(node, now);
}

TEST(RemotePresence, ASnapshotYieldsOfflineForUsersItNoLongerListsThenOnlineForNewOnes) {
  remote_presence rp;
  rp.apply("b", {1, true, 10});
  rp.apply("b", {2, true, 11});
  rp.apply("b", {3, true, 12});
  rp.apply("b", {3, false, 13});
  EXPECT_EQ(rp.online_on("b"), 2u);
  // Missed meanwhile: 1 went offline, 4 came online; 2 is unchanged.
  const auto changes = snapshot(rp, "b", {{2, true, 11}, {4, true, 20}}, 99);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].user, 1);
  EXPECT_FALSE(changes[0].online);
  EXPECT_EQ(changes[0].at, 99);
  EXPECT_EQ(changes[1].user, 4);
  EXPECT_TRUE(changes[1].online);
  EXPECT_EQ(changes[1].at, 20);
  EXPECT_EQ(rp.online_on("b"), 2u);
  EXPECT_TRUE(snapshot(rp, "b", {{2, true, 11}, {4, true, 20}}, 100).empty()) << "the same snapshot again changes nothing";
}

TEST(RemotePresence, SnapshotsAreKeptApartPerNode) {
  remote_presence rp;
  rp.apply("a", {1, true, 1});
  rp.begin_snapshot("b");
  EXPECT_TRUE(rp.in_snapshot("b"));
  EXPECT_FALSE(rp.in_snapshot("a"));
  rp.add_to_snapshot("b", {1, true, 2});
  const auto changes = rp.end_snapshot("b", 5);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].online) << "user 1 is new on b, whatever a holds";
  EXPECT_EQ(rp.online_on("a"), 1u);
  EXPECT_FALSE(rp.in_snapshot("b"));
  EXPECT_TRUE(rp.end_snapshot("b", 6).empty()) << "an end without a begin";
  rp.add_to_snapshot("c", {9, true, 1});
  EXPECT_EQ(rp.online_on("c"), 0u) << "no snapshot of c was begun";
}

TEST(RemotePresence, AnEmptySnapshotTakesEveryoneOfflineThere) {
  remote_presence rp;
  rp.apply("b", {1, true, 1});
  rp.apply("b", {2, true, 1});
  const auto changes = snapshot(rp, "b", {}, 7);
  EXPECT_EQ(changes.size(), 2u);
  for (const auto& c : changes) EXPECT_FALSE(c.online);
  EXPECT_EQ(rp.online_on("b"), 0u);
}

TEST(RemotePresence, ForgetDropsANodeAndItsOpenSnapshot) {
  remote_presence rp;
  rp.apply("b", {1, true, 1});
  rp.begin_snapshot("b");
  EXPECT_TRUE(rp.forget("b"));
  EXPECT_FALSE(rp.in_snapshot("b"));
  EXPECT_EQ(rp.online_on("b"), 0u);
  EXPECT_FALSE(rp.forget("b"));
  rp.apply("b", {1, false, 2});  // an offline for an unknown user is harmless
  EXPECT_EQ(rp.online_on("b"), 0u);
}

}  // namespace
