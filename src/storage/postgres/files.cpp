// PostgreSQL store: uploaded files, chunk by chunk (files and file_chunks, migration 7).

#include "storage/postgres/postgres_store.hpp"

#include "storage/postgres/event_loop.hpp"
#include "storage/postgres/job.hpp"
#include "storage/postgres/partitions.hpp"
#include "storage/postgres/queries.hpp"
#include "storage/postgres/rows.hpp"

#include <string>
#include <utility>

namespace chatrix::storage {

namespace sql = postgres_detail::sql;
using postgres_detail::changed_a_row;
using postgres_detail::i64;
using postgres_detail::make_job;
using postgres_detail::params;
using postgres_detail::partition_of_key;
using postgres_detail::text;

// A file's writes go to the writer of its id, so its chunks and its finish apply in call order.

void postgres_store::create_file(stored_file f, callback<bool> done) {
  params p;
  p.add(f.info.id).add(f.owner).add(f.info.name).add(f.info.type).add(f.created_at);
  p.add(f.created_at - loop_->options().abandoned_upload.count());
  auto j = make_job<bool>(sql::create_file, std::move(p), std::move(done), changed_a_row);
  const auto has_nul = [](const std::string& v) { return v.find('\0') != std::string::npos; };
  if (f.info.id.empty() || has_nul(f.info.id) || has_nul(f.info.name) || has_nul(f.info.type)) {
    j->fail(make_error(errc::invalid_field, "file id, name and type are text without NUL"));
    loop_->finish(std::move(j));
    return;
  }
  loop_->write(std::move(j), partition_of_key(f.info.id));
}

void postgres_store::append_file_chunk(std::string id, int index, std::string bytes, callback<bool> done) {
  params p;
  p.add(id).add(std::int64_t{index}).add(postgres_detail::to_hex(bytes));
  auto j = make_job<bool>(sql::append_file_chunk, std::move(p), std::move(done), changed_a_row);
  if (index < 0 || bytes.size() > file_chunk_bytes) {
    j->fail(make_error(errc::invalid_field, "a chunk has an index from 0 and at most file_chunk_bytes"));
    loop_->finish(std::move(j));
    return;
  }
  loop_->write(std::move(j), partition_of_key(id));
}

void postgres_store::finish_file(std::string id, std::int64_t size, int chunks, callback<bool> done) {
  params p;
  p.add(id).add(size).add(std::int64_t{chunks});
  loop_->write(make_job<bool>(sql::finish_file, std::move(p), std::move(done), changed_a_row), partition_of_key(id));
}

void postgres_store::file_for(user_id viewer, std::string id, callback<std::optional<stored_file>> done) {
  params p;
  p.add(viewer).add(std::move(id));
  loop_->read(make_job<std::optional<stored_file>>(
      sql::select_file_for, std::move(p), std::move(done), [](const PGresult* r) -> result<std::optional<stored_file>> {
        if (PQntuples(r) == 0) return std::optional<stored_file>();
        stored_file f;
        f.info = file_info{text(r, 0, 0), text(r, 0, 1), text(r, 0, 2), i64(r, 0, 3)};
        f.owner = i64(r, 0, 4);
        f.created_at = i64(r, 0, 5);
        f.complete = true;
        f.chunks = static_cast<int>(i64(r, 0, 6));
        return std::optional<stored_file>(std::move(f));
      }));
}

void postgres_store::read_file_chunk(std::string id, int index, callback<std::string> done) {
  params p;
  p.add(std::move(id)).add(std::int64_t{index});
  loop_->read(make_job<std::string>(sql::select_file_chunk, std::move(p), std::move(done),
                                    [](const PGresult* r) -> result<std::string> {
                                      if (PQntuples(r) == 0) return make_error(errc::not_found, "no such chunk");
                                      return postgres_detail::from_hex(r, 0, 0);
                                    }));
}

}  // namespace chatrix::storage
