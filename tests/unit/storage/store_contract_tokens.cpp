// The storage contract, token part (store.hpp, "tokens"): what revocation relies on, on every
// backend. Compiled into each backend's binary next to store_contract.cpp.

#include "store_contract.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace chatrix::storage::testing {
namespace {

using namespace std::string_literals;

unix_ms wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Comparable form of a record, for sorting and readable failures.
std::vector<std::tuple<std::string, user_id, unix_ms>> sorted(const std::vector<token_record>& records) {
  std::vector<std::tuple<std::string, user_id, unix_ms>> out;
  for (const auto& r : records) out.emplace_back(r.jti, r.user, r.expires_at);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> jtis(const std::vector<token_record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.jti);
  std::sort(out.begin(), out.end());
  return out;
}

/// Tokens valid for an hour from now: unexpired whatever clock the store reads.
unix_ms in_an_hour() { return wall_clock_ms() + 3'600'000; }
std::int64_t now_seconds() { return wall_clock_ms() / 1000; }

bool record(store& s, const token_record& t) {
  return await<bool>([&](auto done) { s.record_token(t, done); }).value();
}
bool revoke(store& s, const token_record& t) {
  return await<bool>([&](auto done) { s.revoke_token(t, done); }).value();
}
std::vector<token_record> revoke_all(store& s, user_id user, const std::string& keep_jti, std::int64_t at_s) {
  return await<std::vector<token_record>>([&](auto done) { s.revoke_user_tokens(user, keep_jti, at_s, done); })
      .value();
}
revocation_snapshot revocations(store& s, unix_ms now) {
  return await<revocation_snapshot>([&](auto done) { s.revocations(now, done); }).value();
}

using cutoff_list = std::vector<std::pair<user_id, std::int64_t>>;

}  // namespace

TEST_P(store_contract, tokens_records_revokes_and_lists_revoked_tokens_idempotently) {
  const unix_ms later = in_an_hour();
  const user ann = add_user("ann");
  const token_record a{"jti-a", ann.id, later}, b{"jti-b", ann.id, later};
  EXPECT_TRUE(record(db(), a));
  EXPECT_TRUE(record(db(), b));
  EXPECT_FALSE(record(db(), a)) << "recording again changes nothing";

  EXPECT_TRUE(revocations(db(), wall_clock_ms()).tokens.empty()) << "recorded is not revoked";
  EXPECT_TRUE(revoke(db(), a));
  EXPECT_FALSE(revoke(db(), a)) << "revoked before";
  // A token never recorded (minted by another service) is recorded revoked.
  const token_record foreign{"jti-foreign", ann.id, later};
  EXPECT_TRUE(revoke(db(), foreign));
  EXPECT_FALSE(record(db(), foreign)) << "recording a revoked token does not revive it";

  const auto snapshot = revocations(db(), wall_clock_ms());
  EXPECT_EQ(sorted(snapshot.tokens), sorted({a, foreign}));
  EXPECT_TRUE(snapshot.cutoffs.empty());
}

TEST_P(store_contract, tokens_revoking_a_users_tokens_keeps_one_and_sets_the_cutoff) {
  const unix_ms later = in_an_hour();
  const std::int64_t now_s = now_seconds();
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  const token_record kept{"kept", ann.id, later}, other{"other", ann.id, later}, old{"revoked-before", ann.id, later},
      expired{"expired", ann.id, (now_s - 10) * 1000}, bobs{"bobs", bob.id, later};
  for (const auto& t : {kept, other, old, expired, bobs}) ASSERT_TRUE(record(db(), t));
  ASSERT_TRUE(revoke(db(), old));

  EXPECT_EQ(sorted(revoke_all(db(), ann.id, "kept", now_s)), sorted({other}))
      << "not the kept one, not one revoked before, not an expired one, not another user's";
  auto snapshot = revocations(db(), wall_clock_ms());
  EXPECT_EQ(jtis(snapshot.tokens), (std::vector<std::string>{"other", "revoked-before"}));
  EXPECT_EQ(snapshot.cutoffs, (cutoff_list{{ann.id, now_s}}));

  EXPECT_TRUE(revoke_all(db(), ann.id, "kept", now_s).empty()) << "idempotent";
  EXPECT_TRUE(revoke_all(db(), ann.id, "kept", now_s - 100).empty());
  snapshot = revocations(db(), wall_clock_ms());
  EXPECT_EQ(snapshot.cutoffs, (cutoff_list{{ann.id, now_s}}))
      << "a cutoff never moves back";

  EXPECT_EQ(jtis(revoke_all(db(), ann.id, "", now_s + 5)), std::vector<std::string>{"kept"});
  snapshot = revocations(db(), wall_clock_ms());
  EXPECT_EQ(jtis(snapshot.tokens), (std::vector<std::string>{"kept", "other", "revoked-before"}));
  EXPECT_EQ(snapshot.cutoffs, (cutoff_list{{ann.id, now_s + 5}}));
  EXPECT_TRUE(revoke(db(), bobs)) << "bob's token was untouched until now";
}

TEST_P(store_contract, tokens_cutoffs_are_per_user_even_without_recorded_tokens) {
  const std::int64_t now_s = now_seconds();
  const user ann = add_user("ann");
  const user bob = add_user("bob");
  EXPECT_TRUE(revoke_all(db(), ann.id, "", now_s).empty());
  EXPECT_TRUE(revoke_all(db(), bob.id, "", now_s + 1).empty());
  auto cutoffs = revocations(db(), wall_clock_ms()).cutoffs;
  std::sort(cutoffs.begin(), cutoffs.end());
  EXPECT_EQ(cutoffs, (cutoff_list{{ann.id, now_s}, {bob.id, now_s + 1}}));
}

TEST_P(store_contract, tokens_revocations_leave_out_expired_tokens_and_writes_forget_them) {
  const unix_ms later = in_an_hour();
  const user ann = add_user("ann");
  const unix_ms now = wall_clock_ms();
  const token_record dead{"dead", ann.id, now - 60'000}, live{"live", ann.id, later};
  ASSERT_TRUE(revoke(db(), live));
  ASSERT_TRUE(revoke(db(), dead));
  EXPECT_EQ(jtis(revocations(db(), now).tokens), std::vector<std::string>{"live"}) << "expired at `now`";
  EXPECT_EQ(jtis(revocations(db(), now - 120'000).tokens), (std::vector<std::string>{"dead", "live"}))
      << "still stored: a write forgets expired records, but not the one it writes";

  ASSERT_TRUE(record(db(), token_record{"next", ann.id, later}));
  EXPECT_EQ(jtis(revocations(db(), now - 120'000).tokens), std::vector<std::string>{"live"})
      << "the next write forgot the expired record";
}

TEST_P(store_contract, tokens_revocations_survive_reopening) {
  const unix_ms later = in_an_hour();
  const std::int64_t now_s = now_seconds();
  const user ann = add_user("ann");
  ASSERT_TRUE(record(db(), {"a", ann.id, later}));
  ASSERT_TRUE(record(db(), {"b", ann.id, later}));
  ASSERT_TRUE(revoke(db(), {"a", ann.id, later}));
  ASSERT_TRUE(revoke_all(db(), ann.id, "a", now_s).size() == 1);

  reopen();

  const auto snapshot = revocations(db(), wall_clock_ms());
  EXPECT_EQ(jtis(snapshot.tokens), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(snapshot.cutoffs, (cutoff_list{{ann.id, now_s}}));
}

TEST_P(store_contract, tokens_a_bad_jti_is_refused) {
  const unix_ms later = in_an_hour();
  const user ann = add_user("ann");
  for (const std::string& jti : {""s, "a\0b"s}) {
    auto recorded = await<bool>([&](auto done) { db().record_token({jti, ann.id, later}, done); });
    ASSERT_FALSE(recorded.has_value());
    EXPECT_EQ(recorded.error().code, errc::invalid_field);
    auto revoked = await<bool>([&](auto done) { db().revoke_token({jti, ann.id, later}, done); });
    ASSERT_FALSE(revoked.has_value());
    EXPECT_EQ(revoked.error().code, errc::invalid_field);
  }
  EXPECT_TRUE(revocations(db(), 0).tokens.empty());
}

TEST_P(store_contract, tokens_set_password_hash_replaces_the_hash_login_reads) {
  const user ann = add_user("Ann");
  const user bob = add_user("bob");
  EXPECT_TRUE(await<bool>([&](auto done) { db().set_password_hash(ann.id, "hash:new", done); }).value());
  auto found = await<std::optional<user_credentials>>([&](auto done) { db().find_user_by_name("ANN", done); });
  ASSERT_TRUE(found.has_value() && found->has_value());
  EXPECT_EQ((*found)->account.id, ann.id);
  EXPECT_EQ((*found)->password_hash, "hash:new");
  found = await<std::optional<user_credentials>>([&](auto done) { db().find_user_by_name("bob", done); });
  ASSERT_TRUE(found.has_value() && found->has_value());
  EXPECT_EQ((*found)->password_hash, "hash:bob") << "other users keep theirs";

  EXPECT_TRUE(await<bool>([&](auto done) { db().set_password_hash(ann.id, "hash:new", done); }).value())
      << "setting the same hash again succeeds";
  EXPECT_FALSE(await<bool>([&](auto done) { db().set_password_hash(bob.id + 1000, "x", done); }).value())
      << "no such user";
}

}  // namespace chatrix::storage::testing
