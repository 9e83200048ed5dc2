// Argon2id password hashing (libsodium). Hashing is deliberately slow: call these only on a
// worker thread, never on an I/O thread.
#pragma once

#include "core/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace chatrix::auth {

/// Argon2id cost. `interactive` is the production default (t=2, 64 MiB, ~100 ms here);
/// `moderate` is stronger (t=3, 256 MiB); `minimal` is for tests only.
struct argon2_cost {
  unsigned long long ops_limit = 0;
  std::size_t mem_limit = 0;

  static argon2_cost interactive();
  static argon2_cost moderate();
  static argon2_cost minimal();
  /// "interactive", "moderate" or "min"; errc::invalid_field otherwise.
  static result<argon2_cost> from_name(std::string_view name);
};

/// Thread-safety: immutable; safe from any thread (each call allocates its own memory).
class password_hasher {
 public:
  /// Initialises libsodium (once per process). Throws std::invalid_argument when `cost` is
  /// outside libsodium's Argon2id limits, so a bad cost fails at startup, not at first login.
  explicit password_hasher(argon2_cost cost);

  /// An encoded "$argon2id$v=19$..." string (parameters and salt included).
  result<std::string> hash(std::string_view password) const;
  /// True when `password` matches `encoded` (constant time in libsodium).
  bool verify(std::string_view encoded, std::string_view password) const;

 private:
  argon2_cost cost_;
};

}  // namespace chatrix::auth
