// The one place that initialises libsodium. See sodium.hpp.
#include "auth/sodium.hpp"

#include <sodium.h>

#include <stdexcept>

namespace chatrix::auth {

void ensure_sodium() {
  // sodium_init() is itself thread-safe and idempotent; the static just makes sure it runs once,
  // whichever thread gets there first.
  static const int rc = sodium_init();
  if (rc < 0) throw std::runtime_error("libsodium initialisation failed");
}

}  // namespace chatrix::auth
