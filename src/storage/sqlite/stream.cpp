// The SQLite store's event stream (see stream.hpp and migration 5).

#include "storage/sqlite/stream.hpp"

#include "storage/sqlite/queries.hpp"
#include "storage/sqlite/rows.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <tuple>
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
  auto it = owners_.find(owner);
  if (it == owners_.end()) {
    query q(c_, sql::select_stream_pos);
    q.bind(owner);
    it = owners_.emplace(owner, owner_state{q.step() ? q.int64(0) : 0, 0}).first;
  }
  ++it->second.added;
  added_.push_back(stream_entry{owner, ++it->second.last, kind, conversation, std::move(ids), at});
  return added_.back();
}

void stream_writer::flush() {
  if (added_.empty()) return;
  // In key order: consecutive rows of one stream then land on a leaf page the b-tree walk has
  // just visited.
  std::sort(added_.begin(), added_.end(), [](const stream_entry& a, const stream_entry& b) {
    return std::tie(a.owner, a.pos) < std::tie(b.owner, b.pos);
  });
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
  std::vector<std::pair<user_id, stream_pos>> counters;
  counters.reserve(owners_.size());
  for (const auto& [owner, state] : owners_) counters.emplace_back(owner, state.last);
  for (std::size_t first = 0; first < counters.size(); first += sql::max_rows_per_statement) {
    const std::size_t n = std::min(sql::max_rows_per_statement, counters.size() - first);
    query q(c_, sql::save_stream_positions(n));
    for (std::size_t i = 0; i < n; ++i) {
      const auto [owner, pos] = counters[first + i];
      q.bind_at(static_cast<int>(2 * i + 1), owner).bind_at(static_cast<int>(2 * i + 2), pos);
    }
    q.run();
  }

  // By the writes' own clock (the `at` of what they record), not the store's: events carry
  // that clock, and retention compares the two. Per stream, not through an index on `at`:
  // that index cost every event one more b-tree insert, this costs a stream written to one
  // seek per batch.
  unix_ms newest = 0;
  for (const auto& e : added_) newest = std::max(newest, e.at);
  const unix_ms cutoff = newest - retention_.count();
  for (const auto& [owner, state] : owners_) prune(owner, cutoff, 2 * state.added + store::max_pruned_per_write);
  std::optional<user_id> idle;
  {
    query q(c_, sql::select_random_stream_owner);
    if (q.step()) idle = q.int64(0);
  }
  if (idle) prune(*idle, cutoff, store::max_pruned_per_write);
  added_.clear();
  owners_.clear();
}

void stream_writer::prune(user_id owner, unix_ms cutoff, std::int64_t at_most) {
  stream_pos through = 0;
  {
    query q(c_, sql::select_oldest_events);
    q.bind(owner, at_most);
    while (q.step() && q.int64(1) < cutoff) through = q.int64(0);
  }
  if (through == 0) return;
  query(c_, sql::delete_events_through).bind(owner, through).run();
  query(c_, sql::raise_pruned_through).bind(owner, through).run();
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
      e.entry =
          stream_entry{viewer, q.int64(0), decode_kind(q.int64(1)), q.int64(2), decode_ids(q.text(3)), q.int64(4)};
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
