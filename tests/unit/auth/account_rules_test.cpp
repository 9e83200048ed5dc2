// Account rules: length boundaries, allowed characters, UTF-8 handling and case folding.
#include "auth/account_rules.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using chatrix::errc;
using namespace chatrix::auth;

void expect_ok(const chatrix::result<void>& r, const std::string& what) {
  EXPECT_TRUE(r.has_value()) << what << ": " << (r.has_error() ? r.error().message : "");
}

void expect_invalid(const chatrix::result<void>& r, const std::string& what, std::string_view reason_part = "") {
  ASSERT_TRUE(r.has_error()) << "accepted: " << what;
  EXPECT_EQ(r.error().code, errc::invalid_field);
  EXPECT_NE(r.error().message.find(reason_part), std::string::npos) << r.error().message;
}

// Repeats a UTF-8 character n times.
std::string repeat(std::string_view ch, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += ch;
  return s;
}

// ---- usernames ----

TEST(UsernameRules, LengthBoundaries) {
  expect_invalid(check_username(""), "empty", "3 to 32");
  expect_invalid(check_username("ab"), "2 chars", "3 to 32");
  expect_ok(check_username("abc"), "3 chars");
  expect_ok(check_username(std::string(32, 'a')), "32 chars");
  expect_invalid(check_username(std::string(33, 'a')), "33 chars", "3 to 32");
}

TEST(UsernameRules, AllowedCharacters) {
  expect_ok(check_username("Alice_B.c-9"), "mixed");
  expect_ok(check_username("..."), "dots");
  for (const char* bad : {"al ice", "alice!", "al@ce", "al/ce", "tab\tx", "ali+ce", "a'b", "x;drop"}) {
    expect_invalid(check_username(bad), bad, "may only contain");
  }
  expect_invalid(check_username(std::string("abc\0", 4)), "embedded NUL", "may only contain");
  // Non-ASCII letters are refused (usernames are ASCII so that folding is simple and unambiguous).
  expect_invalid(check_username("j\xC3\xBCrgen"), "umlaut", "may only contain");
  expect_invalid(check_username("\xD0\xB0lice"), "Cyrillic a", "may only contain");
}

TEST(UsernameRules, Fold) {
  EXPECT_EQ(fold_username("AliCe_B.9"), "alice_b.9");
  EXPECT_EQ(fold_username("alice"), "alice");
  EXPECT_EQ(fold_username(""), "");
  EXPECT_EQ(fold_username("\xC3\x84"), "\xC3\x84") << "non-ASCII bytes are left alone";
}

// ---- passwords ----

TEST(PasswordRules, LengthInCodePoints) {
  expect_invalid(check_password(""), "empty", "at least 8");
  expect_invalid(check_password("1234567"), "7 chars", "at least 8");
  expect_ok(check_password("12345678"), "8 chars");
  // 7 two-byte characters are 14 bytes but only 7 characters.
  expect_invalid(check_password(repeat("\xC3\xA9", 7)), "7 x e-acute", "at least 8");
  expect_ok(check_password(repeat("\xC3\xA9", 8)), "8 x e-acute");
  expect_ok(check_password(repeat("\xF0\x9F\x94\x91", 8)), "8 emoji");
}

TEST(PasswordRules, ByteLimit) {
  expect_ok(check_password(std::string(1024, 'x')), "1024 bytes");
  expect_invalid(check_password(std::string(1025, 'x')), "1025 bytes", "1024 bytes");
  // 256 four-byte characters = 1024 bytes is fine; one more byte is not.
  expect_ok(check_password(repeat("\xF0\x9F\x94\x91", 256)), "1024 bytes of emoji");
  expect_invalid(check_password(repeat("\xF0\x9F\x94\x91", 256) + "x"), "1025 bytes of emoji", "1024 bytes");
}

TEST(PasswordRules, InvalidUtf8) {
  for (const std::string& bad : {
           std::string("abcdefg\xFF"),               // never valid
           std::string("abcdefgh\xC3"),              // truncated sequence
           std::string("abcdefgh\x80"),              // lone continuation
           std::string("abcdefgh\xC0\xAF"),          // overlong '/'
           std::string("abcdefgh\xE0\x80\xAF"),      // overlong, 3 bytes
           std::string("abcdefgh\xED\xA0\x80"),      // UTF-16 surrogate
           std::string("abcdefgh\xF4\x90\x80\x80"),  // above U+10FFFF
       }) {
    expect_invalid(check_password(bad), "bad utf-8", "UTF-8");
  }
}

TEST(PasswordRules, AnyCharactersAllowed) {
  // NIST: no composition rules; spaces and symbols are fine.
  expect_ok(check_password("        "), "8 spaces");
  expect_ok(check_password("pass word with spaces"), "spaces");
  expect_ok(check_password("\xE5\xAF\x86\xE7\xA0\x81\xE5\xAF\x86\xE7\xA0\x81\xE5\xAF\x86\xE7\xA0\x81\xE5\xAF\x86"
                           "\xE7\xA0\x81"),
            "8 CJK characters");
}

// ---- display names ----

TEST(DisplayNameRules, EmptyAllowed) { expect_ok(check_display_name(""), "empty"); }

TEST(DisplayNameRules, LengthBoundaries) {
  expect_ok(check_display_name("A"), "1 char");
  expect_ok(check_display_name(std::string(64, 'a')), "64 chars");
  expect_invalid(check_display_name(std::string(65, 'a')), "65 chars", "at most 64");
  // Counted in code points: 64 three-byte characters (192 bytes) pass, 65 do not.
  expect_ok(check_display_name(repeat("\xE5\xAF\x86", 64)), "64 CJK");
  expect_invalid(check_display_name(repeat("\xE5\xAF\x86", 65)), "65 CJK", "at most 64");
  expect_ok(check_display_name(repeat("\xF0\x9F\x98\x80", 64)), "64 emoji");
  expect_invalid(check_display_name(std::string(100000, 'a')), "huge", "at most 64");
}

TEST(DisplayNameRules, UnicodeNames) {
  expect_ok(check_display_name("J\xC3\xBCrgen M\xC3\xBCller"), "German");
  expect_ok(check_display_name("\xD0\x90\xD0\xBD\xD0\xBD\xD0\xB0"), "Russian");
  expect_ok(check_display_name("\xE5\xB1\xB1\xE7\x94\xB0 \xE5\xA4\xAA\xE9\x83\x8E"), "Japanese with space");
  expect_ok(check_display_name("\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D"), "Hebrew");
  expect_ok(check_display_name("Ana \xF0\x9F\x8C\xBB"), "emoji");
}

TEST(DisplayNameRules, ControlCharactersRejected) {
  for (const std::string& bad : {std::string("Bob\nSmith"), std::string("Bob\tSmith"), std::string("Bob\rx"),
                                 std::string("Bob\0x", 5), std::string("Bob\x1B[31m"), std::string("Bob\x7F"),
                                 std::string("Bob\xC2\x85"),         // U+0085 NEL (C1)
                                 std::string("Bob\xE2\x80\xA8"),     // U+2028 line separator
                                 std::string("Bob\xE2\x80\xAE"),     // U+202E right-to-left override
                                 std::string("Bob\xE2\x81\xA6")}) {  // U+2066 left-to-right isolate
    expect_invalid(check_display_name(bad), "control", "control characters");
  }
}

TEST(DisplayNameRules, BlankRejected) {
  expect_invalid(check_display_name(" "), "one space", "blank");
  expect_invalid(check_display_name("   "), "spaces", "blank");
  expect_invalid(check_display_name("\xE3\x80\x80"), "ideographic space", "blank");
  expect_invalid(check_display_name("\xE2\x80\x8B\xC2\xA0"), "zero-width + nbsp", "blank");
  expect_ok(check_display_name(" Bob "), "padded but not blank");
}

TEST(DisplayNameRules, InvalidUtf8Rejected) {
  expect_invalid(check_display_name("Bob\xFF"), "0xFF", "UTF-8");
  expect_invalid(check_display_name("Bob\xE5\xAF"), "truncated", "UTF-8");
  expect_invalid(check_display_name("\xC1\x81"), "overlong", "UTF-8");
}

}  // namespace
