// What the SQLite store's people calls do on a connection (store.hpp, "people"; migration 7):
// profiles, last seen, blocks, account deletion and push tokens. The writes run as single
// jobs inside the writer's batch transaction, the reads on a reader. Internal to
// src/storage/sqlite.
#pragma once

#include "storage/sqlite/connection.hpp"
#include "storage/store.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace chatrix::storage::sqlite_detail {

/// store::update_profile.
result<std::optional<user>> update_profile(connection& c, const profile_update& u);
/// store::set_last_seen.
result<bool> set_last_seen(connection& c, const std::vector<std::pair<user_id, unix_ms>>& seen);

/// store::block_user.
result<bool> block_user(connection& c, user_id blocker, user_id blocked, unix_ms at);
/// store::unblock_user.
result<bool> unblock_user(connection& c, user_id blocker, user_id blocked);
/// store::blocked_users.
std::vector<block_entry> read_blocked_users(connection& c, user_id blocker);
/// store::block_relations_of; also read into session snapshots.
block_relations read_block_relations(connection& c, user_id id);
/// Whether any block is stored (the writer skips the lookup of blocks per message until one is).
bool any_block(connection& c);

/// store::delete_account.
result<account_deletion> delete_account(connection& c, user_id id, unix_ms now);

/// store::add_push_device.
result<bool> add_push_device(connection& c, user_id id, const push_device& d);
/// store::remove_push_device.
result<bool> remove_push_device(connection& c, user_id id, const std::string& platform, const std::string& token);
/// store::push_devices.
std::vector<push_device> read_push_devices(connection& c, user_id id);
/// store::undelivered.
std::vector<message_id> read_undelivered(connection& c, const std::vector<message_id>& ids);

}  // namespace chatrix::storage::sqlite_detail
