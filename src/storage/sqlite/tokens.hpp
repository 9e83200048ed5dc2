// What the SQLite store's token calls do on a connection (store.hpp, "tokens"): the writes
// run as single jobs inside the writer's batch transaction, the read on a reader.
// Internal to src/storage/sqlite.
#pragma once

#include "storage/sqlite/connection.hpp"
#include "storage/store.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace chatrix::storage::sqlite_detail {

/// store::record_token; `now` (unix ms) decides which records have expired.
result<bool> record_token(connection& c, const token_record& t, unix_ms now);
/// store::revoke_token.
result<bool> revoke_token(connection& c, const token_record& t, unix_ms now);
/// store::revoke_user_tokens.
result<std::vector<token_record>> revoke_user_tokens(connection& c, user_id user, const std::string& keep_jti,
                                                     std::int64_t now_s);
/// store::revocations; the caller holds a read transaction around it (one snapshot).
result<revocation_snapshot> read_revocations(connection& c, unix_ms now);

}  // namespace chatrix::storage::sqlite_detail
