// Rules for usernames, passwords and display names. Pure functions; no I/O.
#pragma once

#include "core/error.hpp"
#include "core/username.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace chatrix::auth {

using chatrix::fold_username;  // the rule lives in core, shared with the stores

inline constexpr std::size_t min_username_chars = 3;
inline constexpr std::size_t max_username_chars = 32;
inline constexpr std::size_t min_password_chars = 8;     // NIST SP 800-63B: length, not composition
inline constexpr std::size_t max_password_bytes = 1024;  // bounds the hashing work
inline constexpr std::size_t max_display_name_chars = 64;

/// 3–32 of [A-Za-z0-9_.-]; errc::invalid_field with a readable reason otherwise.
result<void> check_username(std::string_view username);
/// At least 8 characters (UTF-8 code points), at most 1024 bytes, valid UTF-8.
result<void> check_password(std::string_view password);
/// Free text, valid UTF-8, trimmed non-empty, at most 64 characters, no control characters.
/// An empty name is allowed and later replaced by the username.
result<void> check_display_name(std::string_view name);

}  // namespace chatrix::auth
