// What a person changes about their own account and who they hear from: the profile
// (PATCH /v1/me), deletion (DELETE /v1/me) and blocks (/v1/blocks). Each change is stored
// first, then every node hears of it (chat_service::publish_user_changed), so that cached
// profiles, block filters and presence follow (docs/protocol.md, "Blocking" and "Account").
#pragma once

#include "chat/account_service.hpp"
#include "chat/chat_service.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/store.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

namespace chatrix::chat {

/// A block as POST /v1/blocks answers it.
struct block_outcome {
  block_entry entry;
  bool created = false;  // false: the user was blocked already (entry keeps the first time)
};

/// Thread-safety: I/O thread only.
class account_control {
 public:
  account_control(storage::store& store, account_service& accounts, chat_service& chat, const clock& clock);

  /// Changes the given fields; a name follows the registration rules (empty: the username).
  /// errc::invalid_field for a name they refuse, errc::unauthorized when the account is gone.
  boost::asio::awaitable<result<user>> update_profile(const user& who, profile_update change);

  /// Deletes `who` once `password` is confirmed (account_service::confirm_password), then
  /// revokes every token of theirs (every socket on every node closes) and tells every node.
  boost::asio::awaitable<result<account_deletion>> delete_account(const user& who, std::string password,
                                                                 std::string client_address);

  /// errc::not_found (no such user), errc::invalid_field (oneself), errc::quota_exceeded
  /// (query_limits::max_blocks).
  boost::asio::awaitable<result<block_outcome>> block(const user& who, std::string username);
  /// errc::not_found when `username` is no one `who` blocked.
  boost::asio::awaitable<result<void>> unblock(const user& who, std::string username);
  /// Most recently blocked first.
  boost::asio::awaitable<result<std::vector<block_entry>>> blocks(const user& who);

 private:
  /// The user `who` names to block or unblock; errc::not_found for no one.
  boost::asio::awaitable<result<user>> blockable(const user& who, const std::string& username);

  storage::store& store_;
  account_service& accounts_;
  chat_service& chat_;
  const clock& clock_;
};

}  // namespace chatrix::chat
