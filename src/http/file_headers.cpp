#include "http/file_headers.hpp"

#include "core/utf8.hpp"

#include <algorithm>

namespace chatrix::http {

namespace {

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

/// RFC 9110 tchar.
bool is_token_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_token_char(static_cast<unsigned char>(c)); });
}

/// RFC 8187 attr-char: sent as is in an extended parameter value; anything else is %XX.
bool is_attr_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace

bool valid_file_name(std::string_view name) {
  if (name.empty() || name.size() > max_file_name_bytes || !valid_utf8(name)) return false;
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return c == '/' || is_control(static_cast<unsigned char>(c)); });
}

std::string upload_type(std::string_view content_type) {
  constexpr std::string_view fallback = "application/octet-stream";
  if (content_type.empty() || content_type.size() > max_file_type_bytes) return std::string(fallback);
  const bool printable = std::none_of(content_type.begin(), content_type.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return is_control(u) || u >= 0x80;
  });
  const auto essence = content_type.substr(0, content_type.find(';'));
  const auto slash = essence.find('/');
  auto trimmed = essence;
  while (!trimmed.empty() && trimmed.back() == ' ') trimmed.remove_suffix(1);
  if (!printable || slash == std::string_view::npos || !is_token(trimmed.substr(0, slash)) ||
      !is_token(trimmed.substr(slash + 1)))
    return std::string(fallback);
  return std::string(content_type);
}

std::string attachment_disposition(std::string_view name) {
  constexpr char hex[] = "0123456789ABCDEF";
  std::string out = "attachment; filename=\"";
  // The fallback, for clients that do not read filename*: printable ASCII, without the
  // characters a quoted string would have to escape.
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') ? '_' : c;
  }
  out += "\"; filename*=UTF-8''";
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (is_attr_char(u)) {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0x0F];
    }
  }
  return out;
}

}  // namespace chatrix::http
