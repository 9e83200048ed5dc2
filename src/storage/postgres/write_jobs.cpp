#include "storage/postgres/write_jobs.hpp"

#include "storage/postgres/rows.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace chatrix::storage::postgres_detail {

void append_job::take_row(const PGresult* r, int row) noexcept {
  try {
    if (const std::string status = text(r, row, 1); status != "ok") {
      if (status == "blocked")
        outcome_.emplace(make_error(errc::blocked, "you blocked this user"));
      else if (status == "invalid_reply")
        outcome_.emplace(make_error(errc::invalid_field, "reply_to is not a message of this conversation"));
      else if (status == "invalid_attachment")
        outcome_.emplace(make_error(errc::invalid_field, "attachment is not a complete file you uploaded"));
      else
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
    out.stored.content = PQgetisnull(r, row, 9) ? req_.content : text(r, row, 9);
    out.stored.reply_to = opt_i64(r, row, 10);
    if (!PQgetisnull(r, row, 11))
      out.stored.attachment = file_info{text(r, row, 11), text(r, row, 12), text(r, row, 13), i64(r, row, 14)};
    out.stored.edited_at = opt_i64(r, row, 15);
    out.stored.deleted_at = opt_i64(r, row, 16);
    out.withheld = boolean(r, row, 17);
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
    outcome_.emplace(failure<delivered_result>(make_error(errc::internal, "database error")));
  else
    outcome_.emplace(delivered_result{std::move(refs_), {}});
  refs_.clear();  // a retried transaction takes its rows afresh
}

namespace {

bool is_append(const job* j) noexcept { return &j->stmt() == &sql::append_batch; }
bool is_receipt(const job* j) noexcept { return &j->stmt() == &sql::mark_delivered_batch; }
bool is_grouped(const job* j) noexcept { return is_append(j) || is_receipt(j); }
bool adds_events(const job* j) noexcept { return is_grouped(j) || j->stmt().adds_events; }

/// Whether b may join a group that starts with a.
bool same_group(const job* a, const job* b) {
  if (is_append(a))
    return is_append(b) && static_cast<const append_job*>(a)->request().retry_window ==
                               static_cast<const append_job*>(b)->request().retry_window;
  return is_receipt(a) && is_receipt(b);
}

}  // namespace

void write_unit::take(const PGresult* r) {
  if (is_flush()) {
    for (int row = 0; row < PQntuples(r); ++row) {
      const auto tag = i64(r, row, 0);
      if (tag < 0 || tag >= static_cast<std::int64_t>(jobs.size())) continue;
      jobs[static_cast<std::size_t>(tag)]->take_entry(read_entry(r, row, 2, i64(r, row, 1)));
    }
    return;
  }
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
  write_unit u{std::move(jobs), {}, true, nullptr};
  const std::int64_t first_tag = u.jobs.front()->tag;
  if (!is_grouped(u.jobs.front())) {
    if (!u.jobs.front()->stmt().adds_events) {
      u.own_args = false;
      return u;
    }
    u.args = u.jobs.front()->args();
    u.args.add(first_tag);
    return u;
  }
  if (is_append(u.jobs.front())) {
    std::vector<std::int64_t> senders, recipients, nows;
    std::vector<std::optional<std::string_view>> contents, marks, attachments;
    std::vector<std::optional<std::int64_t>> replies;
    for (job* j : u.jobs) {
      const auto& req = static_cast<append_job*>(j)->request();
      senders.push_back(req.sender);
      recipients.push_back(req.recipient);
      contents.emplace_back(req.content);
      marks.push_back(req.mark ? std::optional<std::string_view>(*req.mark) : std::nullopt);
      nows.push_back(req.now);
      replies.push_back(req.reply_to);
      attachments.push_back(req.attachment ? std::optional<std::string_view>(*req.attachment) : std::nullopt);
    }
    u.args.add_array(senders).add_array(recipients).add_text_array(contents).add_text_array(marks);
    u.args.add_array(nows).add(static_cast<append_job*>(u.jobs.front())->request().retry_window);
    u.args.add_optional_array(replies).add_text_array(attachments).add(first_tag);
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
    u.args.add_array(index).add_array(recipients).add_array(ids).add_array(ats).add(first_tag);
  }
  return u;
}

std::vector<write_unit> units_of(const std::vector<std::unique_ptr<job>>& jobs, std::int64_t retention_ms) {
  std::vector<job*> batch;
  for (const auto& j : jobs) batch.push_back(j.get());
  std::stable_partition(batch.begin(), batch.end(), [](const job* j) { return is_append(j); });
  bool staging = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i]->tag = static_cast<int>(i);
    staging = staging || adds_events(batch[i]);
  }
  std::vector<write_unit> units;
  for (std::size_t first = 0; first < batch.size();) {
    std::size_t end = first + 1;
    if (!is_grouped(batch[first])) {
      units.push_back(group_unit({batch[first]}));
    } else {
      while (end < batch.size() && same_group(batch[first], batch[end])) ++end;
      units.push_back(group_unit(std::vector<job*>(batch.begin() + static_cast<std::ptrdiff_t>(first),
                                                   batch.begin() + static_cast<std::ptrdiff_t>(end))));
    }
    first = end;
  }
  if (staging) {
    write_unit flush{batch, {}, true, &sql::stream_flush};
    flush.args.add(retention_ms);
    units.push_back(std::move(flush));
  }
  return units;
}

}  // namespace chatrix::storage::postgres_detail
