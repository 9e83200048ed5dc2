// PostgreSQL store: profiles, last seen, blocks, account deletion and push devices
// (migration 8, migration_people.hpp). Each call is one statement; a user's writes go to that
// user's writer, so one user's changes apply in call order.

#include "storage/postgres/postgres_store.hpp"

#include "storage/postgres/event_loop.hpp"
#include "storage/postgres/job.hpp"
#include "storage/postgres/partitions.hpp"
#include "storage/postgres/queries.hpp"
#include "storage/postgres/rows.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace chatrix::storage {

namespace sql = postgres_detail::sql;
using postgres_detail::boolean;
using postgres_detail::changed_a_row;
using postgres_detail::i64;
using postgres_detail::i64_array;
using postgres_detail::make_job;
using postgres_detail::params;
using postgres_detail::partition_of_user;
using postgres_detail::read_user;
using postgres_detail::text;

namespace {

bool has_nul(std::string_view v) { return v.find('\0') != std::string_view::npos; }

/// PostgreSQL text cannot hold NUL: such a value is refused before it reaches a batch (where
/// its error would abort every other write of the transaction).
bool refuse_nul(postgres_detail::event_loop& loop, bool bad, std::unique_ptr<postgres_detail::job>& j) {
  if (!bad) return false;
  j->fail(make_error(errc::invalid_field, "text must not contain a NUL character"));
  loop.finish(std::move(j));
  return true;
}

result<bool> first_column_true(const PGresult* r) { return PQntuples(r) > 0 && boolean(r, 0, 0); }

}  // namespace

void postgres_store::update_profile(profile_update u, callback<std::optional<user>> done) {
  params p;
  p.add(u.id).add(u.name);
  p.add(u.show_presence ? std::optional<std::string>(*u.show_presence ? "true" : "false") : std::nullopt);
  auto j = make_job<std::optional<user>>(sql::update_profile, std::move(p), std::move(done),
                                         [](const PGresult* r) -> result<std::optional<user>> {
                                           if (PQntuples(r) == 0) return std::optional<user>();
                                           return std::optional<user>(read_user(r, 0, 0));
                                         });
  if (refuse_nul(*loop_, u.name && has_nul(*u.name), j)) return;
  loop_->write(std::move(j), partition_of_user(u.id));
}

void postgres_store::set_last_seen(std::vector<std::pair<user_id, unix_ms>> seen, callback<bool> done) {
  // One job per writer, holding the users that writer owns.
  const auto writers = static_cast<std::uint64_t>(loop_->options().writers);
  std::map<std::uint64_t, std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>>> parts;
  for (const auto& [id, at] : seen) {
    auto& part = parts[partition_of_user(id) % writers];
    part.first.push_back(id);
    part.second.push_back(at);
  }
  if (parts.empty()) {
    auto j = make_job<bool>(sql::set_last_seen, params(), std::move(done),
                            [](const PGresult*) -> result<bool> { return true; });
    j->take(nullptr);
    loop_->finish(std::move(j));
    return;
  }
  // The caller hears once: true when every part was written, else the first failure.
  struct joined {
    std::mutex m;
    std::size_t left;
    std::optional<error> failed;
    callback<bool> done;
  };
  auto all = std::make_shared<joined>();
  all->left = parts.size();
  all->done = std::move(done);
  for (auto& [writer, part] : parts) {
    params p;
    p.add_array(part.first).add_array(part.second);
    loop_->write(make_job<bool>(sql::set_last_seen, std::move(p),
                                [all](result<bool> r) {
                                  std::unique_lock lock(all->m);
                                  if (!r && !all->failed) all->failed = r.error();
                                  if (--all->left > 0) return;
                                  const std::optional<error> failed = all->failed;
                                  lock.unlock();
                                  if (failed) all->done(*failed);
                                  else all->done(true);
                                },
                                [](const PGresult*) -> result<bool> { return true; }),
                 writer);
  }
}

void postgres_store::block_user(user_id blocker, user_id blocked, unix_ms at, callback<bool> done) {
  params p;
  p.add(blocker).add(blocked).add(at).add(std::int64_t{query_limits::max_blocks});
  loop_->write(make_job<bool>(sql::block_user, std::move(p), std::move(done),
                              [](const PGresult* r) -> result<bool> {
                                const std::string status = PQntuples(r) > 0 ? text(r, 0, 0) : "";
                                if (status == "new") return true;
                                if (status == "already") return false;
                                if (status == "quota")
                                  return make_error(errc::quota_exceeded, "too many blocked users");
                                if (status == "self") return make_error(errc::invalid_field, "cannot block yourself");
                                return make_error(errc::not_found, "no such user");
                              }),
               partition_of_user(blocker));
}

void postgres_store::unblock_user(user_id blocker, user_id blocked, callback<bool> done) {
  params p;
  p.add(blocker).add(blocked);
  loop_->write(make_job<bool>(sql::unblock_user, std::move(p), std::move(done), first_column_true),
               partition_of_user(blocker));
}

void postgres_store::blocked_users(user_id blocker, callback<std::vector<block_entry>> done) {
  loop_->read(make_job<std::vector<block_entry>>(sql::select_blocked_users, params().add(blocker), std::move(done),
                                                 [](const PGresult* r) -> result<std::vector<block_entry>> {
                                                   std::vector<block_entry> out;
                                                   for (int i = 0; i < PQntuples(r); ++i)
                                                     out.push_back({read_user(r, i, 0), i64(r, i, 6)});
                                                   return out;
                                                 }));
}

void postgres_store::block_relations_of(user_id id, callback<block_relations> done) {
  loop_->read(make_job<block_relations>(sql::select_block_relations, params().add(id), std::move(done),
                                        [](const PGresult* r) -> result<block_relations> {
                                          block_relations out;
                                          for (int i = 0; i < PQntuples(r); ++i) {
                                            if (i64(r, i, 1) != 0) out.blocked.push_back(i64(r, i, 0));
                                            if (i64(r, i, 2) != 0) out.blocked_by.push_back(i64(r, i, 0));
                                          }
                                          std::sort(out.blocked.begin(), out.blocked.end());
                                          std::sort(out.blocked_by.begin(), out.blocked_by.end());
                                          return out;
                                        }));
}

void postgres_store::conversation_between(user_id a, user_id b, callback<std::optional<conversation_id>> done) {
  params p;
  p.add(std::min(a, b)).add(std::max(a, b));
  loop_->read(make_job<std::optional<conversation_id>>(
      sql::select_conversation_between, std::move(p), std::move(done),
      [](const PGresult* r) -> result<std::optional<conversation_id>> {
        if (PQntuples(r) == 0) return std::optional<conversation_id>();
        return std::optional<conversation_id>(i64(r, 0, 0));
      }));
}

void postgres_store::delete_account(user_id id, unix_ms now, callback<account_deletion> done) {
  params p;
  p.add(id).add(now);
  loop_->write(make_job<account_deletion>(sql::delete_account, std::move(p), std::move(done),
                                          [](const PGresult* r) -> result<account_deletion> {
                                            if (PQntuples(r) == 0 || text(r, 0, 0) != "ok")
                                              return make_error(errc::not_found, "no such user");
                                            return account_deletion{i64_array(r, 0, 1), i64(r, 0, 2), i64(r, 0, 3)};
                                          }),
               partition_of_user(id));
}

void postgres_store::add_push_device(user_id id, push_device d, callback<bool> done) {
  params p;
  p.add(id).add(d.platform).add(d.token).add(d.created_at).add(std::int64_t{query_limits::max_push_devices});
  auto j = make_job<bool>(sql::add_push_device, std::move(p), std::move(done), first_column_true);
  if (refuse_nul(*loop_, has_nul(d.platform) || has_nul(d.token), j)) return;
  loop_->write(std::move(j), partition_of_user(id));
}

void postgres_store::remove_push_device(user_id id, std::string platform, std::string token, callback<bool> done) {
  const bool bad = has_nul(platform) || has_nul(token);
  params p;
  p.add(id).add(std::move(platform)).add(std::move(token));
  auto j = make_job<bool>(sql::remove_push_device, std::move(p), std::move(done), changed_a_row);
  if (refuse_nul(*loop_, bad, j)) return;
  loop_->write(std::move(j), partition_of_user(id));
}

void postgres_store::push_devices(user_id id, callback<std::vector<push_device>> done) {
  loop_->read(make_job<std::vector<push_device>>(sql::select_push_devices, params().add(id), std::move(done),
                                                 [](const PGresult* r) -> result<std::vector<push_device>> {
                                                   std::vector<push_device> out;
                                                   for (int i = 0; i < PQntuples(r); ++i)
                                                     out.push_back({text(r, i, 0), text(r, i, 1), i64(r, i, 2)});
                                                   return out;
                                                 }));
}

void postgres_store::undelivered(std::vector<message_id> ids, callback<std::vector<message_id>> done) {
  params p;
  p.add_array(ids);
  loop_->read(make_job<std::vector<message_id>>(sql::select_undelivered, std::move(p), std::move(done),
                                                [](const PGresult* r) -> result<std::vector<message_id>> {
                                                  std::vector<message_id> out;
                                                  for (int i = 0; i < PQntuples(r); ++i) out.push_back(i64(r, i, 0));
                                                  return out;
                                                }));
}

}  // namespace chatrix::storage
