// HS256 JWTs from parts: OpenSSL HMAC-SHA256, libsodium's base64url and Boost.JSON. We avoid
// libjwt because 1.10 accepts any HS* alg and never checks exp/nbf.
#include "auth/jwt.hpp"

#include "auth/sodium.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

namespace chatrix::auth {
namespace {

namespace json = boost::json;

constexpr std::size_t max_token_bytes = 8 * 1024;
constexpr std::size_t signature_bytes = 32;  // SHA-256

// ---- base64url (RFC 4648 §5, no padding, as JWS requires), by libsodium ----

std::string base64url_encode(std::string_view in) {
  constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  // encoded_len counts the terminating NUL that sodium_bin2base64 writes.
  std::string out(sodium_base64_encoded_len(in.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(in.data()), in.size(), variant);
  out.pop_back();
  return out;
}

// Strict: no padding, no foreign characters (libsodium stops at the first and, with no end
// pointer to report it through, fails), and the unused low bits of the last character must be
// zero (libsodium checks that too). Without that last rule several spellings decode to the same
// signature, and a "different" token would verify (harmless for HMAC, but it breaks
// token-equality checks).
std::optional<std::string> base64url_decode(std::string_view in) {
  std::string out(in.size() * 3 / 4, '\0');  // 6 bits a character, rounded down to whole bytes
  std::size_t decoded = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(), in.size(), nullptr,
                        &decoded, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return std::nullopt;
  }
  out.resize(decoded);
  return out;
}

// ---- helpers ----

std::array<unsigned char, signature_bytes> hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, signature_bytes> mac{};
  unsigned int len = 0;
  // HMAC() (one-shot) is not deprecated in OpenSSL 3, unlike HMAC_CTX.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), mac.data(), &len) == nullptr ||
      len != signature_bytes) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return mac;
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

error unauthorized(std::string reason) { return make_error(errc::unauthorized, std::move(reason)); }

std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// A NumericDate (RFC 7519 §2): any JSON number; fractions are floored. nullopt if not a number
// or out of the int64 range.
std::optional<std::int64_t> numeric_date(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > std::uint64_t(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return std::int64_t(v.get_uint64());
  }
  if (v.is_double()) {
    const double d = std::floor(v.get_double());
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    if (!std::isfinite(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0) return std::nullopt;
    return std::int64_t(d);
  }
  return std::nullopt;
}

// sub: a JSON integer (what we and the original server mint) or a decimal string (RFC 7519
// makes sub a StringOrURI, so other services mint "42"). Must be a positive int64.
std::optional<user_id> subject_id(const json::value& v) {
  if (v.is_int64()) return v.get_int64() > 0 ? std::optional<user_id>(v.get_int64()) : std::nullopt;
  if (v.is_uint64()) {
    if (v.get_uint64() > std::uint64_t(std::numeric_limits<user_id>::max())) return std::nullopt;
    return user_id(v.get_uint64());
  }
  if (v.is_string()) {
    const json::string& s = v.get_string();
    if (s.empty() || s.size() > 19 || s[0] < '1' || s[0] > '9') return std::nullopt;  // no sign, no leading 0
    user_id id = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    if (ec != std::errc{} || end != s.data() + s.size() || id <= 0) return std::nullopt;
    return id;
  }
  return std::nullopt;  // doubles (even 5.0), booleans, null, objects
}

bool is_string_equal(const json::value* v, std::string_view expected) {
  return v != nullptr && v->is_string() && std::string_view(v->get_string()) == expected;
}

// aud may be one string or an array of strings (RFC 7519 §4.1.3).
bool audience_matches(const json::value* v) {
  if (v == nullptr) return false;
  if (v->is_string()) return std::string_view(v->get_string()) == token_audience;
  if (v->is_array()) {
    for (const auto& item : v->get_array()) {
      if (is_string_equal(&item, token_audience)) return true;
    }
  }
  return false;
}

}  // namespace

token_codec::token_codec(std::string secret, std::chrono::seconds ttl) : secret_(std::move(secret)), ttl_(ttl) {
  // An empty key makes every token forgeable; fail at startup rather than run like that.
  if (secret_.empty()) throw std::invalid_argument("token_codec: empty secret");
  if (ttl_.count() <= 0) throw std::invalid_argument("token_codec: ttl must be positive");
  ensure_sodium();  // base64url is libsodium's
}

issued_token token_codec::issue(user_id subject, std::chrono::system_clock::time_point now) const {
  // The header never changes, so its encoding is a constant.
  static const std::string header = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  const std::int64_t iat = unix_seconds(now);
  // 128 bits: ids of tokens issued by every node never collide in practice, without any
  // coordination between the nodes.
  std::array<unsigned char, 16> id{};
  randombytes_buf(id.data(), id.size());
  issued_token out;
  out.jti = base64url_encode(std::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
  out.expires_at = iat + ttl_.count();
  json::object claims;
  claims["sub"] = subject;
  claims["exp"] = out.expires_at;
  claims["iat"] = iat;
  claims["nbf"] = iat;
  claims["iss"] = token_issuer;
  claims["aud"] = token_audience;
  claims["jti"] = out.jti;
  std::string& token = out.token;
  token = header;
  token += '.';
  token += base64url_encode(json::serialize(claims));
  const auto mac = hmac_sha256(secret_, token);
  token += '.';
  token += base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return out;
}

result<token_claims> token_codec::verify(std::string_view token, std::chrono::system_clock::time_point now) const {
  if (token.empty()) return unauthorized("missing token");
  if (token.size() > max_token_bytes) return unauthorized("token too large");

  // ---- structure: exactly header.payload.signature ----
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == token.npos ? token.npos : token.find('.', dot1 + 1);
  if (dot2 == token.npos || token.find('.', dot2 + 1) != token.npos) {
    return unauthorized("malformed token (expected header.payload.signature)");
  }
  const auto header_b64 = token.substr(0, dot1);
  const auto payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const auto signature_b64 = token.substr(dot2 + 1);

  // ---- header: only HS256. Checked before the signature so that "none" or an RS256 token
  // (whose public key an attacker might use as an HMAC secret) never reaches the MAC. ----
  const auto header_text = base64url_decode(header_b64);
  if (!header_text) return unauthorized("malformed token header (bad base64url)");
  const auto header = parse_object(*header_text);
  if (!header) return unauthorized("malformed token header (not a JSON object)");
  const json::value* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string()) return unauthorized("malformed token header (no alg)");
  if (const std::string_view name = alg->get_string(); name != "HS256") {
    // Echo the name only when it looks like one: the reason goes to clients and logs.
    const bool printable = name.size() <= 16 && std::all_of(name.begin(), name.end(), [](char c) {
                             return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                           });
    return unauthorized(printable ? "unsupported token algorithm '" + std::string(name) + "' (only HS256)"
                                  : std::string("unsupported token algorithm (only HS256)"));
  }
  // RFC 7515 §4.1.11: a recipient that does not understand listed extensions must reject.
  if (header->contains("crit")) return unauthorized("unsupported token header (crit)");

  // ---- signature over the exact ASCII of header.payload ----
  const auto signature = base64url_decode(signature_b64);
  if (!signature) return unauthorized("malformed token signature (bad base64url)");
  const auto mac = hmac_sha256(secret_, token.substr(0, dot2));
  if (signature->size() != mac.size() || CRYPTO_memcmp(signature->data(), mac.data(), mac.size()) != 0) {
    return unauthorized("bad signature");
  }

  // ---- claims (only parsed once the token is known to be ours) ----
  const auto payload_text = base64url_decode(payload_b64);
  if (!payload_text) return unauthorized("malformed token payload (bad base64url)");
  const auto claims = parse_object(*payload_text);
  if (!claims) return unauthorized("malformed token payload (not a JSON object)");

  const std::int64_t now_s = unix_seconds(now);
  const std::int64_t leeway = token_leeway.count();
  token_claims out;

  const json::value* exp = claims->if_contains("exp");
  if (exp == nullptr) return unauthorized("token has no expiry (exp)");
  const auto exp_s = numeric_date(*exp);
  if (!exp_s) return unauthorized("token exp is not a number");
  // Written as exp < now - leeway so that a huge exp cannot overflow.
  if (*exp_s < now_s - leeway) return unauthorized("token expired");
  out.expires_at = *exp_s;

  if (const json::value* nbf = claims->if_contains("nbf")) {
    const auto nbf_s = numeric_date(*nbf);
    if (!nbf_s) return unauthorized("token nbf is not a number");
    if (*nbf_s > now_s + leeway) return unauthorized("token not yet valid");
    out.not_before = *nbf_s;
  }
  if (const json::value* iat = claims->if_contains("iat")) {
    const auto iat_s = numeric_date(*iat);
    if (!iat_s) return unauthorized("token iat is not a number");
    out.issued_at = *iat_s;
  }

  if (const json::value* jti = claims->if_contains("jti")) {
    if (!jti->is_string() || jti->get_string().empty()) return unauthorized("token jti is not a non-empty string");
    if (jti->get_string().size() > max_jti_bytes) return unauthorized("token jti is too long");
    // Control characters (NUL above all) have no place in an id that is stored and logged.
    if (std::any_of(jti->get_string().begin(), jti->get_string().end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      return unauthorized("token jti holds control characters");
    out.jti = std::string(jti->get_string());
  }

  if (!is_string_equal(claims->if_contains("iss"), token_issuer)) return unauthorized("wrong token issuer");
  if (!audience_matches(claims->if_contains("aud"))) return unauthorized("wrong token audience");

  const json::value* sub = claims->if_contains("sub");
  if (sub == nullptr) return unauthorized("token has no subject (sub)");
  const auto id = subject_id(*sub);
  if (!id) return unauthorized("token subject is not a positive integer user id");
  out.subject = *id;
  return out;
}

}  // namespace chatrix::auth
