// Row readers of the PostgreSQL store: results come in libpq's text format, and the column
// orders match queries.hpp.
#pragma once

#include "core/error.hpp"
#include "core/types.hpp"
#include "storage/store.hpp"

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::storage::postgres_detail {

/// For writes answering whether they changed something: a row back means yes.
inline result<bool> changed_a_row(const PGresult* r) { return PQntuples(r) > 0; }

/// Throws std::runtime_error if the value is not an integer.
std::int64_t i64(const PGresult* r, int row, int col);
std::optional<std::int64_t> opt_i64(const PGresult* r, int row, int col);
std::string text(const PGresult* r, int row, int col);

/// A boolean column in text form.
bool boolean(const PGresult* r, int row, int col);
/// Columns as CHATRIX_PG_USER_COLUMNS in queries.hpp: id, username, name, deleted,
/// show_presence, last_seen.
user read_user(const PGresult* r, int row, int first);
/// Columns id, username, name only (search results), the rest left at their defaults.
user read_user_names(const PGresult* r, int row, int first);
/// Columns as CHATRIX_PG_MESSAGE_COLUMNS in queries.hpp.
message read_message(const PGresult* r, int row, int first);
std::vector<message> read_messages(const PGresult* r);
/// Columns as CHATRIX_PG_PREVIEW_COLUMNS in queries.hpp.
chat_preview read_preview(const PGresult* r, int row, int first);
/// A bigint[] in text form ({1,2,3}).
std::vector<std::int64_t> i64_array(const PGresult* r, int row, int col);
/// bytea sent as encode(..., 'hex'), and bytes for decode($n, 'hex').
std::string from_hex(const PGresult* r, int row, int col);
std::string to_hex(std::string_view bytes);
/// Columns pos, kind, conversation, ids, at.
stream_entry read_entry(const PGresult* r, int row, int first, user_id owner);
/// Rows laid out as sql::session_start's (parts 0 to 4): previews, pending and block
/// relations into `out`, head and events into `page` (out.latest too).
void read_session_rows(const PGresult* r, user_id viewer, session_snapshot& out, stream_page& page);

}  // namespace chatrix::storage::postgres_detail
