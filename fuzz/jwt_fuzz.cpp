// Token verification (auth::token_codec::verify), in two modes picked by the first byte:
//   even: the rest is a token, verified as it stands (structure, base64url, header, signature);
//   odd:  the rest is "<header JSON>\n<claims JSON>", which the target encodes and signs with
//         the codec's secret first, so that the claim checks behind the signature are reached
//         too (a mutated payload would otherwise never pass the MAC).
// A token that verifies must carry what the server relies on: a positive subject, a live
// expiry and a start that has come, each within the leeway.
#include "auth/jwt.hpp"
#include "fuzz_check.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using namespace chatrix;
using chatrix::fuzz::require;

constexpr std::string_view secret = "fuzz-secret-0123456789";
// 2026-12-01T00:00:00Z: the seed tokens are valid at this instant, whenever the target runs.
const auto fixed_now = std::chrono::system_clock::time_point(std::chrono::seconds(1796083200));

std::string base64url(std::string_view bytes) {
  constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');  // with the NUL
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    variant);
  out.pop_back();
  return out;
}

/// base64url(header).base64url(claims).HS256 signature, from raw JSON text (kept as written:
/// duplicate keys, odd number forms and invalid JSON are what the mutator should try).
std::string signed_token(std::string_view header, std::string_view claims) {
  std::string token = base64url(header) + "." + base64url(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(token.data()),
       token.size(), mac, &len);
  return token + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  require(sodium_init() >= 0, "libsodium initialises");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const auth::token_codec codec{std::string(secret), std::chrono::hours(24)};
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string token;
  if (data[0] & 1) {
    const auto newline = rest.find('\n');
    if (newline == rest.npos) return 0;
    token = signed_token(rest.substr(0, newline), rest.substr(newline + 1));
  } else {
    token = std::string(rest);
  }

  const auto claims = codec.verify(token, fixed_now);
  if (!claims) {
    require(claims.error().code == errc::unauthorized, "a refused token is errc::unauthorized");
    return 0;
  }
  const std::int64_t now_s = 1796083200, leeway = auth::token_leeway.count();
  require(claims->subject > 0, "a valid token has a positive subject");
  require(claims->expires_at >= now_s - leeway, "a valid token has not expired");
  require(claims->not_before <= now_s + leeway, "a valid token has started");
  return 0;
}
