// UTF-8 validation, for text from the network that JSON and both stores must accept
// (WebSocket text frames, file names).
#pragma once

#include <string_view>

namespace chatrix {

/// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;

}  // namespace chatrix
