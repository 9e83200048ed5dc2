// HS256 JSON Web Tokens, compatible with the original server: claims sub (numeric user id),
// exp, iat, nbf, iss and aud ("chatrix-server"), plus jti, the token's id that revocation
// names (docs/security.md, "Token lifecycle"). Pure computation; no I/O.
#pragma once

#include "core/error.hpp"
#include "core/types.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chatrix::auth {

inline constexpr std::string_view token_issuer = "chatrix-server";
inline constexpr std::string_view token_audience = "chatrix-server";
/// Clock skew tolerated on exp and nbf.
inline constexpr std::chrono::seconds token_leeway{30};
/// Longest jti accepted from a token: every node keeps the revoked ones in memory.
inline constexpr std::size_t max_jti_bytes = 128;

struct token_claims {
  user_id subject = 0;
  std::int64_t issued_at = 0;   // unix seconds; 0 when the token has no iat
  std::int64_t not_before = 0;  // unix seconds; 0 when the token has no nbf
  std::int64_t expires_at = 0;  // unix seconds
  std::string jti;              // "" when the token has none (minted elsewhere, or before jtis)
};

/// A token just signed, with what revocation needs to know about it.
struct issued_token {
  std::string token;
  std::string jti;              // 128 random bits, base64url (22 characters)
  std::int64_t expires_at = 0;  // unix seconds
};

/// Signs and verifies tokens with one secret (its bytes exactly as configured).
/// Thread-safety: immutable after construction; safe from any thread.
class token_codec {
 public:
  /// Throws std::invalid_argument for an empty secret (forgeable tokens) or a ttl <= 0.
  token_codec(std::string secret, std::chrono::seconds ttl);

  /// A token for `subject` valid from `now` for the configured ttl, with a fresh random jti.
  issued_token issue(user_id subject, std::chrono::system_clock::time_point now) const;

  /// errc::unauthorized with a readable reason ("token expired", "bad signature", ...) unless
  /// the token is HS256 (no other alg, never "none"), correctly signed, within exp/nbf
  /// (with token_leeway), with iss and aud "chatrix-server" and a positive numeric sub.
  /// exp is required; aud may be a string or an array containing "chatrix-server"; sub may be
  /// a JSON integer (what issue() writes) or a decimal string such as "42" (RFC 7519 makes sub
  /// a string, so tokens minted by other services may carry it that way). jti is optional; when
  /// present it must be a non-empty string of at most max_jti_bytes, without control
  /// characters. Tokens over 8 KiB are refused unread. Revocation is not checked here
  /// (chat::token_service does).
  result<token_claims> verify(std::string_view token, std::chrono::system_clock::time_point now) const;

  std::chrono::seconds ttl() const noexcept { return ttl_; }

 private:
  std::string secret_;
  std::chrono::seconds ttl_;
};

}  // namespace chatrix::auth
