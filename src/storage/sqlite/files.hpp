// What the SQLite store's file calls do on a connection (store.hpp, "files"; migration 5):
// the writes run as single jobs inside the writer's batch transaction, the reads on a
// reader. The bytes live in file_chunks, one BLOB per chunk of at most file_chunk_bytes.
// Internal to src/storage/sqlite.
#pragma once

#include "storage/sqlite/connection.hpp"
#include "storage/store.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace chatrix::storage::sqlite_detail {

/// Uploads still incomplete this long after they started are forgotten by later create_file calls.
inline constexpr unix_ms abandoned_upload_ms = 24LL * 3600 * 1000;

/// store::create_file: false when the id exists. Also forgets a few abandoned uploads
/// (older than abandoned_upload_ms by the new file's created_at).
result<bool> create_file(connection& c, const stored_file& f);
/// store::append_file_chunk: false when there is no incomplete file `id`, or the chunk exists;
/// errc::invalid_field for a chunk over file_chunk_bytes or a negative index.
result<bool> append_file_chunk(connection& c, const std::string& id, int index, const std::string& bytes);
/// store::finish_file: false unless `id` is incomplete and holds exactly chunks 0..chunks-1
/// of `size` bytes in all.
result<bool> finish_file(connection& c, const std::string& id, std::int64_t size, int chunks);
/// store::file_for.
result<std::optional<stored_file>> file_for(connection& c, user_id viewer, const std::string& id);
/// store::read_file_chunk: errc::not_found when there is no such chunk of a complete file.
result<std::string> read_file_chunk(connection& c, const std::string& id, int index);

}  // namespace chatrix::storage::sqlite_detail
