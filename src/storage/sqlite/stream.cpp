// The SQLite store's event stream (see stream.hpp and migration 5).

#include "storage/sqlite/stream.hpp"

#include "storage/sqlite/queries.hpp"
#include "storage/sqlite/rows.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <string>
#include <utility>

namespace chatrix::storage::sqlite_detail {

namespace {

/// "5,6,7": a few bytes per id, and the row stays one small record.
std::string encode_ids(const std::vector<message_id>& ids) {
  std::string out;
  for (const message_id id : ids) {
    if (!out.empty()) out += ',';
    out += std::to_string(id);
  }
  return out;
}

std::vector<message_id> decode_ids(const std::string& text) {
  std::vector<message_id> out;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    message_id id = 0;
    const auto [next, ec] = std::from_chars(p, end, id);
    if (ec != std::errc()) throw sqlite_error(SQLITE_CORRUPT, "bad ids in stream_events: " + text);
    out.push_back(id);
    p = next < end && *next == ',' ? next + 1 : next;
  }
  return out;
}

stream_kind decode_kind(std::int64_t kind) {
  if (kind < 0 || kind > static_cast<std::int64_t>(stream_kind::deleted))
    throw sqlite_error(SQLITE_CORRUPT, "bad kind in stream_events: " + std::to_string(kind));
  return static_cast<stream_kind>(kind);
}

bool carries_messages(stream_kind kind) { return kind == stream_kind::message || kind == stream_kind::edited; }

}  // namespace

stream_entry stream_writer::add(user_id owner, stream_kind kind, conversation_id conversation,
                                std::vector<message_id> ids, unix_ms at) {
  auto it = last_pos_.find(owner);
  if (it == last_pos_.end()) {
    query q(c_, sql::select_stream_pos);
    q.bind(owner);
    it = last_pos_.emplace(owner, q.step() ? q.int64(0) : 0).first;
  }
  added_.push_back(stream_entry{owner, ++it->second, kind, conversation, std::move(ids), at});
  return added_.back();
}

void stream_writer::flush() {
  if (added_.empty()) return;
  constexpr std::size_t columns = 6;
  for (std::size_t first = 0; first < added_.size(); first += sql::max_rows_per_statement) {
    const std::size_t n = std::min(sql::max_rows_per_statement, added_.size() - first);
    query q(c_, sql::insert_stream_events(n));
    for (std::size_t i = 0; i < n; ++i) {
      const stream_entry& e = added_[first + i];
      const int p = static_cast<int>(columns * i);
      q.bind_at(p + 1, e.owner).bind_at(p + 2, e.pos).bind_at(p + 3, static_cast<std::int64_t>(e.kind));
      q.bind_at(p + 4, e.conversation).bind_at(p + 5, encode_ids(e.ids)).bind_at(p + 6, e.at);
    }
    q.run();
  }
  for (const auto& [owner, pos] : last_pos_) query(c_, sql::save_stream_pos).bind(owner, pos).run();
  unix_ms newest = 0;
  for (const auto& e : added_) newest = std::max(newest, e.at);
  prune_expired(newest, 2 * added_.size() + static_cast<std::size_t>(store::max_pruned_per_write));
  added_.clear();
  last_pos_.clear();
}

// By the writes' own clock (the `at` of what they record), not the store's: events carry
// that clock, and retention compares the two.
void stream_writer::prune_expired(unix_ms now, std::size_t at_most) {
  std::vector<std::pair<user_id, stream_pos>> expired;
  {
    query q(c_, sql::select_expired_events);
    q.bind(now - retention_.count(), static_cast<std::int64_t>(at_most));
    while (q.step()) expired.emplace_back(q.int64(0), q.int64(1));
  }
  if (expired.empty()) return;
  std::map<user_id, stream_pos> pruned_through;
  for (const auto& [owner, pos] : expired) {
    query(c_, sql::delete_stream_event).bind(owner, pos).run();
    auto& through = pruned_through[owner];
    through = std::max(through, pos);
  }
  for (const auto& [owner, pos] : pruned_through) query(c_, sql::raise_pruned_through).bind(owner, pos).run();
}

stream_page read_stream_page(connection& c, user_id viewer, stream_pos since, int limit) {
  stream_page page;
  stream_pos pruned_through = 0;
  {
    query q(c, sql::select_stream_state);
    q.bind(viewer);
    if (q.step()) {
      page.latest = q.int64(0);
      pruned_through = q.int64(1);
    }
  }
  page.expired = since < pruned_through || since > page.latest;
  if (page.expired || limit <= 0) return page;
  {
    query q(c, sql::select_stream_events);
    q.bind(viewer, since, limit);
    while (q.step()) {
      stream_event e;
      e.entry = stream_entry{viewer, q.int64(0), decode_kind(q.int64(1)), q.int64(2), decode_ids(q.text(3)), q.int64(4)};
      page.events.push_back(std::move(e));
    }
  }
  for (auto& e : page.events) {
    if (!carries_messages(e.entry.kind)) continue;
    for (const message_id id : e.entry.ids) {
      query q(c, sql::select_message_by_id);
      q.bind(id);
      if (q.step()) e.messages.push_back(read_message(q, 0));
    }
  }
  return page;
}

stream_pos read_stream_latest(connection& c, user_id viewer) {
  query q(c, sql::select_stream_pos);
  q.bind(viewer);
  return q.step() ? q.int64(0) : 0;
}

}  // namespace chatrix::storage::sqlite_detail
