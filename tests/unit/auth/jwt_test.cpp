// token_codec: round trip, every rejection, and tokens minted by hand (an independent HS256
// signer in this file) to prove we interoperate with other JWT implementations.
#include "auth/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>
#include <string>

namespace {

using namespace std::chrono_literals;
using chatrix::errc;
using chatrix::auth::token_codec;
namespace json = boost::json;

const std::string secret = "0123456789abcdef-test-secret";
// A fixed instant keeps the tests independent of the wall clock: 2024-05-01T00:00:00Z.
const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1714521600));
const std::int64_t t0_s = 1714521600;

// ---- an independent minimal signer (base64url via OpenSSL's base64) ----

std::string b64url(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string hmac(std::string_view key, std::string_view data, const EVP_MD* md = EVP_sha256()) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string mint_raw(std::string_view header, std::string_view payload, std::string_view key = secret,
                     const EVP_MD* md = EVP_sha256()) {
  std::string signing_input = b64url(header) + "." + b64url(payload);
  return signing_input + "." + b64url(hmac(key, signing_input, md));
}

json::object good_claims() {
  return {{"sub", 42},   {"exp", t0_s + 3600},      {"iat", t0_s},
          {"nbf", t0_s}, {"iss", "chatrix-server"}, {"aud", "chatrix-server"}};
}

std::string mint(const json::object& claims, std::string_view alg = "HS256") {
  return mint_raw(json::serialize(json::object{{"alg", alg}, {"typ", "JWT"}}), json::serialize(claims));
}

std::string part(const std::string& token, int index) {
  const auto d1 = token.find('.');
  const auto d2 = token.find('.', d1 + 1);
  if (index == 0) return token.substr(0, d1);
  if (index == 1) return token.substr(d1 + 1, d2 - d1 - 1);
  return token.substr(d2 + 1);
}

std::string b64url_decode(std::string in) {
  for (char& c : in) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (in.size() % 4 != 0) in += '=';
  std::string out(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  // EVP_DecodeBlock counts padding bytes as output; drop them.
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) --n;
  out.resize(static_cast<std::size_t>(n));
  return out;
}

class JwtTest : public ::testing::Test {
 protected:
  token_codec codec_{secret, 24h};

  void expect_rejected(const std::string& token, std::string_view reason_part,
                       std::chrono::system_clock::time_point now = t0) {
    const auto r = codec_.verify(token, now);
    ASSERT_TRUE(r.has_error()) << "accepted: " << token;
    EXPECT_EQ(r.error().code, errc::unauthorized);
    EXPECT_NE(r.error().message.find(reason_part), std::string::npos) << "reason: " << r.error().message;
  }
};

// ---- issue / verify ----

TEST_F(JwtTest, RoundTrip) {
  const auto token = codec_.issue(42, t0).token;
  const auto r = codec_.verify(token, t0);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->subject, 42);
  EXPECT_EQ(r->issued_at, t0_s);
  EXPECT_EQ(r->not_before, t0_s);
  EXPECT_EQ(r->expires_at, t0_s + 24 * 3600);
  EXPECT_EQ(codec_.ttl(), 24h);
}

TEST_F(JwtTest, IssuedTokenHasTheOriginalServersShape) {
  const auto token = codec_.issue(7, t0 + 500ms).token;  // sub-second part is dropped
  const auto header = json::parse(b64url_decode(part(token, 0))).as_object();
  EXPECT_EQ(header, (json::object{{"alg", "HS256"}, {"typ", "JWT"}}));
  const auto claims = json::parse(b64url_decode(part(token, 1))).as_object();
  EXPECT_TRUE(claims.at("sub").is_int64());  // a JSON number, as the original client expects
  EXPECT_EQ(claims.at("sub").as_int64(), 7);
  EXPECT_EQ(claims.at("exp").as_int64(), t0_s + 86400);
  EXPECT_EQ(claims.at("iat").as_int64(), t0_s);
  EXPECT_EQ(claims.at("nbf").as_int64(), t0_s);
  EXPECT_EQ(claims.at("iss").as_string(), "chatrix-server");
  EXPECT_EQ(claims.at("aud").as_string(), "chatrix-server");
  EXPECT_EQ(claims.at("jti").as_string().size(), 22u);  // 128 bits, base64url without padding
  // The signature is HMAC-SHA256 of header.payload with the secret's bytes, per our own signer.
  EXPECT_EQ(part(token, 2), b64url(hmac(secret, part(token, 0) + "." + part(token, 1))));
  // No padding anywhere.
  EXPECT_EQ(token.find('='), std::string::npos);
}

TEST_F(JwtTest, HandMintedTokenVerifies) {
  const auto r = codec_.verify(mint(good_claims()), t0);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->subject, 42);
  EXPECT_EQ(r->expires_at, t0_s + 3600);
}

TEST_F(JwtTest, SecretBytesAreUsedExactly) {
  const token_codec spaced(secret + " ", 24h);
  expect_rejected(spaced.issue(1, t0).token, "bad signature");
  const std::string binary("\x00\xff\x01secret-with-nul!!", 19);
  const token_codec bin(binary, 1h);
  ASSERT_TRUE(bin.verify(bin.issue(1, t0).token, t0).has_value());
  EXPECT_TRUE(bin.verify(mint_raw(R"({"alg":"HS256"})", json::serialize(good_claims()), binary), t0).has_value());
}

TEST_F(JwtTest, RejectsEmptySecretAndNonPositiveTtl) {
  EXPECT_THROW(token_codec("", 1h), std::invalid_argument);
  EXPECT_THROW(token_codec(secret, 0s), std::invalid_argument);
}

TEST_F(JwtTest, HeaderWithoutTypAndExtraClaimsIsAccepted) {
  auto claims = good_claims();
  claims["jti"] = "abc";
  claims["role"] = "user";
  EXPECT_TRUE(codec_.verify(mint_raw(R"({"alg":"HS256"})", json::serialize(claims)), t0).has_value());
}

// ---- time ----

TEST_F(JwtTest, ExpiryHonoursLeeway) {
  const auto token = codec_.issue(1, t0).token;
  const auto exp = t0 + 24h;
  EXPECT_TRUE(codec_.verify(token, exp).has_value());
  EXPECT_TRUE(codec_.verify(token, exp + 30s).has_value());
  expect_rejected(token, "expired", exp + 31s);
}

TEST_F(JwtTest, NotBeforeHonoursLeeway) {
  auto claims = good_claims();
  claims["nbf"] = t0_s + 100;
  const auto token = mint(claims);
  expect_rejected(token, "not yet valid", t0 + 69s);
  EXPECT_TRUE(codec_.verify(token, t0 + 70s).has_value());
}

TEST_F(JwtTest, MissingExpRejected) {
  auto claims = good_claims();
  claims.erase("exp");
  expect_rejected(mint(claims), "exp");
}

TEST_F(JwtTest, NonNumericTimesRejected) {
  auto claims = good_claims();
  claims["exp"] = "tomorrow";
  expect_rejected(mint(claims), "exp");
  claims = good_claims();
  claims["nbf"] = json::array{1};
  expect_rejected(mint(claims), "nbf");
}

TEST_F(JwtTest, FractionalAndHugeExpHandled) {
  auto claims = good_claims();
  claims["exp"] = double(t0_s) + 10.5;
  const auto r = codec_.verify(mint(claims), t0);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->expires_at, t0_s + 10);
  claims["exp"] = std::numeric_limits<std::int64_t>::max();  // must not overflow into "expired"
  EXPECT_TRUE(codec_.verify(mint(claims), t0).has_value());
  claims["exp"] = 1e300;
  expect_rejected(mint(claims), "exp");
}

// ---- iss / aud / sub ----

TEST_F(JwtTest, WrongOrMissingIssuerRejected) {
  auto claims = good_claims();
  claims["iss"] = "someone-else";
  expect_rejected(mint(claims), "issuer");
  claims.erase("iss");
  expect_rejected(mint(claims), "issuer");
}

TEST_F(JwtTest, AudienceMayBeAnArray) {
  auto claims = good_claims();
  claims["aud"] = json::array{"other", "chatrix-server"};
  EXPECT_TRUE(codec_.verify(mint(claims), t0).has_value());
  claims["aud"] = json::array{"other"};
  expect_rejected(mint(claims), "audience");
  claims["aud"] = "other";
  expect_rejected(mint(claims), "audience");
  claims.erase("aud");
  expect_rejected(mint(claims), "audience");
}

TEST_F(JwtTest, SubjectMustBeAPositiveInteger) {
  for (const json::value& bad :
       {json::value(0), json::value(-5), json::value(1.5), json::value(5.0), json::value(true), json::value(nullptr),
        json::value("abc"), json::value("-3"), json::value("007"), json::value("12a"), json::value(""),
        json::value("99999999999999999999"), json::value(std::uint64_t(1) << 63), json::value(json::array{1})}) {
    auto claims = good_claims();
    claims["sub"] = bad;
    expect_rejected(mint(claims), "subject");
  }
  auto claims = good_claims();
  claims.erase("sub");
  expect_rejected(mint(claims), "subject");
}

TEST_F(JwtTest, NumericStringSubjectAccepted) {
  auto claims = good_claims();
  claims["sub"] = "9001";  // as minted by services that treat sub as a StringOrURI
  const auto r = codec_.verify(mint(claims), t0);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->subject, 9001);
}

// ---- signature and algorithm ----

TEST_F(JwtTest, WrongSecretRejected) {
  const token_codec other("another-secret-of-16+", 24h);
  expect_rejected(other.issue(42, t0).token, "bad signature");
}

TEST_F(JwtTest, TamperedPayloadRejected) {
  const auto token = codec_.issue(42, t0).token;
  auto claims = json::parse(b64url_decode(part(token, 1))).as_object();
  claims["sub"] = 1;  // become someone else, keep the old signature
  const auto forged = part(token, 0) + "." + b64url(json::serialize(claims)) + "." + part(token, 2);
  expect_rejected(forged, "bad signature");
}

TEST_F(JwtTest, TamperedSignatureRejected) {
  auto token = codec_.issue(42, t0).token;
  token[token.size() - 5] = token[token.size() - 5] == 'A' ? 'B' : 'A';
  expect_rejected(token, "bad signature");
  // A truncated signature (fewer than 32 bytes) never reaches the byte comparison.
  expect_rejected(token.substr(0, token.size() - 4), "signature");
}

TEST_F(JwtTest, NonCanonicalSignatureEncodingRejected) {
  // 32 bytes encode to 43 characters whose last one carries 2 unused bits; setting them must
  // not produce a second valid spelling of the same token.
  const auto token = codec_.issue(42, t0).token;
  auto sig = part(token, 2);
  ASSERT_EQ(sig.size(), 43u);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto v = alphabet.find(sig.back());
  sig.back() = alphabet[v | 1];
  if (sig == part(token, 2)) sig.back() = alphabet[v | 2];
  expect_rejected(part(token, 0) + "." + part(token, 1) + "." + sig, "signature");
}

TEST_F(JwtTest, AlgNoneRejected) {
  const auto payload = b64url(json::serialize(good_claims()));
  expect_rejected(b64url(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".", "algorithm");
  expect_rejected(b64url(R"({"alg":"None"})") + "." + payload + ".", "algorithm");
}

TEST_F(JwtTest, OtherHmacAlgorithmsRejectedEvenWhenCorrectlySigned) {
  // libjwt 1.10 accepts these when the signature verifies; we must not.
  const auto payload = json::serialize(good_claims());
  expect_rejected(mint_raw(R"({"alg":"HS384","typ":"JWT"})", payload, secret, EVP_sha384()), "HS384");
  expect_rejected(mint_raw(R"({"alg":"HS512","typ":"JWT"})", payload, secret, EVP_sha512()), "HS512");
}

TEST_F(JwtTest, AlgConfusionRejected) {
  // RS256 header but an HMAC signature keyed with (what the attacker hopes is) our secret.
  expect_rejected(mint(good_claims(), "RS256"), "RS256");
  expect_rejected(mint(good_claims(), "ES256"), "algorithm");
  expect_rejected(mint(good_claims(), "hs256"), "algorithm");
  expect_rejected(mint_raw(R"({"typ":"JWT"})", json::serialize(good_claims())), "alg");
  expect_rejected(mint_raw(R"({"alg":256})", json::serialize(good_claims())), "alg");
  expect_rejected(mint_raw(R"({"alg":"HS256","crit":["exp"]})", json::serialize(good_claims())), "crit");
}

TEST_F(JwtTest, ForeignAlgNameNotEchoedVerbatim) {
  const auto r = codec_.verify(mint(good_claims(), "x\ny<script>"), t0);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  EXPECT_EQ(r.error().message.find('<'), std::string::npos);
}

// ---- structure ----

TEST_F(JwtTest, MalformedStructureRejected) {
  const auto token = codec_.issue(42, t0).token;
  expect_rejected("", "missing");
  expect_rejected("abc", "malformed");
  expect_rejected(part(token, 0) + "." + part(token, 1), "malformed");
  expect_rejected(token + ".", "malformed");
  expect_rejected(token + ".x", "malformed");
  expect_rejected("..", "malformed");
  expect_rejected("!!!." + part(token, 1) + "." + part(token, 2), "base64url");
  expect_rejected("A." + part(token, 1) + "." + part(token, 2), "base64url");  // 6 bits: not even a byte
  expect_rejected(part(token, 0) + "=." + part(token, 1) + "." + part(token, 2), "base64url");
  expect_rejected(part(token, 0) + "." + part(token, 1) + "." + part(token, 2) + "=", "base64url");
}

TEST_F(JwtTest, NonObjectJsonRejected) {
  expect_rejected(mint_raw(R"(["alg","HS256"])", json::serialize(good_claims())), "header");
  expect_rejected(mint_raw("not json", json::serialize(good_claims())), "header");
  expect_rejected(mint_raw(R"({"alg":"HS256"})", "[1,2,3]"), "payload");
  expect_rejected(mint_raw(R"({"alg":"HS256"})", "42"), "payload");
  expect_rejected(mint_raw(R"({"alg":"HS256"})", "{\"sub\":"), "payload");
  // A payload with bytes that are not base64url, but correctly "signed" as text.
  const std::string head = b64url(R"({"alg":"HS256"})");
  const std::string input = head + ".*payload*";
  expect_rejected(input + "." + b64url(hmac(secret, input)), "payload");
}

TEST_F(JwtTest, OversizedTokenRejected) {
  auto claims = good_claims();
  claims["pad"] = std::string(8 * 1024, 'x');
  expect_rejected(mint(claims), "too large");
  // Just under the limit is fine.
  claims["pad"] = std::string(5 * 1024, 'x');
  const auto token = mint(claims);
  ASSERT_LE(token.size(), 8u * 1024);
  EXPECT_TRUE(codec_.verify(token, t0).has_value());
}

// ---- jti ----

TEST_F(JwtTest, EveryIssuedTokenHasItsOwnJti) {
  const auto a = codec_.issue(42, t0);
  const auto b = codec_.issue(42, t0);  // same user, same second: still two tokens
  EXPECT_EQ(a.jti.size(), 22u);
  EXPECT_NE(a.jti, b.jti);
  EXPECT_NE(a.token, b.token);
  EXPECT_EQ(a.expires_at, t0_s + 24 * 3600);
  for (const auto& t : {a, b}) {
    const auto r = codec_.verify(t.token, t0);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->jti, t.jti);
    EXPECT_EQ(r->expires_at, t.expires_at);
  }
  EXPECT_EQ(a.jti.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

TEST_F(JwtTest, TokenWithoutJtiVerifiesWithAnEmptyOne) {
  // Tokens minted elsewhere (or before jtis existed) stay valid; revocation uses their iat.
  const auto r = codec_.verify(mint(good_claims()), t0);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->jti.empty());
  EXPECT_EQ(r->issued_at, t0_s);
}

TEST_F(JwtTest, ForeignJtiIsReadAsGiven) {
  auto claims = good_claims();
  claims["jti"] = "a-foreign id/with:any chars";
  const auto r = codec_.verify(mint(claims), t0);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->jti, "a-foreign id/with:any chars");
}

TEST_F(JwtTest, BadJtiRejected) {
  auto claims = good_claims();
  claims["jti"] = 17;
  expect_rejected(mint(claims), "jti");
  claims["jti"] = "";
  expect_rejected(mint(claims), "jti");
  claims["jti"] = nullptr;
  expect_rejected(mint(claims), "jti");
  claims["jti"] = std::string(chatrix::auth::max_jti_bytes + 1, 'j');
  expect_rejected(mint(claims), "jti is too long");
  claims["jti"] = std::string("a\0b", 3);
  expect_rejected(mint(claims), "control characters");
  claims["jti"] = "line\nbreak";
  expect_rejected(mint(claims), "control characters");
  claims["jti"] = std::string(chatrix::auth::max_jti_bytes, 'j');
  EXPECT_TRUE(codec_.verify(mint(claims), t0).has_value());
}

}  // namespace
