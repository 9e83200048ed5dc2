// The JSON of people and what they keep (accounts, blocks, push devices), shared by the
// routes that answer with them and the export, which writes the very same rows.
#pragma once

#include "core/types.hpp"

#include <string>

namespace chatrix::http {

/// Users are written as every frame writes them (protocol::detail::append_user_fields: a
/// deleted account reads {"id", "username": "", "name": "Deleted account", "deleted": true}).
/// GET /v1/me's object: {"id", "username", "name", "show_presence"}.
void append_account(std::string& out, const user& u);
/// A GET /v1/blocks row: {"id", "username", "name", "blocked_at"} (RFC 3339 with ms).
void append_block(std::string& out, const block_entry& b);
/// A GET /v1/devices row: {"platform", "token", "created_at"} (RFC 3339 with ms).
void append_device(std::string& out, const push_device& d);

}  // namespace chatrix::http
