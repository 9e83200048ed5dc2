// Helpers shared by the files that make up redis_bus (not part of its interface).
#pragma once

#include "core/types.hpp"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace chatrix::cluster::redis::detail {

inline unix_ms now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::int64_t to_int(std::string_view s, std::int64_t fallback = 0) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : fallback;
}

}  // namespace chatrix::cluster::redis::detail
