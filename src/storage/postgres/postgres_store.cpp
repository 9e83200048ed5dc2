// PostgreSQL store: the public API. Each call becomes a job (job.hpp, write_jobs.hpp) for the
// writers or the readers of the event loop (event_loop.hpp).

#include "storage/postgres/postgres_store.hpp"

#include "core/username.hpp"

#include "storage/postgres/connection.hpp"
#include "storage/postgres/conninfo.hpp"
#include "storage/postgres/event_loop.hpp"
#include "storage/postgres/job.hpp"
#include "storage/postgres/migrate.hpp"
#include "storage/postgres/partitions.hpp"
#include "storage/postgres/queries.hpp"
#include "storage/postgres/rows.hpp"
#include "storage/postgres/session.hpp"
#include "storage/postgres/write_jobs.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

namespace chatrix::storage {

namespace sql = postgres_detail::sql;
using postgres_detail::append_job;
using postgres_detail::connection;
using postgres_detail::i64;
using postgres_detail::changed_a_row;
using postgres_detail::job;
using postgres_detail::make_job;
using postgres_detail::migrate;
using postgres_detail::params;
using postgres_detail::partition_of_pair;
using postgres_detail::partition_of_user;
using postgres_detail::read_message;
using postgres_detail::read_messages;
using postgres_detail::read_preview;
using postgres_detail::read_session_rows;
using postgres_detail::read_user;
using postgres_detail::read_user_names;
using postgres_detail::receipt_job;
using postgres_detail::setup_session;
using postgres_detail::text;
namespace asio = boost::asio;
using asio::awaitable;

namespace {

int clamp_limit(int limit, int max) { return std::clamp(limit, 0, max); }

unix_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// A call with a bad jti: refused with errc::invalid_field, reported like any outcome.
bool refuse_jti(postgres_detail::event_loop& loop, std::string_view jti, std::unique_ptr<job>& j) {
  if (is_valid_jti(jti)) return false;
  j->fail(make_error(errc::invalid_field, "jti must be non-empty without NUL"));
  loop.finish(std::move(j));
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------

postgres_store::postgres_store(config::postgres_address address, postgres_options opts) {
  const std::string redacted = address.to_string();
  const std::vector<std::string> secrets = postgres_detail::address_secrets(address);
  try {
    loop_ = std::make_unique<postgres_detail::event_loop>(std::move(address), std::move(opts));
  } catch (const std::exception& e) {
    throw error_exception(make_error(errc::unavailable, "cannot open PostgreSQL database " + redacted + ": " +
                                                            postgres_detail::scrub(e.what(), secrets)));
  }
  spdlog::info("postgres store: connected to {} ({} write and {} read connections)", redacted,
               loop_->options().writers, loop_->options().pool_size);
}

postgres_store::postgres_store(std::string_view url, postgres_options opts)
    : postgres_store(postgres_detail::parse_conninfo(url, "open").value(), std::move(opts)) {}

result<std::unique_ptr<postgres_store>> postgres_store::open(config::postgres_address address,
                                                             postgres_options opts) {
  try {
    return std::make_unique<postgres_store>(std::move(address), std::move(opts));
  } catch (const error_exception& e) {
    return e.err;
  }
}

result<std::unique_ptr<postgres_store>> postgres_store::open(std::string_view url, postgres_options opts) {
  auto address = postgres_detail::parse_conninfo(url, "open");
  if (!address) return address.error();
  return open(std::move(*address), std::move(opts));
}

postgres_store::~postgres_store() { shutdown(); }

void postgres_store::shutdown() { loop_->shutdown(); }

std::uint64_t postgres_store::committed_batches() const noexcept { return loop_->committed_batches(); }

// ---- users ----

void postgres_store::create_user(new_user u, callback<user> done) {
  params p;
  p.add(u.username).add(fold_username(u.username)).add(u.name).add(u.password_hash).add(u.created_at);
  p.add(u.reclaim_deleted_before);
  loop_->write(make_job<user>(sql::create_user, std::move(p), std::move(done),
                              [username = u.username, name = u.name](const PGresult* r) -> result<user> {
                                if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0))
                                  return make_error(errc::username_taken, "username already taken");
                                return user{i64(r, 0, 0), username, name};
                              }),
               0);
}

void postgres_store::find_user_by_name(std::string username, callback<std::optional<user_credentials>> done) {
  loop_->read(make_job<std::optional<user_credentials>>(
      sql::select_credentials, params().add(fold_username(username)), std::move(done),
      [](const PGresult* r) -> result<std::optional<user_credentials>> {
        if (PQntuples(r) == 0) return std::optional<user_credentials>();
        return std::optional<user_credentials>(user_credentials{read_user(r, 0, 0), text(r, 0, 6)});
      }));
}

void postgres_store::find_user_by_id(user_id id, callback<std::optional<user>> done) {
  loop_->read(make_job<std::optional<user>>(sql::select_user, params().add(id), std::move(done),
                                            [](const PGresult* r) -> result<std::optional<user>> {
                                              if (PQntuples(r) == 0) return std::optional<user>();
                                              return std::optional<user>(read_user(r, 0, 0));
                                            }));
}

void postgres_store::ping(callback<bool> done) {
  loop_->read(make_job<bool>(sql::ping, params(), std::move(done), [](const PGresult* r) -> result<bool> {
    return PQntuples(r) == 1;
  }));
}

void postgres_store::set_password_hash(user_id user, std::string hash, callback<bool> done) {
  params p;
  p.add(user).add(std::move(hash));
  loop_->write(make_job<bool>(sql::set_password_hash, std::move(p), std::move(done), changed_a_row),
               partition_of_user(user));
}

// One statement, five tiers (see chatrix_search); the same ranking as the SQLite store.
// The fragment is only compared, never a pattern, so no character in it is special.
void postgres_store::search_users(std::string fragment, int limit, callback<std::vector<user>> done) {
  const int wanted = clamp_limit(limit, query_limits::max_search_results);
  // An empty fragment would match every user: treat it as no search at all.
  if (wanted == 0 || fragment.empty() || fragment.find('\0') != std::string::npos) {
    auto j = make_job<std::vector<user>>(sql::search_users, params(), std::move(done),
                                         [](const PGresult*) -> result<std::vector<user>> { return {}; });
    j->take(nullptr);
    loop_->finish(std::move(j));
    return;
  }
  const std::string folded = fold_username(fragment);
  params p;
  p.add(folded).add(std::int64_t{wanted});
  loop_->read(make_job<std::vector<user>>(sql::search_users, std::move(p), std::move(done),
                                          [](const PGresult* r) -> result<std::vector<user>> {
                                            std::vector<user> out;
                                            for (int i = 0; i < PQntuples(r); ++i) out.push_back(read_user_names(r, i, 0));
                                            return out;
                                          }));
}

// ---- messages ----

void postgres_store::append_message(send_request req, callback<send_result> done) {
  if (req.content.find('\0') != std::string::npos) {
    // PostgreSQL text cannot hold NUL; storing a truncated message would be worse.
    auto j = std::make_unique<append_job>(std::move(req), std::move(done));
    j->fail(make_error(errc::invalid_field, "content contains a NUL character"));
    loop_->finish(std::move(j));
    return;
  }
  const auto partition = partition_of_pair(req.sender, req.recipient);
  loop_->write(std::make_unique<append_job>(std::move(req), std::move(done)), partition);
}

void postgres_store::mark_delivered(user_id recipient, std::vector<message_id> ids, unix_ms at,
                                    callback<delivered_result> done) {
  loop_->write(std::make_unique<receipt_job>(recipient, std::move(ids), at, std::move(done)),
               partition_of_user(recipient));
}

void postgres_store::mark_read(user_id reader, std::vector<message_id> ids, unix_ms at, callback<read_result> done) {
  params p;
  p.add(reader).add_array(ids).add(at);
  loop_->write(make_job<read_result>(sql::mark_read, std::move(p), std::move(done),
                                     [](const PGresult* r) -> result<read_result> {
                                       read_result out;
                                       for (int i = 0; i < PQntuples(r); ++i) {
                                         if (text(r, i, 0) != "ok")
                                           return make_error(errc::forbidden, "not a message to you");
                                         out.read.push_back({i64(r, i, 1), i64(r, i, 2), i64(r, i, 3)});
                                         if (text(r, i, 4) == "t") out.delivered.push_back(out.read.back());
                                       }
                                       return out;
                                     }),
               partition_of_user(reader));
}

void postgres_store::pending_messages(user_id recipient, message_id after, int limit,
                                      callback<std::vector<message>> done) {
  params p;
  p.add(recipient).add(after).add(std::int64_t{std::max(limit, 0)});
  loop_->read(make_job<std::vector<message>>(sql::select_pending, std::move(p), std::move(done),
                                             [](const PGresult* r) -> result<std::vector<message>> {
                                               return read_messages(r);
                                             }));
}

void postgres_store::history(user_id a, user_id b, std::optional<message_id> before, int limit,
                             callback<std::vector<message>> done) {
  params p;
  p.add(std::min(a, b)).add(std::max(a, b));
  p.add(before ? std::optional<std::string>(std::to_string(*before)) : std::nullopt);
  p.add(std::int64_t{clamp_limit(limit, query_limits::max_history_page)}).add(a);
  loop_->read(make_job<std::vector<message>>(sql::select_history, std::move(p), std::move(done),
                                             [](const PGresult* r) -> result<std::vector<message>> {
                                               return read_messages(r);
                                             }));
}

void postgres_store::chat_previews(user_id viewer, int limit, callback<std::vector<chat_preview>> done) {
  params p;
  p.add(viewer).add(std::int64_t{clamp_limit(limit, query_limits::max_previews)});
  loop_->read(make_job<std::vector<chat_preview>>(sql::select_previews, std::move(p), std::move(done),
                                                  [](const PGresult* r) -> result<std::vector<chat_preview>> {
                                                    std::vector<chat_preview> out;
                                                    for (int i = 0; i < PQntuples(r); ++i)
                                                      out.push_back(read_preview(r, i, 0));
                                                    return out;
                                                  }));
}

void postgres_store::chat_previews_page(user_id viewer, preview_cursor before, int limit,
                                        callback<std::vector<chat_preview>> done) {
  params p;
  p.add(viewer).add(std::int64_t{clamp_limit(limit, query_limits::max_previews)});
  p.add(before.updated_at).add(before.conversation);
  loop_->read(make_job<std::vector<chat_preview>>(sql::select_previews_page, std::move(p), std::move(done),
                                                  [](const PGresult* r) -> result<std::vector<chat_preview>> {
                                                    std::vector<chat_preview> out;
                                                    for (int i = 0; i < PQntuples(r); ++i)
                                                      out.push_back(read_preview(r, i, 0));
                                                    return out;
                                                  }));
}

void postgres_store::conversation_messages(user_id viewer, conversation_id chat, std::optional<message_id> before,
                                           std::optional<message_id> after, int limit,
                                           callback<std::vector<message>> done) {
  params p;
  p.add(viewer).add(chat);
  const std::optional<message_id> bound = after ? after : before;
  p.add(bound ? std::optional<std::string>(std::to_string(*bound)) : std::nullopt);
  p.add(std::int64_t{clamp_limit(limit, query_limits::max_history_page)});
  loop_->read(make_job<std::vector<message>>(
      after ? sql::select_conversation_after : sql::select_conversation_before, std::move(p), std::move(done),
      [](const PGresult* r) -> result<std::vector<message>> {
        // The first row is the conversation itself, when the viewer takes part in it.
        if (PQntuples(r) == 0 || i64(r, 0, 0) != 0) return make_error(errc::not_found, "no such conversation");
        std::vector<message> out;
        for (int i = 1; i < PQntuples(r); ++i) out.push_back(read_message(r, i, 2));
        return out;
      }));
}

// One statement (see sql::session_start): a connecting device costs one read job and one
// round trip, as on SQLite, instead of the default's two reads in turn.
void postgres_store::session_start(user_id viewer, int previews_limit, int pending_limit,
                                   callback<session_snapshot> done) {
  params p;
  p.add(viewer).add(std::int64_t{clamp_limit(previews_limit, query_limits::max_previews)});
  p.add(std::int64_t{std::max(pending_limit, 0)});
  loop_->read(make_job<session_snapshot>(sql::session_start, std::move(p), std::move(done),
                                         [viewer](const PGresult* r) -> result<session_snapshot> {
                                           session_snapshot out;
                                           stream_page head;
                                           read_session_rows(r, viewer, out, head);
                                           return out;
                                         }));
}

void postgres_store::session_resume(user_id viewer, int previews_limit, stream_pos since, int events_limit,
                                    int pending_limit, callback<session_snapshot> done) {
  params p;
  p.add(viewer).add(std::int64_t{clamp_limit(previews_limit, query_limits::max_previews)}).add(since);
  p.add(std::int64_t{std::max(events_limit, 0)}).add(std::int64_t{std::max(pending_limit, 0)});
  loop_->read(make_job<session_snapshot>(sql::session_resume, std::move(p), std::move(done),
                                         [viewer](const PGresult* r) -> result<session_snapshot> {
                                           session_snapshot out;
                                           stream_page page;
                                           read_session_rows(r, viewer, out, page);
                                           out.stream = std::move(page);
                                           return out;
                                         }));
}

void postgres_store::stream_events(user_id viewer, stream_pos since, int limit, callback<stream_page> done) {
  params p;
  p.add(viewer).add(since).add(std::int64_t{std::max(limit, 0)});
  loop_->read(make_job<stream_page>(sql::select_stream, std::move(p), std::move(done),
                                    [viewer](const PGresult* r) -> result<stream_page> {
                                      session_snapshot unused;
                                      stream_page page;
                                      read_session_rows(r, viewer, unused, page);
                                      return page;
                                    }));
}

// ---- tokens ----
// A user's token writes go to the user's writer, so they apply in call order. Pruning
// touches other users' rows too, but skips those another writer holds (see sql::record_token).

void postgres_store::record_token(token_record t, callback<bool> done) {
  params p;
  p.add(t.jti).add(t.user).add(t.expires_at).add(now_ms()).add(std::int64_t{max_pruned_per_write});
  auto j = make_job<bool>(sql::record_token, std::move(p), std::move(done), changed_a_row);
  if (refuse_jti(*loop_, t.jti, j)) return;
  loop_->write(std::move(j), partition_of_user(t.user));
}

void postgres_store::revoke_token(token_record t, callback<bool> done) {
  params p;
  p.add(t.jti).add(t.user).add(t.expires_at).add(now_ms()).add(std::int64_t{max_pruned_per_write});
  auto j = make_job<bool>(sql::revoke_token, std::move(p), std::move(done), changed_a_row);
  if (refuse_jti(*loop_, t.jti, j)) return;
  loop_->write(std::move(j), partition_of_user(t.user));
}

void postgres_store::revoke_user_tokens(user_id user, std::string keep_jti, std::int64_t now_s,
                                        callback<std::vector<token_record>> done) {
  params p;
  p.add(user).add(keep_jti).add(now_s * 1000).add(now_s);
  auto j = make_job<std::vector<token_record>>(sql::revoke_user_tokens, std::move(p), std::move(done),
                                               [](const PGresult* r) -> result<std::vector<token_record>> {
                                                 std::vector<token_record> out;
                                                 for (int i = 0; i < PQntuples(r); ++i)
                                                   out.push_back({text(r, i, 0), i64(r, i, 1), i64(r, i, 2)});
                                                 return out;
                                               });
  if (!keep_jti.empty() && refuse_jti(*loop_, keep_jti, j)) return;
  loop_->write(std::move(j), partition_of_user(user));
}

void postgres_store::revocations(unix_ms now, callback<revocation_snapshot> done) {
  loop_->read(make_job<revocation_snapshot>(sql::select_revocations, params().add(now), std::move(done),
                                            [](const PGresult* r) -> result<revocation_snapshot> {
                                              constexpr std::int64_t token_part = 0;
                                              revocation_snapshot out;
                                              for (int i = 0; i < PQntuples(r); ++i) {
                                                if (i64(r, i, 0) == token_part)
                                                  out.tokens.push_back({text(r, i, 1), i64(r, i, 2), i64(r, i, 3)});
                                                else
                                                  out.cutoffs.emplace_back(i64(r, i, 2), i64(r, i, 3));
                                              }
                                              return out;
                                            }));
}

// ---- migrations by hand ----

result<int> run_migrations(std::string_view url, std::chrono::milliseconds connect_timeout) {
  auto address = postgres_detail::parse_conninfo(url, "migrate");
  if (!address) return address.error();
  return run_migrations(*address, connect_timeout);
}

result<int> run_migrations(const config::postgres_address& address, std::chrono::milliseconds connect_timeout) {
  asio::io_context ioc{1};
  connection c(ioc.get_executor());
  int version = 0;
  std::exception_ptr failed;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        co_await c.connect(address, connect_timeout);
        bool warned = false;
        co_await setup_session(c, std::nullopt, warned);
        version = co_await migrate(c);
      },
      [&](std::exception_ptr e) { failed = e; });
  ioc.run();
  c.close();
  if (!failed) return version;
  try {
    std::rethrow_exception(failed);
  } catch (const std::exception& e) {
    return make_error(errc::unavailable, "cannot migrate PostgreSQL database " + address.to_string() + ": " +
                                             postgres_detail::scrub(e.what(), postgres_detail::address_secrets(address)));
  }
  return make_error(errc::internal, "unreachable");
}

}  // namespace chatrix::storage
