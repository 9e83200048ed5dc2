// Registration and login: validates input, hashes and verifies passwords on the worker pool
// (never on the I/O thread), and issues tokens. Logout, logout everywhere and password
// changes, which revoke tokens (token_service). The abuse rules (rate limits, the bound on
// hashes in flight, logging of failures) are login_guard's.
#pragma once

#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "chat/login_guard.hpp"
#include "chat/token_service.hpp"
#include "chat/user_directory.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace chatrix::chat {

struct session_token {
  std::string token;
  user account;
};

/// Thread-safety: call on the I/O thread.
class account_service {
 public:
  account_service(boost::asio::any_io_executor workers, storage::store& store, user_directory& users,
                  const auth::password_hasher& hasher, token_service& tokens, const clock& clock,
                  login_guard& guard, std::chrono::seconds username_quarantine = std::chrono::hours(30 * 24));

  /// errc::invalid_field (with the rule broken) or errc::username_taken (also for the name of
  /// an account deleted less than `username_quarantine` ago); errc::rate_limited
  /// (REGISTER_LIMIT for `client_address`) or errc::overloaded (HASH_QUEUE) before any hashing.
  boost::asio::awaitable<result<session_token>> register_user(std::string username, std::string password,
                                                             std::string name, std::string client_address);
  /// errc::bad_credentials for an unknown user and a wrong password alike, after the same work;
  /// errc::rate_limited (LOGIN_ADDRESS_LIMIT, LOGIN_FAILURE_LIMIT) or errc::overloaded
  /// (HASH_QUEUE) before any lookup or hashing, so alike for both as well.
  boost::asio::awaitable<result<session_token>> login(std::string username, std::string password,
                                                     std::string client_address);

  // ---- token lifecycle: each takes the caller's bearer token; errc::unauthorized when it is
  // bad, revoked or its user is gone. Each returns how many tokens it revoked, once the store
  // has them and the bus has carried them to every node. ----

  /// The user `bearer` stands for (the HTTP API's routes).
  boost::asio::awaitable<result<user>> bearer_user(std::string bearer);
  /// Revokes `bearer` itself.
  boost::asio::awaitable<result<std::size_t>> logout(std::string bearer);
  /// Revokes every token of the bearer's user, `bearer` included.
  boost::asio::awaitable<result<std::size_t>> logout_all(std::string bearer);
  /// Verifies `old_password` (as login does, on the worker pool), sets `new_password`, then
  /// revokes every token of the user except `bearer`. errc::bad_credentials for a wrong old
  /// password (counted against LOGIN_FAILURE_LIMIT like a failed login from `client_address`),
  /// errc::invalid_field for a new one the password rules refuse.
  boost::asio::awaitable<result<std::size_t>> change_password(std::string bearer, std::string old_password,
                                                              std::string new_password, std::string client_address);

  /// Checks that `password` is `account`'s (on the worker pool, as login does) before something
  /// is destroyed in its name. errc::bad_credentials when it is not, counted against
  /// LOGIN_FAILURE_LIMIT like a failed login from `client_address`; errc::unauthorized when the
  /// account is gone; errc::rate_limited or errc::overloaded before any hashing.
  boost::asio::awaitable<result<void>> confirm_password(user_id account, std::string password,
                                                       std::string client_address);

 private:
  /// The claims of a bearer token that token_service accepts and whose user still exists (and
  /// is not deleted).
  boost::asio::awaitable<result<auth::token_claims>> check_bearer(const std::string& bearer);

  template <class T>
  boost::asio::awaitable<result<T>> on_worker(std::function<result<T>()> job);

  boost::asio::any_io_executor workers_;
  storage::store& store_;
  user_directory& users_;
  const auth::password_hasher& hasher_;
  token_service& tokens_;
  const clock& clock_;
  login_guard& guard_;
  std::chrono::seconds username_quarantine_;
  std::string dummy_hash_;  // verified for unknown users so both failures cost the same
};

}  // namespace chatrix::chat
