#include "file_names.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace chatrix::cli {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// %XX decoded; empty when the encoding is broken.
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return {};
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return {};
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

/// The value of parameter `name` (already lower case) in a header's parameters, unquoted.
std::string parameter(std::string_view header, std::string_view name) {
  std::size_t at = 0;
  while (at < header.size()) {
    const std::size_t end = header.find(';', at);
    std::string_view part = header.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    at = end == std::string_view::npos ? header.size() : end + 1;
    const std::size_t equals = part.find('=');
    if (equals == std::string_view::npos) continue;
    std::string_view key = part.substr(0, equals);
    std::string_view value = part.substr(equals + 1);
    const auto trim = [](std::string_view s) {
      while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
      return s;
    };
    key = trim(key);
    value = trim(value);
    if (lower(key) != name) continue;
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return {};
}

}  // namespace

std::string media_type_for(const std::filesystem::path& path) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 16> known{{
      {".txt", "text/plain"},        {".md", "text/markdown"},     {".csv", "text/csv"},
      {".json", "application/json"}, {".pdf", "application/pdf"},  {".zip", "application/zip"},
      {".png", "image/png"},         {".jpg", "image/jpeg"},       {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},         {".webp", "image/webp"},      {".svg", "image/svg+xml"},
      {".mp3", "audio/mpeg"},        {".ogg", "audio/ogg"},        {".mp4", "video/mp4"},
      {".webm", "video/webm"},
  }};
  const std::string extension = lower(path.extension().string());
  for (const auto& [ext, type] : known)
    if (ext == extension) return std::string(type);
  return "application/octet-stream";
}

std::string attachment_file_name(std::string_view content_disposition) {
  const std::string extended = parameter(content_disposition, "filename*");
  constexpr std::string_view utf8_prefix = "utf-8''";
  if (extended.size() > utf8_prefix.size() && lower(extended.substr(0, utf8_prefix.size())) == utf8_prefix) {
    std::string decoded = percent_decoded(std::string_view(extended).substr(utf8_prefix.size()));
    if (!decoded.empty()) return decoded;
  }
  return parameter(content_disposition, "filename");
}

std::string local_file_name(std::string_view served_name, std::string_view fallback) {
  const std::size_t slash = served_name.find_last_of("/\\");
  std::string name(slash == std::string_view::npos ? served_name : served_name.substr(slash + 1));
  std::erase_if(name, [](unsigned char c) { return c < 0x20 || c == 0x7f; });
  if (name.empty() || name == "." || name == "..") return std::string(fallback);
  return name;
}

}  // namespace chatrix::cli
