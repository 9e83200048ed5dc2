// Helpers shared by the parts of redis_bus (not part of its interface).
#pragma once

#include <charconv>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace chatrix::cluster::redis::detail {

/// A whole decimal string as an integer; `fallback` for anything else (Redis values written
/// by other nodes, or by hand).
inline std::int64_t to_int(std::string_view s, std::int64_t fallback = 0) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : fallback;
}

}  // namespace chatrix::cluster::redis::detail
