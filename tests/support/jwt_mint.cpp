// Builds JWTs with OpenSSL HMAC and libsodium base64url for the auth tests. See jwt_mint.hpp.
#include "support/jwt_mint.hpp"

#include <boost/json.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <stdexcept>

namespace chatrix::test {

std::string base64url(std::string_view bytes) {
  static const int sodium_ready = sodium_init();  // libsodium asks for it before any other call
  if (sodium_ready < 0) throw std::runtime_error("libsodium initialisation failed");
  constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;  // unpadded, as JWT requires
  // encoded_len counts the terminating NUL that sodium_bin2base64 writes.
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    variant);
  out.pop_back();
  return out;
}

std::string mint_jwt(const boost::json::object& header, const boost::json::object& claims, std::string_view secret,
                     std::string_view sign_alg) {
  std::string signing_input =
      base64url(boost::json::serialize(header)) + "." + base64url(boost::json::serialize(claims));
  const EVP_MD* md = nullptr;
  if (sign_alg == "HS256") md = EVP_sha256();
  else if (sign_alg == "HS384") md = EVP_sha384();
  else if (sign_alg == "HS512") md = EVP_sha512();
  std::string sig;
  if (md != nullptr) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(md, secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac, &len);
    sig = base64url(std::string_view(reinterpret_cast<const char*>(mac), len));
  }
  return signing_input + "." + sig;
}

boost::json::object standard_claims(std::int64_t sub, std::chrono::seconds ttl, std::chrono::seconds age) {
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
      age.count();
  return boost::json::object{{"sub", sub},
                             {"iat", now},
                             {"nbf", now},
                             {"exp", now + ttl.count()},
                             {"iss", "chatrix-server"},
                             {"aud", "chatrix-server"}};
}

std::string hs256_token(std::int64_t sub, std::string_view secret) {
  return mint_jwt({{"alg", "HS256"}, {"typ", "JWT"}}, standard_claims(sub), secret, "HS256");
}

}  // namespace chatrix::test
