// Registration and login: validates input, hashes and verifies passwords on the worker pool
// (never on the I/O thread), and issues tokens. The abuse rules (rate limits, the bound on
// hashes in flight, logging of failures) are login_guard's.
#pragma once

#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "chat/login_guard.hpp"
#include "chat/user_directory.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

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
                  const auth::password_hasher& hasher, const auth::token_codec& tokens, const clock& clock,
                  login_guard& guard);

  /// errc::invalid_field (with the rule broken) or errc::username_taken; errc::rate_limited
  /// (REGISTER_LIMIT for `client_address`) or errc::overloaded (HASH_QUEUE) before any hashing.
  boost::asio::awaitable<result<session_token>> register_user(std::string username, std::string password,
                                                             std::string name, std::string client_address);
  /// errc::bad_credentials for an unknown user and a wrong password alike, after the same work;
  /// errc::rate_limited (LOGIN_ADDRESS_LIMIT, LOGIN_FAILURE_LIMIT) or errc::overloaded
  /// (HASH_QUEUE) before any lookup or hashing, so alike for both as well.
  boost::asio::awaitable<result<session_token>> login(std::string username, std::string password,
                                                     std::string client_address);

 private:
  template <class T>
  boost::asio::awaitable<result<T>> on_worker(std::function<result<T>()> job);

  boost::asio::any_io_executor workers_;
  storage::store& store_;
  user_directory& users_;
  const auth::password_hasher& hasher_;
  const auth::token_codec& tokens_;
  const clock& clock_;
  login_guard& guard_;
  std::string dummy_hash_;  // verified for unknown users so both failures cost the same
};

}  // namespace chatrix::chat
