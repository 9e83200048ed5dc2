// The SQLite store's files (see files.hpp).

#include "storage/sqlite/files.hpp"

#include "storage/sqlite/queries.hpp"

#include <vector>

namespace chatrix::storage::sqlite_detail {

namespace {

void forget_abandoned_uploads(connection& c, const std::string& writing_id, unix_ms now) {
  std::vector<std::string> abandoned;
  {
    query q(c, sql::select_abandoned_files);
    q.bind(now - abandoned_upload_ms, writing_id, store::max_pruned_per_write);
    while (q.step()) abandoned.push_back(q.text(0));
  }
  for (const auto& id : abandoned) {
    query(c, sql::delete_file_chunks).bind(id).run();
    query(c, sql::delete_file).bind(id).run();
  }
}

}  // namespace

result<bool> create_file(connection& c, const stored_file& f) {
  forget_abandoned_uploads(c, f.info.id, f.created_at);
  query(c, sql::insert_file).bind(f.info.id, f.owner, f.info.name, f.info.type, f.created_at).run();
  return c.changes() == 1;
}

result<bool> append_file_chunk(connection& c, const std::string& id, int index, const std::string& bytes) {
  if (bytes.size() > file_chunk_bytes || index < 0) return make_error(errc::invalid_field, "bad file chunk");
  {
    query q(c, sql::select_incomplete_file);
    q.bind(id);
    if (!q.step()) return false;
  }
  query(c, sql::insert_file_chunk).bind(id, index, blob{bytes}).run();
  return c.changes() == 1;
}

result<bool> finish_file(connection& c, const std::string& id, std::int64_t size, int chunks) {
  {
    query q(c, sql::select_file_chunk_totals);
    q.bind(id);
    if (!q.step() || q.int64(0) != chunks || q.int64(1) != chunks - 1 || q.int64(2) != size) return false;
  }
  query(c, sql::finish_file).bind(id, size, chunks).run();
  return c.changes() == 1;
}

result<std::optional<stored_file>> file_for(connection& c, user_id viewer, const std::string& id) {
  query q(c, sql::select_file_for);
  q.bind(id, viewer);
  if (!q.step()) return std::optional<stored_file>();
  stored_file f;
  f.info = file_info{q.text(0), q.text(1), q.text(2), q.int64(3)};
  f.owner = q.int64(4);
  f.created_at = q.int64(5);
  f.complete = q.int64(6) != 0;
  f.chunks = static_cast<int>(q.int64(7));
  return std::optional<stored_file>(std::move(f));
}

result<std::string> read_file_chunk(connection& c, const std::string& id, int index) {
  query q(c, sql::select_file_chunk);
  q.bind(id, index);
  if (!q.step()) return make_error(errc::not_found, "no such file chunk");
  return q.blob_bytes(0);
}

}  // namespace chatrix::storage::sqlite_detail
