// The SQLite store's people calls (see people.hpp).

#include "storage/sqlite/people.hpp"

#include "storage/sqlite/queries.hpp"
#include "storage/sqlite/rows.hpp"

#include <algorithm>
#include <cstdint>

namespace chatrix::storage::sqlite_detail {

namespace {

std::optional<user> user_by_id(connection& c, user_id id) {
  query q(c, sql::select_user_by_id);
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return read_user(q, 0);
}

std::vector<user_id> ids_of(connection& c, std::string_view text, user_id id) {
  std::vector<user_id> out;
  query q(c, text);
  q.bind(id);
  while (q.step()) out.push_back(q.int64(0));
  return out;
}

}  // namespace

result<std::optional<user>> update_profile(connection& c, const profile_update& u) {
  std::optional<std::int64_t> show;
  if (u.show_presence) show = *u.show_presence ? 1 : 0;
  query(c, sql::update_profile).bind(u.id, u.name, show).run();
  if (c.changes() == 0) return std::optional<user>();
  return user_by_id(c, u.id);
}

result<bool> set_last_seen(connection& c, const std::vector<std::pair<user_id, unix_ms>>& seen) {
  for (const auto& [id, at] : seen) query(c, sql::raise_last_seen).bind(id, at).run();
  return true;
}

result<bool> block_user(connection& c, user_id blocker, user_id blocked, unix_ms at) {
  {
    query q(c, sql::select_block);
    q.bind(blocker, blocked);
    if (q.step()) return false;
  }
  {
    query q(c, sql::count_blocks_by);
    q.bind(blocker);
    if (q.step() && q.int64(0) >= query_limits::max_blocks)
      return make_error(errc::quota_exceeded, "too many blocked users");
  }
  query(c, sql::insert_block).bind(blocker, blocked, at).run();
  return true;
}

result<bool> unblock_user(connection& c, user_id blocker, user_id blocked) {
  query(c, sql::delete_block).bind(blocker, blocked).run();
  return c.changes() > 0;
}

std::vector<block_entry> read_blocked_users(connection& c, user_id blocker) {
  std::vector<block_entry> out;
  query q(c, sql::select_blocked_users);
  q.bind(blocker);
  while (q.step()) out.push_back(block_entry{read_user(q, 0), q.int64(6)});
  return out;
}

block_relations read_block_relations(connection& c, user_id id) {
  return block_relations{ids_of(c, sql::select_blocked_ids, id), ids_of(c, sql::select_blocker_ids, id)};
}

bool any_block(connection& c) {
  query q(c, sql::any_block);
  return q.step() && q.int64(0) != 0;
}

// Everything is checked (the account exists) before anything is written. The messages' rows
// stay, so that the partners' conversations keep their order and numbering; their content
// goes as delete_messages erases it (secure_delete zeroes the freed bytes). No stream event
// tells the partners: the caller announces the change (publish_user_changed) and every
// reader shows the erased messages as deleted.
result<account_deletion> delete_account(connection& c, user_id id, unix_ms now) {
  {
    query q(c, sql::select_live_user);
    q.bind(id);
    if (!q.step()) return make_error(errc::not_found, "no such user");
  }
  account_deletion out;
  std::vector<conversation_id> conversations;
  {
    query q(c, sql::select_conversations_of);
    q.bind(id);
    while (q.step()) {
      conversations.push_back(q.int64(0));
      if (q.int64(1) != id) out.partners.push_back(q.int64(1));
    }
  }
  std::sort(out.partners.begin(), out.partners.end());
  out.partners.erase(std::unique(out.partners.begin(), out.partners.end()), out.partners.end());
  for (const conversation_id chat : conversations) {
    query(c, sql::erase_sent_messages).bind(chat, id, now).run();
    out.messages_erased += c.changes();
    query(c, sql::close_conversation).bind(chat).run();
  }
  std::vector<std::string> files;
  {
    query q(c, sql::select_files_of);
    q.bind(id);
    while (q.step()) files.push_back(q.text(0));
  }
  for (const auto& file : files) {
    query(c, sql::delete_file_chunks).bind(file).run();
    query(c, sql::delete_file).bind(file).run();
  }
  out.files_erased = static_cast<std::int64_t>(files.size());
  for (const auto text : {sql::delete_stream_events_of, sql::delete_stream_of, sql::delete_blocks_by,
                          sql::delete_blocks_of, sql::delete_push_devices_of})
    query(c, text).bind(id).run();
  query(c, sql::make_tombstone).bind(id, now).run();
  return out;
}

result<bool> add_push_device(connection& c, user_id id, const push_device& d) {
  {
    query q(c, sql::select_push_device_owner);
    q.bind(d.platform, d.token);
    if (q.step() && q.int64(0) == id) return false;
  }
  query(c, sql::upsert_push_device).bind(d.platform, d.token, id, d.created_at).run();
  query(c, sql::delete_oldest_push_devices).bind(id, query_limits::max_push_devices).run();
  return true;
}

result<bool> remove_push_device(connection& c, user_id id, const std::string& platform, const std::string& token) {
  query(c, sql::delete_push_device).bind(id, platform, token).run();
  return c.changes() > 0;
}

std::vector<push_device> read_push_devices(connection& c, user_id id) {
  std::vector<push_device> out;
  query q(c, sql::select_push_devices);
  q.bind(id);
  while (q.step()) out.push_back(push_device{q.text(0), q.text(1), q.int64(2)});
  return out;
}

std::vector<message_id> read_undelivered(connection& c, const std::vector<message_id>& ids) {
  std::vector<message_id> out;
  for (const message_id id : ids) {
    query q(c, sql::select_push_due);
    q.bind(id);
    if (q.step()) out.push_back(id);
  }
  return out;
}

}  // namespace chatrix::storage::sqlite_detail
