// Username, password and display-name rules. Lengths of free text are counted in code points
// (what a user thinks of as characters, near enough), after strict UTF-8 validation.
#include "auth/account_rules.hpp"

#include <optional>
#include <vector>

namespace chatrix::auth {
namespace {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
// nullopt on any invalid sequence.
std::optional<std::vector<char32_t>> decode_utf8(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      return std::nullopt;  // a continuation byte or 0xF8..0xFF where a lead byte belongs
    }
    if (i + len > s.size()) return std::nullopt;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    out.push_back(cp);
    i += len;
  }
  return out;
}

// Cc (C0, DEL, C1), plus the line/paragraph separators and the bidi embedding, override and
// isolate controls: a display name is one line, and bidi controls let a name spoof another.
bool is_forbidden_in_name(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// Whitespace and invisible characters that make a name look empty.
bool is_blank(char32_t cp) {
  return cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200D) || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000 || cp == 0xFEFF;
}

bool is_username_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

error invalid(std::string reason) { return make_error(errc::invalid_field, std::move(reason)); }

}  // namespace

result<void> check_username(std::string_view username) {
  // Every allowed character is one ASCII byte, so bytes == characters once the set is checked;
  // checking the set first gives "bad character" rather than a wrong length for non-ASCII input.
  for (const char c : username) {
    if (!is_username_char(c)) return invalid("username may only contain letters A-Z a-z, digits, '_', '.' and '-'");
  }
  if (username.size() < min_username_chars || username.size() > max_username_chars) {
    return invalid("username must be 3 to 32 characters long");
  }
  return {};
}

result<void> check_password(std::string_view password) {
  // The byte bound comes first: it caps the work of the UTF-8 scan as well as of hashing.
  if (password.size() > max_password_bytes) return invalid("password is too long (at most 1024 bytes)");
  const auto code_points = decode_utf8(password);
  if (!code_points) return invalid("password is not valid UTF-8");
  if (code_points->size() < min_password_chars) return invalid("password must be at least 8 characters long");
  return {};
}

result<void> check_display_name(std::string_view name) {
  if (name.empty()) return {};  // replaced by the username later
  // A bound in bytes first (4 per code point at most) so that huge input is not decoded.
  if (name.size() > 4 * max_display_name_chars) return invalid("name is too long (at most 64 characters)");
  const auto code_points = decode_utf8(name);
  if (!code_points) return invalid("name is not valid UTF-8");
  if (code_points->size() > max_display_name_chars) return invalid("name is too long (at most 64 characters)");
  bool blank = true;
  for (const char32_t cp : *code_points) {
    if (is_forbidden_in_name(cp)) return invalid("name may not contain control characters");
    if (!is_blank(cp)) blank = false;
  }
  if (blank) return invalid("name is blank");
  return {};
}

}  // namespace chatrix::auth
