// The tokens this node refuses although their signature and expiry are fine: revoked jtis
// (kept until the token would have expired anyway) and, per user, a cutoff for tokens
// without a jti. Pure data, no I/O: token_service loads it from the store and feeds it the
// revocations the bus hands over.
#pragma once

#include "cluster/bus.hpp"
#include "core/types.hpp"
#include "storage/store.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chatrix::chat {

/// Memory: one entry (~100 bytes) per revoked token until it expires, so at most the tokens
/// revoked within one JWT_TTL; revoking needs a live token, and each token a login (an
/// Argon2 verification on the worker pool, rate limited), which bounds that. One cutoff per
/// user who ever logged out everywhere or changed their password.
///
/// Thread-safety: none; the I/O thread only.
class token_registry {
 public:
  /// Whether the token of `user` with this `jti` ("" for none) and `issued_at` (unix seconds)
  /// was revoked.
  bool revoked(user_id user, std::string_view jti, std::int64_t issued_at) const;

  /// Adds what the store holds. Never removes anything: revocations are never undone, and one
  /// applied from the bus while the snapshot was being read must survive it.
  void load(const storage::revocation_snapshot& snapshot, unix_ms now);
  void apply(const cluster::revocation& r, unix_ms now);

  std::size_t revoked_tokens() const noexcept { return tokens_.size(); }

 private:
  struct revoked_token {
    user_id user = 0;
    unix_ms expires_at = 0;
  };
  void add_token(std::string jti, user_id user, unix_ms expires_at);
  void raise_cutoff(user_id user, std::int64_t cutoff_s);
  /// Forgets tokens that have expired (with the clock skew allowed), at most once a minute:
  /// a pass is O(n), and an entry kept a minute longer costs nothing.
  void prune(unix_ms now);

  std::unordered_map<std::string, revoked_token> tokens_;  // by jti
  std::unordered_map<user_id, std::int64_t> cutoffs_;      // unix seconds
  unix_ms next_prune_ = 0;
};

}  // namespace chatrix::chat
