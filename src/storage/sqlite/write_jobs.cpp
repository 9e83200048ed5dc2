// How the SQLite writer runs a step of a batch (see write_jobs.hpp). Under load a batch holds
// hundreds of messages over a few hundred conversations; per message, what is left is the
// retry lookup and its row of a multi-row INSERT. Every step gives the same results as
// running its jobs one after the other in call order.

#include "storage/sqlite/write_jobs.hpp"

#include "storage/sqlite/queries.hpp"
#include "storage/sqlite/rows.hpp"
#include "storage/sqlite/stream.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace chatrix::storage::sqlite_detail {

namespace {

/// A conversation as this step has left it so far.
struct conversation_state {
  conversation_id id = 0;
  std::int64_t last_seq = 0;
  unix_ms updated_at = 0;  // the newest message of this step others see (0: none yet)
  bool closed = false;     // a member's account was deleted
  std::int64_t new_unread_lo = 0;  // messages of this step to user_lo
  std::int64_t new_unread_hi = 0;
};

/// The conversation of (lo, hi), created if both users exist; none if one does not.
std::optional<conversation_state> conversation_of(connection& c, user_id lo, user_id hi, unix_ms now) {
  {
    query q(c, sql::select_conversation_seq);
    q.bind(lo, hi);
    if (q.step()) return conversation_state{q.int64(0), q.int64(1), 0, q.int64(2) != 0};
  }
  {
    query q(c, sql::count_users_by_ids);
    q.bind(lo, hi);
    if (!q.step() || q.int64(0) != (lo == hi ? 1 : 2)) return std::nullopt;
  }
  query(c, sql::insert_conversation).bind(lo, hi, now).run();
  return conversation_state{c.last_insert_rowid(), 0, now};
}

/// How a block between a sender and a recipient affects a message.
enum class block_effect { none, refused, withheld };

/// The blocks between `sender` and `recipient` (read once per pair and step: blocks change
/// only in single steps, never during an append step).
block_effect block_effect_of(connection& c, user_id sender, user_id recipient) {
  query q(c, sql::select_blocks_between);
  q.bind(sender, recipient);
  auto effect = block_effect::none;
  while (q.step()) {
    // The sender's own block wins: they are told, instead of sending into a void.
    if (q.int64(0) == 1) return block_effect::refused;
    effect = block_effect::withheld;
  }
  return effect;
}

/// Why `req` may not be stored, checked before anything is written: a reply to a message of
/// another conversation, or an attachment that is not a complete file of the sender's.
std::optional<error> refusal_of(connection& c, const send_request& req, user_id lo, user_id hi) {
  if (req.reply_to) {
    query q(c, sql::select_message_pair);
    q.bind(*req.reply_to);
    if (!q.step() || q.int64(0) != lo || q.int64(1) != hi)
      return make_error(errc::invalid_field, "reply_to is not a message of this conversation");
  }
  if (req.attachment) {
    query q(c, sql::select_complete_file_owner);
    q.bind(*req.attachment);
    if (!q.step() || q.int64(0) != req.sender)
      return make_error(errc::invalid_field, "attachment is not a file you uploaded");
  }
  return std::nullopt;
}

void append_messages(connection& c, std::span<write_job* const> jobs, const writer_state& writer) {
  struct new_message {
    append_job* job;
    message m;
    bool withheld = false;
  };
  std::map<std::pair<user_id, user_id>, block_effect> blocks;
  std::vector<new_message> added;
  added.reserve(jobs.size());
  std::map<std::pair<user_id, user_id>, conversation_state> conversations;
  // A retry of a message of this very step: the newest such message, by what makes a retry.
  using retry_key = std::tuple<user_id, user_id, std::string_view, std::string_view>;
  std::map<retry_key, std::size_t> added_with_mark;
  std::vector<std::pair<append_job*, std::size_t>> retries_of_added;

  for (write_job* w : jobs) {
    auto& job = static_cast<append_job&>(*w);
    const send_request& req = job.req;
    if (req.mark && req.retry_window > 0) {
      if (auto it = added_with_mark.find({req.sender, req.recipient, *req.mark, req.content});
          it != added_with_mark.end()) {
        retries_of_added.emplace_back(&job, it->second);
        continue;
      }
      query q(c, sql::select_retry);
      q.bind(req.sender, *req.mark, req.now - req.retry_window, req.recipient, req.content);
      if (q.step()) {
        job.outcome.set(send_result{read_message(q, 0), true, {}, q.int64(16) != 0});
        continue;
      }
    }
    const user_id lo = std::min(req.sender, req.recipient);
    const user_id hi = std::max(req.sender, req.recipient);
    auto effect = block_effect::none;
    if (writer.blocks_possible && req.sender != req.recipient) {
      auto known = blocks.find({req.sender, req.recipient});
      if (known == blocks.end())
        known = blocks.emplace(std::pair{req.sender, req.recipient}, block_effect_of(c, req.sender, req.recipient))
                    .first;
      effect = known->second;
    }
    if (effect == block_effect::refused) {
      job.outcome.set(failure<send_result>(make_error(errc::blocked, "you blocked this user")));
      continue;
    }
    if (req.reply_to || req.attachment) {
      if (auto refused = refusal_of(c, req, lo, hi)) {
        job.outcome.set(failure<send_result>(*refused));
        continue;
      }
    }
    auto conv = conversations.find({lo, hi});
    if (conv == conversations.end()) {
      auto found = conversation_of(c, lo, hi, req.now);
      if (!found) {
        job.outcome.set(failure<send_result>(make_error(errc::unknown_recipient, "no such user")));
        continue;
      }
      conv = conversations.emplace(std::pair{lo, hi}, *found).first;
    }
    conversation_state& state = conv->second;
    if (state.closed) {
      job.outcome.set(failure<send_result>(make_error(errc::unknown_recipient, "the account was deleted")));
      continue;
    }
    const bool withheld = effect == block_effect::withheld;
    message m;
    m.conversation = state.id;
    m.seq = ++state.last_seq;
    m.sender = req.sender;
    m.recipient = req.recipient;
    m.content = req.content;
    m.created_at = req.now;
    m.reply_to = req.reply_to;
    // A withheld message moves nothing the recipient sees: not their unread count, not the
    // conversation's place in their previews.
    if (!withheld) {
      state.updated_at = std::max(state.updated_at, req.now);
      ++(req.recipient == lo ? state.new_unread_lo : state.new_unread_hi);
    }
    added.push_back(new_message{&job, std::move(m), withheld});
    if (req.mark) added_with_mark[{req.sender, req.recipient, *req.mark, req.content}] = added.size() - 1;
  }

  for (std::size_t first = 0; first < added.size(); first += sql::max_rows_per_statement) {
    const std::size_t n = std::min(sql::max_rows_per_statement, added.size() - first);
    query q(c, sql::insert_messages(n));
    for (std::size_t i = 0; i < n; ++i) {
      const message& m = added[first + i].m;
      const send_request& req = added[first + i].job->req;
      const int p = static_cast<int>(sql::message_insert_columns * i);
      q.bind_at(p + 1, m.conversation).bind_at(p + 2, m.seq).bind_at(p + 3, m.sender).bind_at(p + 4, m.recipient);
      q.bind_at(p + 5, m.content).bind_at(p + 6, req.mark).bind_at(p + 7, m.created_at);
      q.bind_at(p + 8, req.reply_to).bind_at(p + 9, req.attachment);
      q.bind_at(p + 10, added[first + i].withheld ? 1 : 0);
    }
    q.run();
    // AUTOINCREMENT with a single writer: the rows got consecutive ids, the last one last.
    const message_id last = c.last_insert_rowid();
    for (std::size_t i = first; i < first + n; ++i)
      added[i].m.id = last - static_cast<message_id>(first + n - 1 - i);
  }
  for (const auto& [pair, state] : conversations) {
    query(c, sql::advance_conversation)
        .bind(state.id, state.last_seq, state.updated_at, state.new_unread_lo, state.new_unread_hi)
        .run();
  }

  // The attachments' rows, for the results: a few, and only on messages that carry one.
  for (auto& a : added) {
    if (!a.job->req.attachment) continue;
    query q(c, sql::select_message_by_id);
    q.bind(a.m.id);
    if (q.step()) a.m.attachment = read_message(q, 0).attachment;
  }

  // Each member of the conversation hears of the message, in message order per stream.
  stream_writer stream(c, writer.retention);
  std::vector<std::vector<stream_entry>> events(added.size());
  for (std::size_t i = 0; i < added.size(); ++i) {
    const message& m = added[i].m;
    events[i].push_back(stream.add(m.sender, stream_kind::message, m.conversation, {m.id}, m.created_at));
    if (m.recipient != m.sender && !added[i].withheld)
      events[i].push_back(stream.add(m.recipient, stream_kind::message, m.conversation, {m.id}, m.created_at));
  }
  stream.flush();

  for (const auto& [job, index] : retries_of_added)
    job->outcome.set(send_result{added[index].m, true, {}, added[index].withheld});
  for (std::size_t i = 0; i < added.size(); ++i)
    added[i].job->outcome.set(send_result{std::move(added[i].m), false, std::move(events[i]), added[i].withheld});
}

/// A receipt as its sender hears of it.
struct delivered_message {
  message_ref ref;
  conversation_id conversation = 0;
};

void record_receipts(connection& c, std::span<write_job* const> jobs, const writer_state& writer) {
  std::vector<message_id> ids;
  for (write_job* w : jobs) {
    const auto& job = static_cast<const receipt_job&>(*w);
    ids.insert(ids.end(), job.ids.begin(), job.ids.end());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

  std::unordered_map<message_id, delivered_message> undelivered;
  for (std::size_t first = 0; first < ids.size(); first += sql::max_rows_per_statement) {
    const std::size_t n = std::min(sql::max_rows_per_statement, ids.size() - first);
    query q(c, sql::select_undelivered(n));
    for (std::size_t i = 0; i < n; ++i) q.bind_at(static_cast<int>(i + 1), ids[first + i]);
    while (q.step())
      undelivered.emplace(q.int64(0), delivered_message{message_ref{q.int64(0), q.int64(1), q.int64(2)}, q.int64(3)});
  }

  // In call order, each message goes to the first receipt by its own recipient.
  // Each job's news goes to the senders' streams: one received event per (sender, conversation).
  std::map<unix_ms, std::vector<message_id>> delivered_at;
  stream_writer stream(c, writer.retention);
  std::vector<delivered_result> results(jobs.size());
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const auto& job = static_cast<const receipt_job&>(*jobs[j]);
    std::vector<std::pair<std::pair<user_id, conversation_id>, std::vector<message_id>>> per_sender;
    for (const message_id id : job.ids) {
      auto it = undelivered.find(id);
      if (it == undelivered.end() || it->second.ref.recipient != job.recipient) continue;
      const delivered_message& d = it->second;
      results[j].delivered.push_back(d.ref);
      const std::pair key{d.ref.sender, d.conversation};
      auto group = std::find_if(per_sender.begin(), per_sender.end(), [&](const auto& g) { return g.first == key; });
      if (group == per_sender.end()) group = per_sender.insert(group, {key, {}});
      group->second.push_back(id);
      delivered_at[job.at].push_back(id);
      undelivered.erase(it);
    }
    for (auto& [key, received] : per_sender) {
      const auto [sender, conversation] = key;
      results[j].stream.push_back(stream.add(sender, stream_kind::received, conversation, std::move(received), job.at));
    }
  }
  stream.flush();
  for (std::size_t j = 0; j < jobs.size(); ++j) static_cast<receipt_job&>(*jobs[j]).outcome.set(std::move(results[j]));
  for (const auto& [at, marked] : delivered_at) {
    for (std::size_t first = 0; first < marked.size(); first += sql::max_rows_per_statement) {
      const std::size_t n = std::min(sql::max_rows_per_statement, marked.size() - first);
      query q(c, sql::set_delivered(n));
      q.bind_at(1, at);
      for (std::size_t i = 0; i < n; ++i) q.bind_at(static_cast<int>(i + 2), marked[first + i]);
      q.run();
    }
  }
}

/// Runs `work` over a group of jobs; any failure aborts the group, every job with the error.
template <class Work>
job_run run_group(connection& c, std::span<write_job* const> jobs, Work work) {
  try {
    work(c, jobs);
    return job_run::done;
  } catch (...) {
    const error err = current_failure("write");
    for (write_job* w : jobs) w->fail(err);
    return job_run::aborted;
  }
}

}  // namespace

job_run run_step(connection& c, std::span<write_job* const> jobs, const writer_state& writer) {
  switch (jobs.front()->job_kind()) {
    case write_job::kind::append:
      return run_group(c, jobs, [&writer](connection& conn, std::span<write_job* const> group) {
        append_messages(conn, group, writer);
      });
    case write_job::kind::receipt:
      return run_group(c, jobs, [&writer](connection& conn, std::span<write_job* const> group) {
        record_receipts(conn, group, writer);
      });
    case write_job::kind::single:
      break;
  }
  return static_cast<single_job&>(*jobs.front()).run(c);
}

}  // namespace chatrix::storage::sqlite_detail
