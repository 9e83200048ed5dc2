// Hand-made JWTs for the auth tests: any header, any claims, HS256/HS512 or an empty "none"
// signature. Independent of the server's own JWT code on purpose (black-box).
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace chatrix::test {

std::string base64url(std::string_view bytes);

/// header.claims.signature with the signature computed for `alg` ("HS256", "HS384", "HS512";
/// anything else, e.g. "none", gives an empty signature). The header's "alg" is taken as given.
std::string mint_jwt(const boost::json::object& header, const boost::json::object& claims,
                     std::string_view secret, std::string_view sign_alg);

/// The claims the server issues: sub, iat, nbf, exp (now + ttl), iss and aud "chatrix-server".
boost::json::object standard_claims(std::int64_t sub, std::chrono::seconds ttl = std::chrono::hours(24),
                                    std::chrono::seconds age = std::chrono::seconds(0));

/// A valid-looking HS256 token for `sub` signed with `secret`.
std::string hs256_token(std::int64_t sub, std::string_view secret);

/// The header (first part) and the claims (middle part) of `token`, decoded without checking
/// anything: a test forges from a token the server issued, so that the forgery differs from
/// a token the server accepts in the one property under test. Throw std::runtime_error
/// unless the token has three parts and the part is base64url of a JSON object.
boost::json::object header_of(std::string_view token);
boost::json::object claims_of(std::string_view token);

}  // namespace chatrix::test
