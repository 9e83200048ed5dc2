// The webhook signature against RFC 4231's HMAC-SHA256 vectors, and the header's form.
#include "push/signature.hpp"

#include <gtest/gtest.h>

namespace chatrix::push {
namespace {

TEST(push_signature, rfc4231_test_case_2) {
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(push_signature, rfc4231_test_case_1) {
  EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(push_signature, header_is_sha256_and_lowercase_hex) {
  const auto header = signature_header("0123456789abcdef", R"({"event":"message"})");
  ASSERT_EQ(header.size(), 7u + 64u);
  EXPECT_EQ(header.substr(0, 7), "sha256=");
  EXPECT_EQ(header.substr(7), hmac_sha256_hex("0123456789abcdef", R"({"event":"message"})"));
  for (char c : header.substr(7)) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << header;
  EXPECT_NE(header, signature_header("0123456789abcdeF", R"({"event":"message"})"));
}

}  // namespace
}  // namespace chatrix::push
