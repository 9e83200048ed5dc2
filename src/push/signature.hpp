// The webhook's signature: HMAC-SHA256 of the raw body under PUSH_WEBHOOK_SECRET, in lowercase
// hex, as receivers recompute it (docs/protocol.md, "Push for offline devices"). Pure.
#pragma once

#include <string>
#include <string_view>

namespace chatrix::push {

/// HMAC-SHA256(`key`, `data`) as 64 lowercase hex digits.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// The X-Chatrix-Signature value for `body`: "sha256=" followed by hmac_sha256_hex.
std::string signature_header(std::string_view secret, std::string_view body);

}  // namespace chatrix::push
