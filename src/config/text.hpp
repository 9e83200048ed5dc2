// The few text helpers that config.cpp and address.cpp both need to read settings.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace chatrix::config::text {

/// `s` without leading and trailing white space (the C locale's: space, \t \n \v \f \r).
inline std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// ASCII lower case (scheme names, units, keywords).
inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// One or more ASCII digits and nothing else.
inline bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace chatrix::config::text
