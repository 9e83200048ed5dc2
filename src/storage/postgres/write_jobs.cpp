#include "storage/postgres/write_jobs.hpp"

#include "storage/postgres/rows.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace chatrix::storage::postgres_detail {

void append_job::take_row(const PGresult* r, int row) noexcept {
  try {
    if (text(r, row, 1) != "ok") {
      outcome_.emplace(make_error(errc::unknown_recipient, "no such user"));
      return;
    }
    send_result out;
    out.duplicate = text(r, row, 2) == "t";
    out.stored.id = i64(r, row, 3);
    out.stored.conversation = i64(r, row, 4);
    out.stored.seq = i64(r, row, 5);
    out.stored.created_at = i64(r, row, 6);
    out.stored.delivered_at = opt_i64(r, row, 7);
    out.stored.read_at = opt_i64(r, row, 8);
    out.stored.sender = req_.sender;
    out.stored.recipient = req_.recipient;
    out.stored.content = req_.content;
    outcome_.emplace(std::move(out));
  } catch (const std::exception& e) {
    spdlog::error("postgres store: unexpected result of {}: {}", stmt().name, e.what());
    outcome_.emplace(failure<send_result>(make_error(errc::internal, "database error")));
  }
}

void append_job::taken() noexcept {
  // No row: the statement's fault, not the message's.
  if (!outcome_) outcome_.emplace(failure<send_result>(make_error(errc::internal, "database error")));
}

void receipt_job::take_row(const PGresult* r, int row) noexcept {
  try {
    refs_.push_back({i64(r, row, 1), i64(r, row, 2), i64(r, row, 3)});
  } catch (const std::exception& e) {
    spdlog::error("postgres store: unexpected result of {}: {}", stmt().name, e.what());
    failed_ = true;
  }
}

void receipt_job::taken() noexcept {
  if (failed_)
    outcome_.emplace(failure<std::vector<message_ref>>(make_error(errc::internal, "database error")));
  else
    outcome_.emplace(std::move(refs_));
}

namespace {

bool is_append(const job* j) noexcept { return &j->stmt() == &sql::append_batch; }
bool is_receipt(const job* j) noexcept { return &j->stmt() == &sql::mark_delivered_batch; }
bool is_grouped(const job* j) noexcept { return is_append(j) || is_receipt(j); }

/// Whether b may join a group that starts with a.
bool same_group(const job* a, const job* b) {
  if (is_append(a))
    return is_append(b) && static_cast<const append_job*>(a)->request().retry_window ==
                               static_cast<const append_job*>(b)->request().retry_window;
  return is_receipt(a) && is_receipt(b);
}

}  // namespace

const params& write_unit::arguments() const noexcept {
  return is_grouped(jobs.front()) ? args : jobs.front()->args();
}

void write_unit::take(const PGresult* r) {
  if (!is_grouped(jobs.front())) {
    jobs.front()->take(r);
    return;
  }
  const std::int64_t base = is_append(jobs.front()) ? 1 : 0;
  for (int row = 0; row < PQntuples(r); ++row) {
    const auto index = i64(r, row, 0) - base;
    if (index < 0 || index >= static_cast<std::int64_t>(jobs.size())) continue;
    static_cast<grouped_job*>(jobs[static_cast<std::size_t>(index)])->take_row(r, row);
  }
  for (job* j : jobs) static_cast<grouped_job*>(j)->taken();
}

void write_unit::fail(const error& e) {
  for (job* j : jobs) j->fail(e);
}

write_unit group_unit(std::vector<job*> jobs) {
  write_unit u{std::move(jobs), {}};
  if (is_append(u.jobs.front())) {
    std::vector<std::int64_t> senders, recipients, nows;
    std::vector<std::optional<std::string_view>> contents, marks;
    for (job* j : u.jobs) {
      const auto& req = static_cast<append_job*>(j)->request();
      senders.push_back(req.sender);
      recipients.push_back(req.recipient);
      contents.emplace_back(req.content);
      marks.push_back(req.mark ? std::optional<std::string_view>(*req.mark) : std::nullopt);
      nows.push_back(req.now);
    }
    u.args.add_array(senders).add_array(recipients).add_text_array(contents).add_text_array(marks);
    u.args.add_array(nows).add(static_cast<append_job*>(u.jobs.front())->request().retry_window);
  } else {
    std::vector<std::int64_t> index, recipients, ids, ats;
    for (std::size_t i = 0; i < u.jobs.size(); ++i) {
      const auto* r = static_cast<receipt_job*>(u.jobs[i]);
      for (const message_id id : r->ids()) {
        index.push_back(static_cast<std::int64_t>(i));
        recipients.push_back(r->recipient());
        ids.push_back(id);
        ats.push_back(r->at());
      }
    }
    u.args.add_array(index).add_array(recipients).add_array(ids).add_array(ats);
  }
  return u;
}

std::vector<write_unit> units_of(const std::vector<std::unique_ptr<job>>& jobs) {
  std::vector<job*> batch;
  for (const auto& j : jobs) batch.push_back(j.get());
  std::stable_partition(batch.begin(), batch.end(), [](const job* j) { return is_append(j); });
  std::vector<write_unit> units;
  for (std::size_t first = 0; first < batch.size();) {
    std::size_t end = first + 1;
    if (!is_grouped(batch[first])) {
      units.push_back(write_unit{{batch[first]}, {}});
    } else {
      while (end < batch.size() && same_group(batch[first], batch[end])) ++end;
      units.push_back(group_unit(std::vector<job*>(batch.begin() + static_cast<std::ptrdiff_t>(first),
                                                   batch.begin() + static_cast<std::ptrdiff_t>(end))));
    }
    first = end;
  }
  return units;
}

}  // namespace chatrix::storage::postgres_detail
