#include "core/log_format.hpp"

#include "core/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

namespace chatrix::log {

namespace {

void append(spdlog::memory_buf_t& dest, std::string_view s) { dest.append(s.data(), s.data() + s.size()); }

// ---- text ----

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (const char c : value)
    if (c == ' ' || c == '"' || c == '=') return true;
  return false;
}

/// The pattern flag %* : the line's fields, each "key=value ", before the message.
class text_fields final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    for (const auto& f : current_fields()) {
      append(dest, f.key);
      dest.push_back('=');
      const bool quoted = needs_quotes(f.value);
      if (quoted) dest.push_back('"');
      for (const char c : f.value) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          dest.push_back('?');
        } else {
          if (quoted && (c == '"' || c == '\\')) dest.push_back('\\');
          dest.push_back(c);
        }
      }
      if (quoted) dest.push_back('"');
      dest.push_back(' ');
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<text_fields>(); }
};

// ---- JSON ----

/// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629 table), 0 if none.
std::size_t utf8_sequence(std::string_view s) {
  const auto byte = [&](std::size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
  const auto in = [](unsigned b, unsigned lo, unsigned hi) { return b >= lo && b <= hi; };
  const unsigned b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (in(b0, 0xC2, 0xDF)) return in(byte(1), 0x80, 0xBF) ? 2 : 0;
  if (in(b0, 0xE0, 0xEF)) {
    const unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) ? 3 : 0;
  }
  if (in(b0, 0xF0, 0xF4)) {
    const unsigned lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) && in(byte(3), 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

void append_json_string(spdlog::memory_buf_t& dest, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  dest.push_back('"');
  while (!s.empty()) {
    const auto n = utf8_sequence(s);
    if (n == 0) {
      append(dest, "\\ufffd");
      s.remove_prefix(1);
      continue;
    }
    const char c = s.front();
    if (c == '"' || c == '\\') {
      dest.push_back('\\');
      dest.push_back(c);
    } else if (c == '\n') {
      append(dest, "\\n");
    } else if (static_cast<unsigned char>(c) < 0x20) {
      const auto code = static_cast<unsigned char>(c);
      append(dest, "\\u00");
      dest.push_back(hex[code >> 4]);
      dest.push_back(hex[code & 0xF]);
    } else {
      append(dest, s.substr(0, n));
    }
    s.remove_prefix(n);
  }
  dest.push_back('"');
}

class json_lines final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    append(dest, "{\"ts\":\"");
    append_utc_time(msg.time, dest);
    append(dest, "\",\"level\":");
    const auto level = spdlog::level::to_string_view(msg.level);
    append_json_string(dest, std::string_view(level.data(), level.size()));
    append(dest, ",\"msg\":");
    append_json_string(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    for (const auto& f : current_fields()) {
      dest.push_back(',');
      append_json_string(dest, f.key);
      dest.push_back(':');
      if (f.number) {
        append(dest, f.value);
      } else {
        append_json_string(dest, f.value);
      }
    }
    append(dest, "}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_lines>(); }

 private:
  /// RFC 3339 in UTC with milliseconds: 2026-12-07T10:15:02.123Z.
  static void append_utc_time(spdlog::log_clock::time_point time, spdlog::memory_buf_t& dest) {
    const auto since_epoch = time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t t = seconds.count();
    std::tm utc{};
    gmtime_r(&t, &utc);
    char text[32];
    const auto n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    append(dest, std::string_view(text, n));
    fmt::format_to(std::back_inserter(dest), ".{:03}Z", millis);
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> text_formatter() {
  // spdlog's default line ("%+" for an unnamed logger) with the fields before the message.
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<text_fields>('*').set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %*%v");
  return f;
}

std::unique_ptr<spdlog::formatter> json_formatter() { return std::make_unique<json_lines>(); }

void use_format(std::string_view format) { spdlog::set_formatter(format == "json" ? json_formatter() : text_formatter()); }

}  // namespace chatrix::log
