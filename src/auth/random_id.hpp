// Unguessable ids (file ids): 128 random bits from libsodium, base64url without padding.
#pragma once

#include <string>

namespace chatrix::auth {

/// 22 characters of [A-Za-z0-9_-]. Thread-safe.
std::string random_id();

}  // namespace chatrix::auth
