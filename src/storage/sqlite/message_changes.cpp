// The SQLite store's edits and deletes (see message_changes.hpp).

#include "storage/sqlite/message_changes.hpp"

#include "storage/sqlite/queries.hpp"
#include "storage/sqlite/rows.hpp"
#include "storage/sqlite/stream.hpp"

#include <algorithm>
#include <optional>
#include <vector>

namespace chatrix::storage::sqlite_detail {

namespace {

/// A message as a change to it needs it.
struct change_state {
  user_id sender = 0;
  user_id recipient = 0;
  conversation_id conversation = 0;
  unix_ms created_at = 0;
  bool deleted = false;
  bool withheld = false;  // the recipient never hears of it
};

std::optional<change_state> state_of(connection& c, message_id id) {
  query q(c, sql::select_change_state);
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return change_state{q.int64(0), q.int64(1), q.int64(2), q.int64(3), q.int64(4) != 0, q.int64(5) != 0};
}

/// Only the sender may change a message; to anybody outside its conversation it does not exist.
std::optional<error> refusal_for(const std::optional<change_state>& m, user_id requester) {
  if (!m || (m->sender != requester && m->recipient != requester))
    return make_error(errc::not_found, "no such message");
  if (m->sender != requester) return make_error(errc::forbidden, "only the sender may change a message");
  return std::nullopt;
}

/// Every member of the conversation (the pair, or oneself) hears of the change: the sender
/// of `ids`, the recipient of those of them not withheld from them (`recipient_ids`).
std::vector<stream_entry> tell_members(stream_writer& stream, const change_state& m, stream_kind kind,
                                       const std::vector<message_id>& ids,
                                       const std::vector<message_id>& recipient_ids, unix_ms at) {
  std::vector<stream_entry> out;
  out.push_back(stream.add(m.sender, kind, m.conversation, ids, at));
  if (m.recipient != m.sender && !recipient_ids.empty())
    out.push_back(stream.add(m.recipient, kind, m.conversation, recipient_ids, at));
  return out;
}

}  // namespace

result<edit_result> edit_message(connection& c, const edit_request& req, std::chrono::milliseconds retention) {
  const auto m = state_of(c, req.id);
  if (auto refused = refusal_for(m, req.editor)) return *refused;
  if (m->deleted) return make_error(errc::invalid_field, "the message was deleted");
  if (m->created_at + req.window < req.now) return make_error(errc::edit_window_closed, "the edit window has closed");

  query(c, sql::edit_message).bind(req.id, req.content, req.now).run();
  edit_result out;
  {
    query q(c, sql::select_message_by_id);
    q.bind(req.id);
    q.step();
    out.edited = read_message(q, 0);
  }
  stream_writer stream(c, retention);
  const std::vector<message_id> ids{req.id};
  const std::vector<message_id> recipient_ids = m->withheld ? std::vector<message_id>{} : ids;
  out.stream = tell_members(stream, *m, stream_kind::edited, ids, recipient_ids, req.now);
  stream.flush();
  return out;
}

result<delete_result> delete_messages(connection& c, const delete_request& req, std::chrono::milliseconds retention) {
  if (req.ids.empty()) return make_error(errc::invalid_field, "no message ids");
  // Every id is checked before anything changes.
  std::optional<change_state> first;
  std::vector<message_id> newly;
  std::vector<message_id> newly_seen_by_recipient;
  for (const message_id id : req.ids) {
    const auto m = state_of(c, id);
    if (auto refused = refusal_for(m, req.requester)) return *refused;
    if (!first) first = m;
    if (m->conversation != first->conversation)
      return make_error(errc::invalid_field, "the messages are in several conversations");
    if (!m->deleted && std::find(newly.begin(), newly.end(), id) == newly.end()) {
      newly.push_back(id);
      if (!m->withheld) newly_seen_by_recipient.push_back(id);
    }
  }

  delete_result out;
  out.conversation = first->conversation;
  out.deleted_at = req.now;
  for (const message_id id : newly) query(c, sql::delete_message).bind(id, req.now).run();
  out.deleted = std::move(newly);
  if (out.deleted.empty()) return out;  // deleted before: not news
  stream_writer stream(c, retention);
  out.stream = tell_members(stream, *first, stream_kind::deleted, out.deleted, newly_seen_by_recipient, req.now);
  stream.flush();
  return out;
}

}  // namespace chatrix::storage::sqlite_detail
