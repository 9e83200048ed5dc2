#include "chat/account_control.hpp"

#include "auth/account_rules.hpp"
#include "chat/await.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace chatrix::chat {

namespace asio = boost::asio;

account_control::account_control(storage::store& store, account_service& accounts, chat_service& chat,
                                 const clock& clock)
    : store_(store), accounts_(accounts), chat_(chat), clock_(clock) {}

asio::awaitable<result<user>> account_control::update_profile(const user& who, profile_update change) {
  if (change.name) {
    if (auto ok = auth::check_display_name(*change.name); !ok) co_return ok.error();
    if (change.name->empty()) change.name = who.username;
  }
  change.id = who.id;
  auto updated = co_await await_callback<std::optional<user>>(
      [&](auto done) { store_.update_profile(std::move(change), done); });
  if (!updated) co_return updated.error();
  if (!*updated) co_return make_error(errc::unauthorized, "the token's user does not exist");
  // This node's copy goes at once, whenever the bus brings the news back here.
  chat_.users().forget(who.id);
  chat_.publish_user_changed(who.id);
  co_return **updated;
}

asio::awaitable<result<account_deletion>> account_control::delete_account(const user& who, std::string password,
                                                                         std::string client_address) {
  if (auto confirmed = co_await accounts_.confirm_password(who.id, std::move(password), std::move(client_address));
      !confirmed)
    co_return confirmed.error();
  auto deleted = co_await await_callback<account_deletion>(
      [&](auto done) { store_.delete_account(who.id, clock_.now_ms(), done); });
  if (!deleted) co_return deleted.error();
  spdlog::info("user {}: account deleted ({} messages and {} files erased)", who.id, deleted->messages_erased,
               deleted->files_erased);
  // Every node drops its copy of the profile before the sockets close, so nothing reads the
  // account as alive again; the revocation then ends every device of it, everywhere.
  chat_.users().forget(who.id);
  chat_.publish_user_changed(who.id);
  auto revoked = co_await chat_.tokens().revoke_all(who.id, std::string());
  if (!revoked) {
    // The account is gone: its tokens are refused anyway (its user reads as deleted), but
    // sockets already open stay until they reconnect. Said, not hidden.
    spdlog::error("user {}: deleted, but revoking its tokens failed: {}", who.id, revoked.error().message);
    co_return revoked.error();
  }
  co_return deleted;
}

asio::awaitable<result<user>> account_control::blockable(const user& who, const std::string& username) {
  // What no account can be called is not looked up, nor echoed (a path segment may hold any byte).
  if (!auth::check_username(username)) co_return make_error(errc::not_found, "no such user");
  auto found = co_await chat_.users().by_name(username);
  if (!found) co_return found.error();
  if (!*found || (*found)->deleted) co_return make_error(errc::not_found, "no user named '" + username + "'");
  if ((*found)->id == who.id) co_return make_error(errc::invalid_field, "you cannot block yourself");
  co_return **found;
}

asio::awaitable<result<block_outcome>> account_control::block(const user& who, std::string username) {
  auto target = co_await blockable(who, username);
  if (!target) co_return target.error();
  const unix_ms now = clock_.now_ms();
  auto created = co_await await_callback<bool>(
      [&](auto done) { store_.block_user(who.id, target->id, now, done); });
  if (!created) co_return created.error();
  if (*created) {
    chat_.publish_user_changed(who.id);
    chat_.publish_user_changed(target->id);
    co_return block_outcome{block_entry{*target, now}, true};
  }
  // Blocked before: answered with the block as it was first made.
  auto all = co_await blocks(who);
  if (!all) co_return all.error();
  const auto it =
      std::find_if(all->begin(), all->end(), [&](const block_entry& e) { return e.blocked.id == target->id; });
  co_return block_outcome{it == all->end() ? block_entry{*target, now} : *it, false};
}

asio::awaitable<result<void>> account_control::unblock(const user& who, std::string username) {
  const auto not_blocked = make_error(errc::not_found, "'" + username + "' is not blocked");
  auto target = co_await blockable(who, username);
  if (!target) co_return target.error().code == errc::invalid_field ? not_blocked : target.error();
  auto removed = co_await await_callback<bool>([&](auto done) { store_.unblock_user(who.id, target->id, done); });
  if (!removed) co_return removed.error();
  if (!*removed) co_return not_blocked;
  chat_.publish_user_changed(who.id);
  chat_.publish_user_changed(target->id);
  co_return result<void>{};
}

asio::awaitable<result<std::vector<block_entry>>> account_control::blocks(const user& who) {
  co_return co_await await_callback<std::vector<block_entry>>(
      [&](auto done) { store_.blocked_users(who.id, done); });
}

}  // namespace chatrix::chat
