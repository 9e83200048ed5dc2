// libsodium must be initialised before its first use; the password hasher and the token codec
// (its base64url) both call this from their constructors.
#pragma once

namespace chatrix::auth {

/// Runs sodium_init() once per process. Thread-safe. Throws std::runtime_error if it fails.
void ensure_sodium();

}  // namespace chatrix::auth
