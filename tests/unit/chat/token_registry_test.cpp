// token_registry: what counts as revoked (jti, user, cutoff), loads and bus revocations that
// only ever add, and the expired entries it forgets.
#include "chat/token_registry.hpp"

#include <gtest/gtest.h>

using namespace chatrix;

namespace {

constexpr unix_ms now = 1'714'521'600'000;  // 2024-05-01T00:00:00Z
constexpr unix_ms hour = 3'600'000;

TEST(token_registry, a_revoked_jti_is_refused_for_its_user_only) {
  chat::token_registry r;
  r.apply(cluster::revocation{7, {"abc"}, 0, {{"abc", now + hour}}}, now);
  EXPECT_TRUE(r.revoked(7, "abc", 0));
  EXPECT_FALSE(r.revoked(7, "abd", 0));
  EXPECT_FALSE(r.revoked(8, "abc", 0)) << "a jti is only unique within its issuer";
  EXPECT_FALSE(r.revoked(7, "", 0)) << "no cutoff: tokens without a jti stand";
}

TEST(token_registry, a_cutoff_refuses_tokens_without_a_jti_issued_until_then) {
  chat::token_registry r;
  r.apply(cluster::revocation{7, {}, 1000, {}}, now);
  EXPECT_TRUE(r.revoked(7, "", 999));
  EXPECT_TRUE(r.revoked(7, "", 1000));
  EXPECT_FALSE(r.revoked(7, "", 1001));
  EXPECT_FALSE(r.revoked(7, "some-jti", 10)) << "tokens with a jti are revoked by naming them";
  EXPECT_FALSE(r.revoked(8, "", 10));
  // Cutoffs only move forward, whatever order revocations arrive in.
  r.apply(cluster::revocation{7, {}, 500, {}}, now);
  EXPECT_TRUE(r.revoked(7, "", 1000));
}

TEST(token_registry, load_adds_to_what_the_bus_brought) {
  chat::token_registry r;
  r.apply(cluster::revocation{7, {"from-bus"}, 0, {{"from-bus", now + hour}}}, now);
  storage::revocation_snapshot snapshot;
  snapshot.tokens.push_back(storage::token_record{"from-store", 9, now + hour});
  snapshot.cutoffs.emplace_back(9, 1234);
  r.load(snapshot, now);
  EXPECT_TRUE(r.revoked(7, "from-bus", 0)) << "a snapshot read before a revocation must not undo it";
  EXPECT_TRUE(r.revoked(9, "from-store", 0));
  EXPECT_TRUE(r.revoked(9, "", 1234));
  EXPECT_EQ(r.revoked_tokens(), 2u);
}

TEST(token_registry, expired_tokens_are_forgotten_once_past_the_clock_skew) {
  chat::token_registry r;
  r.apply(cluster::revocation{7, {"short"}, 0, {{"short", now + 50'000}}}, now);
  r.apply(cluster::revocation{7, {"long"}, 0, {{"long", now + hour}}}, now);
  // Expired 11 s ago, but 30 s of skew are allowed after exp: the token still verifies, so it
  // is still refused.
  r.apply(cluster::revocation{1, {}, 0, {}}, now + 61'000);
  EXPECT_EQ(r.revoked_tokens(), 2u);
  // A minute after the last pass, and past exp + skew: forgotten.
  r.apply(cluster::revocation{1, {}, 0, {}}, now + 122'000);
  EXPECT_EQ(r.revoked_tokens(), 1u);
  EXPECT_TRUE(r.revoked(7, "long", 0));
}

TEST(token_registry, a_jti_without_its_expiry_is_kept) {
  chat::token_registry r;
  r.apply(cluster::revocation{7, {"no-expiry"}, 0, {}}, now);
  r.apply(cluster::revocation{1, {}, 0, {}}, now + 365 * 24 * hour);
  EXPECT_TRUE(r.revoked(7, "no-expiry", 0));
}

}  // namespace
