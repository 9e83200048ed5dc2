// Where a password comes from when --password is not given: CHATRIX_PASSWORD, a prompt without
// echo when stdin is a terminal, or else one line of stdin (for scripts: `echo pw | chatrix-cli login`).
#pragma once

#include <optional>
#include <string>

namespace chatrix::cli {

/// The password from `flag`, CHATRIX_PASSWORD, the terminal or stdin; throws cli_error (usage)
/// when none is given.
std::string read_password(const std::optional<std::string>& flag);

}  // namespace chatrix::cli
