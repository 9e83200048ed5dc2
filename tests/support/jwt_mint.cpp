// Builds JWTs with OpenSSL HMAC and libsodium base64url for the auth tests. See jwt_mint.hpp.
#include "support/jwt_mint.hpp"

#include <boost/json.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <stdexcept>

namespace chatrix::test {

namespace {

void need_sodium() {
  static const int sodium_ready = sodium_init();  // libsodium asks for it before any other call
  if (sodium_ready < 0) throw std::runtime_error("libsodium initialisation failed");
}

std::string base64url_decode(std::string_view text) {
  need_sodium();
  std::string out(text.size(), '\0');  // decoding only ever shrinks
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &len, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    throw std::runtime_error("not base64url: " + std::string(text));
  out.resize(len);
  return out;
}

/// Part `index` (0 header, 1 claims) of a three-part token, as a JSON object.
boost::json::object json_part(std::string_view token, int index) {
  const auto first = token.find('.');
  const auto last = token.rfind('.');
  if (first == std::string_view::npos || first == last) throw std::runtime_error("not a JWT: " + std::string(token));
  const auto part = index == 0 ? token.substr(0, first) : token.substr(first + 1, last - first - 1);
  const auto value = boost::json::parse(base64url_decode(part));
  if (!value.is_object()) throw std::runtime_error("JWT part is not a JSON object: " + std::string(token));
  return value.as_object();
}

}  // namespace

std::string base64url(std::string_view bytes) {
  need_sodium();
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

boost::json::object header_of(std::string_view token) { return json_part(token, 0); }

boost::json::object claims_of(std::string_view token) { return json_part(token, 1); }

}  // namespace chatrix::test
