// Row readers of the SQLite store; the column orders match queries.hpp.
#pragma once

#include "core/types.hpp"
#include "storage/sqlite/connection.hpp"

#include <utility>

namespace chatrix::storage::sqlite_detail {

/// The columns id, username, name, show_presence, last_seen, deleted_at of a users row, from
/// `first` on. A tombstone's username and name are stored empty already.
inline user read_user(const query& q, int first) {
  user u{q.int64(first), q.text(first + 1), q.text(first + 2)};
  u.show_presence = q.int64(first + 3) != 0;
  u.last_seen = q.optional_int64(first + 4);
  u.deleted = q.optional_int64(first + 5).has_value();
  return u;
}

/// id, username, name only: what search results carry (store::search_users).
inline user read_user_name(const query& q, int first) {
  return user{q.int64(first), q.text(first + 1), q.text(first + 2)};
}

/// The columns of CHATRIX_SQLITE_MESSAGE_COLUMNS, from `first` on.
inline message read_message(const query& q, int first) {
  message m;
  m.id = q.int64(first);
  m.conversation = q.int64(first + 1);
  m.seq = q.int64(first + 2);
  m.sender = q.int64(first + 3);
  m.recipient = q.int64(first + 4);
  m.content = q.text(first + 5);
  m.created_at = q.int64(first + 6);
  m.delivered_at = q.optional_int64(first + 7);
  m.read_at = q.optional_int64(first + 8);
  m.reply_to = q.optional_int64(first + 9);
  m.edited_at = q.optional_int64(first + 10);
  m.deleted_at = q.optional_int64(first + 11);
  if (auto file = q.optional_text(first + 12))
    m.attachment = file_info{std::move(*file), q.text(first + 13), q.text(first + 14), q.int64(first + 15)};
  return m;
}

}  // namespace chatrix::storage::sqlite_detail
