// What the SQLite store's edits and deletes do on a connection (store.hpp, "edits and
// deletes"): single jobs inside the writer's batch transaction, which refuse before they
// write anything. Internal to src/storage/sqlite.
#pragma once

#include "storage/sqlite/connection.hpp"
#include "storage/store.hpp"

#include <chrono>

namespace chatrix::storage::sqlite_detail {

/// store::edit_message; `retention` for the stream events it adds.
result<edit_result> edit_message(connection& c, const edit_request& req, std::chrono::milliseconds retention);
/// store::delete_messages.
result<delete_result> delete_messages(connection& c, const delete_request& req, std::chrono::milliseconds retention);

}  // namespace chatrix::storage::sqlite_detail
