// PostgreSQL store: edits and deletes (chatrix_edit_message, chatrix_delete_messages), each
// one statement on the writer of the person asking, so one sender's changes apply in order.

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
using postgres_detail::i64;
using postgres_detail::i64_array;
using postgres_detail::make_job;
using postgres_detail::params;
using postgres_detail::partition_of_user;
using postgres_detail::read_message;
using postgres_detail::text;

void postgres_store::edit_message(edit_request req, callback<edit_result> done) {
  params p;
  p.add(req.editor).add(req.id).add(req.content).add(req.now).add(req.window);
  auto j = make_job<edit_result>(sql::edit_message, std::move(p), std::move(done),
                                 [](const PGresult* r) -> result<edit_result> {
                                   const std::string status = PQntuples(r) > 0 ? text(r, 0, 0) : "";
                                   if (status == "ok") return edit_result{read_message(r, 0, 1), {}};
                                   if (status == "forbidden")
                                     return make_error(errc::forbidden, "only the sender may edit a message");
                                   if (status == "deleted")
                                     return make_error(errc::invalid_field, "the message was deleted");
                                   if (status == "window_closed")
                                     return make_error(errc::edit_window_closed, "too late to edit this message");
                                   return make_error(errc::not_found, "no such message");
                                 });
  if (req.content.find('\0') != std::string::npos) {
    j->fail(make_error(errc::invalid_field, "content contains a NUL character"));
    loop_->finish(std::move(j));
    return;
  }
  loop_->write(std::move(j), partition_of_user(req.editor));
}

void postgres_store::delete_messages(delete_request req, callback<delete_result> done) {
  params p;
  p.add(req.requester).add_array(req.ids).add(req.now);
  auto j = make_job<delete_result>(sql::delete_messages, std::move(p), std::move(done),
                                   [now = req.now](const PGresult* r) -> result<delete_result> {
                                     const std::string status = PQntuples(r) > 0 ? text(r, 0, 0) : "";
                                     if (status == "ok") return delete_result{i64(r, 0, 1), i64_array(r, 0, 2), now, {}};
                                     if (status == "forbidden")
                                       return make_error(errc::forbidden, "only the sender may delete a message");
                                     if (status == "several")
                                       return make_error(errc::invalid_field, "messages of one conversation at a time");
                                     return make_error(errc::not_found, "no such message");
                                   });
  if (req.ids.empty()) {
    j->fail(make_error(errc::invalid_field, "no message ids"));
    loop_->finish(std::move(j));
    return;
  }
  loop_->write(std::move(j), partition_of_user(req.requester));
}

}  // namespace chatrix::storage
