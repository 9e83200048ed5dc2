// password_hasher with the minimal Argon2id cost (fast), plus the documented production costs
// asserted on their constants rather than timed.
#include "auth/password.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using chatrix::errc;
using chatrix::auth::argon2_cost;
using chatrix::auth::password_hasher;

class PasswordTest : public ::testing::Test {
 protected:
  password_hasher hasher_{argon2_cost::minimal()};
};

TEST_F(PasswordTest, HashThenVerify) {
  const auto encoded = hasher_.hash("correct horse battery staple");
  ASSERT_TRUE(encoded.has_value()) << encoded.error().message;
  EXPECT_TRUE(encoded->starts_with("$argon2id$v=19$")) << *encoded;
  EXPECT_TRUE(hasher_.verify(*encoded, "correct horse battery staple"));
}

TEST_F(PasswordTest, WrongPasswordFails) {
  const auto encoded = hasher_.hash("correct horse battery staple").value();
  EXPECT_FALSE(hasher_.verify(encoded, "correct horse battery stapl"));
  EXPECT_FALSE(hasher_.verify(encoded, "Correct horse battery staple"));
  EXPECT_FALSE(hasher_.verify(encoded, ""));
}

TEST_F(PasswordTest, SaltMakesHashesDiffer) {
  const auto a = hasher_.hash("same password").value();
  const auto b = hasher_.hash("same password").value();
  EXPECT_NE(a, b);
  EXPECT_TRUE(hasher_.verify(a, "same password"));
  EXPECT_TRUE(hasher_.verify(b, "same password"));
}

TEST_F(PasswordTest, EncodedHashCarriesTheCost) {
  // Minimal: t=1, m=8 KiB. The encoded string records it, so a profile change keeps old hashes valid.
  const auto encoded = hasher_.hash("pw").value();
  EXPECT_NE(encoded.find("$m=8,t=1,p=1$"), std::string::npos) << encoded;
  const password_hasher other{argon2_cost{2, 16 * 1024}};
  EXPECT_TRUE(other.verify(encoded, "pw"));
}

TEST_F(PasswordTest, UnicodeAndBinaryPasswords) {
  const std::string unicode = "p\xC3\xA4sswort \xF0\x9F\x94\x91";
  const std::string with_nul("abc\0def", 7);
  EXPECT_TRUE(hasher_.verify(hasher_.hash(unicode).value(), unicode));
  const auto encoded = hasher_.hash(with_nul).value();
  EXPECT_TRUE(hasher_.verify(encoded, with_nul));
  EXPECT_FALSE(hasher_.verify(encoded, "abc"));  // the NUL is part of the password, not its end
}

TEST_F(PasswordTest, GarbageEncodedNeverVerifies) {
  EXPECT_FALSE(hasher_.verify("", "x"));
  EXPECT_FALSE(hasher_.verify("not a hash", "not a hash"));
  EXPECT_FALSE(hasher_.verify("$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB", "x"));
  EXPECT_FALSE(hasher_.verify(std::string(4096, '$'), "x"));
  auto encoded = hasher_.hash("pw").value();
  encoded.back() = encoded.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(hasher_.verify(encoded, "pw"));
}

TEST(Argon2Cost, InteractiveIsTheDocumentedProfile) {
  const auto c = argon2_cost::interactive();
  EXPECT_EQ(c.ops_limit, 2u);
  EXPECT_EQ(c.mem_limit, 64u * 1024 * 1024);
}

TEST(Argon2Cost, ModerateAndMinimal) {
  EXPECT_EQ(argon2_cost::moderate().ops_limit, 3u);
  EXPECT_EQ(argon2_cost::moderate().mem_limit, 256u * 1024 * 1024);
  EXPECT_EQ(argon2_cost::minimal().ops_limit, 1u);
  EXPECT_EQ(argon2_cost::minimal().mem_limit, 8u * 1024);
}

TEST(Argon2Cost, FromName) {
  const auto check = [](const char* name, argon2_cost expected) {
    const auto r = argon2_cost::from_name(name);
    ASSERT_TRUE(r.has_value()) << name;
    EXPECT_EQ(r->ops_limit, expected.ops_limit) << name;
    EXPECT_EQ(r->mem_limit, expected.mem_limit) << name;
  };
  check("interactive", argon2_cost::interactive());
  check("moderate", argon2_cost::moderate());
  check("min", argon2_cost::minimal());
  for (const char* bad : {"", "fast", "minimal", "Interactive", "sensitive"}) {
    const auto r = argon2_cost::from_name(bad);
    ASSERT_TRUE(r.has_error()) << bad;
    EXPECT_EQ(r.error().code, errc::invalid_field);
    EXPECT_NE(r.error().message.find("interactive, moderate or min"), std::string::npos);
  }
}

TEST(PasswordHasher, RejectsCostOutsideLibsodiumRange) {
  EXPECT_THROW(password_hasher(argon2_cost{}), std::invalid_argument);
  EXPECT_THROW(password_hasher(argon2_cost{1, 1024}), std::invalid_argument);
}

}  // namespace
