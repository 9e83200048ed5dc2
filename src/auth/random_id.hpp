// Unguessable ids (file ids): 128 random bits from libsodium, in hex. Not base64url: an id
// that starts with '-' reads as an option on a command line (chatrix-cli download <id>).
#pragma once

#include <string>

namespace chatrix::auth {

/// 32 characters of [0-9a-f]. Thread-safe.
std::string random_id();

}  // namespace chatrix::auth
