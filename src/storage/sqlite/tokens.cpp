// The SQLite store's token records (see tokens.hpp and migration 4).

#include "storage/sqlite/tokens.hpp"

#include "storage/sqlite/queries.hpp"

namespace chatrix::storage::sqlite_detail {

namespace {

/// Forgets up to store::max_pruned_per_write expired records: bounded work per write, and
/// more than the one record each write may add, so the expired backlog only shrinks.
void prune_expired(connection& c, const std::string& writing_jti, unix_ms now) {
  query(c, sql::prune_expired_tokens).bind(now, writing_jti, store::max_pruned_per_write).run();
}

token_record read_token(const query& q) { return token_record{q.text(0), q.int64(1), q.int64(2)}; }

}  // namespace

result<bool> record_token(connection& c, const token_record& t, unix_ms now) {
  prune_expired(c, t.jti, now);
  query q(c, sql::insert_token);
  q.bind(t.jti, t.user, t.expires_at);
  return q.step();
}

result<bool> revoke_token(connection& c, const token_record& t, unix_ms now) {
  prune_expired(c, t.jti, now);
  query q(c, sql::revoke_token);
  q.bind(t.jti, t.user, t.expires_at, now);
  return q.step();
}

result<std::vector<token_record>> revoke_user_tokens(connection& c, user_id user, const std::string& keep_jti,
                                                     std::int64_t now_s) {
  std::vector<token_record> revoked;
  {
    query q(c, sql::revoke_user_tokens);
    q.bind(user, now_s * 1000, keep_jti);
    while (q.step()) revoked.push_back(read_token(q));
  }
  query(c, sql::raise_token_cutoff).bind(user, now_s).run();
  return revoked;
}

result<revocation_snapshot> read_revocations(connection& c, unix_ms now) {
  revocation_snapshot out;
  {
    query q(c, sql::select_revoked_tokens);
    q.bind(now);
    while (q.step()) out.tokens.push_back(read_token(q));
  }
  query q(c, sql::select_token_cutoffs);
  while (q.step()) out.cutoffs.emplace_back(q.int64(0), q.int64(1));
  return out;
}

}  // namespace chatrix::storage::sqlite_detail
