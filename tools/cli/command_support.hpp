// What the commands that use the socket share: opening the session, deadlines, and reading
// frames.
#pragma once

#include "client.hpp"
#include "commands.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chatrix::cli {

/// The saved login's session (cli_error unauthorized without one), resuming from `since` if given.
chat_session open_session(const context& ctx, std::optional<std::int64_t> since = std::nullopt);

clock::time_point deadline_after(double seconds);

/// The words of a command line joined with single spaces.
std::string join(const std::vector<std::string>& words);

inline bool is(const frame& f, event type) { return f.type == static_cast<int>(type); }

/// An ERR about the connection itself (no ref_type: token expired or revoked, flood), which ends
/// whatever the command waits for.
bool about_connection(const frame& f);

/// An ERR refusing a frame of `type` (ref_type), or about the connection.
bool refuses(const frame& f, event type);

/// The ids a command line names, as a JSON array.
boost::json::array id_array(const std::vector<std::int64_t>& ids);

}  // namespace chatrix::cli
