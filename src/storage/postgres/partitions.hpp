// Which writer connection of the PostgreSQL store a write goes to.
//
// Writes are split over the writer connections so that those whose order matters share
// one: a conversation's appends (its numbering, retries) by the pair, a recipient's
// receipts and reads (each receipt reported once) by the user. No two writers then
// touch the same rows, so their transactions never wait for each other.
#pragma once

#include "core/types.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string_view>

namespace chatrix::storage::postgres_detail {

inline std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  return x ^ (x >> 33);
}
inline std::uint64_t partition_of_user(user_id id) noexcept { return mix(static_cast<std::uint64_t>(id)); }
inline std::uint64_t partition_of_key(std::string_view key) noexcept {
  return mix(std::hash<std::string_view>{}(key));
}
inline std::uint64_t partition_of_pair(user_id a, user_id b) noexcept {
  const auto lo = static_cast<std::uint64_t>(std::min(a, b)), hi = static_cast<std::uint64_t>(std::max(a, b));
  return mix(lo * 0x9E3779B97F4A7C15ull + hi);
}

}  // namespace chatrix::storage::postgres_detail
