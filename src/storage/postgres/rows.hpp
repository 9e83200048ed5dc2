// Row readers of the PostgreSQL store: results come in libpq's text format, and the column
// orders match queries.hpp.
#pragma once

#include "core/types.hpp"

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chatrix::storage::postgres_detail {

/// Throws std::runtime_error if the value is not an integer.
std::int64_t i64(const PGresult* r, int row, int col);
std::optional<std::int64_t> opt_i64(const PGresult* r, int row, int col);
std::string text(const PGresult* r, int row, int col);

user read_user(const PGresult* r, int row, int first);
/// Columns as CHATRIX_PG_MESSAGE_COLUMNS in queries.hpp.
message read_message(const PGresult* r, int row, int first);
std::vector<message> read_messages(const PGresult* r);
/// Columns as CHATRIX_PG_PREVIEW_COLUMNS in queries.hpp.
chat_preview read_preview(const PGresult* r, int row, int first);

}  // namespace chatrix::storage::postgres_detail
