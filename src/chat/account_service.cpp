#include "chat/account_service.hpp"

#include "auth/account_rules.hpp"
#include "chat/await.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace chatrix::chat {

namespace asio = boost::asio;

account_service::account_service(asio::any_io_executor workers, storage::store& store, user_directory& users,
                                 const auth::password_hasher& hasher, token_service& tokens,
                                 const clock& clock, login_guard& guard, std::chrono::seconds username_quarantine)
    : workers_(std::move(workers)),
      store_(store),
      users_(users),
      hasher_(hasher),
      tokens_(tokens),
      clock_(clock),
      guard_(guard),
      username_quarantine_(username_quarantine) {
  auto dummy = hasher_.hash("not a real password, only for timing");
  if (dummy) dummy_hash_ = std::move(*dummy);
}

template <class T>
asio::awaitable<result<T>> account_service::on_worker(std::function<result<T>()> job) {
  // Not a coroutine itself, and the job travels behind a shared_ptr: g++ 12 mis-copies
  // lambdas with init-captures that are passed by value into coroutines (it corrupted a
  // captured std::string here), so coroutine parameters below are references or trivial.
  auto shared_job = std::make_shared<std::function<result<T>()>>(std::move(job));
  return await_callback<T>([workers = workers_, shared_job](storage::callback<T> done) {
    asio::post(workers, [shared_job, done] { done((*shared_job)()); });
  });
}

asio::awaitable<result<session_token>> account_service::register_user(std::string username, std::string password,
                                                                      std::string name, std::string client_address) {
  if (auto ok = auth::check_username(username); !ok) co_return ok.error();
  if (auto ok = auth::check_password(password); !ok) co_return ok.error();
  if (auto ok = auth::check_display_name(name); !ok) co_return ok.error();
  if (name.empty()) name = username;

  auto admitted = co_await guard_.admit_registration(client_address);
  if (!admitted) co_return admitted.error();
  auto& attempt = *admitted;
  // A taken name is answered before the hash: a 409 then costs a lookup, not an Argon2 run
  // (the answer says the name exists either way). create_user still decides races.
  auto existing = co_await await_callback<std::optional<user_credentials>>(
      [&](auto done) { store_.find_user_by_name(username, done); });
  if (!existing || *existing) {
    guard_.not_created(attempt);
    co_return existing ? make_error(errc::username_taken, "username already taken") : existing.error();
  }

  std::function<result<std::string>()> hash_job = [this, password] { return hasher_.hash(password); };
  auto hashed = co_await on_worker<std::string>(std::move(hash_job));
  if (!hashed) {
    guard_.not_created(attempt);
    co_return hashed.error();
  }

  const unix_ms now = clock_.now_ms();
  // The name of an account deleted within the quarantine stays taken: whoever knew the person
  // by it is not misled by a newcomer so soon (create_user decides, in the same transaction).
  const unix_ms reclaim_before =
      now - std::chrono::duration_cast<std::chrono::milliseconds>(username_quarantine_).count();
  new_user nu{std::move(username), std::move(name), std::move(*hashed), now, reclaim_before};
  auto created = co_await await_callback<user>([&](auto done) { store_.create_user(std::move(nu), done); });
  if (!created) {
    guard_.not_created(attempt);
    co_return created.error();
  }
  users_.remember(*created);
  auto issued = co_await tokens_.issue(created->id);
  if (!issued) co_return issued.error();
  co_return session_token{std::move(issued->token), *created};
}

asio::awaitable<result<session_token>> account_service::login(std::string username, std::string password,
                                                              std::string client_address) {
  const auto refused = make_error(errc::bad_credentials, "invalid username or password");
  auto admitted = co_await guard_.admit_login(username, client_address);
  if (!admitted) co_return admitted.error();
  auto& attempt = *admitted;
  if (password.size() > auth::max_password_bytes || username.size() > 256) {
    guard_.failed(attempt);
    co_return refused;
  }
  auto found = co_await await_callback<std::optional<user_credentials>>(
      [&](auto done) { store_.find_user_by_name(username, done); });
  if (!found) {
    guard_.released(attempt);
    co_return found.error();
  }
  const std::string hash = *found ? (*found)->password_hash : dummy_hash_;
  std::function<result<bool>()> verify_job = [this, hash, password]() -> result<bool> {
    return hasher_.verify(hash, password);
  };
  auto ok = co_await on_worker<bool>(std::move(verify_job));
  if (!ok) {
    guard_.released(attempt);
    co_return ok.error();
  }
  if (!*found || !*ok) {
    guard_.failed(attempt);
    co_return refused;
  }
  guard_.released(attempt);
  const auto& account = (*found)->account;
  users_.remember(account);
  auto issued = co_await tokens_.issue(account.id);
  if (!issued) co_return issued.error();
  co_return session_token{std::move(issued->token), account};
}

// ---- token lifecycle ----

asio::awaitable<result<auth::token_claims>> account_service::check_bearer(const std::string& bearer) {
  auto claims = tokens_.check(bearer);
  if (!claims) co_return claims.error();
  auto found = co_await users_.by_id(claims->subject);
  if (!found) co_return found.error();
  if (!*found || (*found)->deleted) co_return make_error(errc::unauthorized, "the token's user does not exist");
  co_return claims;
}

asio::awaitable<result<user>> account_service::bearer_user(std::string bearer) {
  auto claims = co_await check_bearer(bearer);
  if (!claims) co_return claims.error();
  // check_bearer found the profile, so the directory has it now.
  auto found = co_await users_.by_id(claims->subject);
  if (!found) co_return found.error();
  if (!*found || (*found)->deleted) co_return make_error(errc::unauthorized, "the token's user does not exist");
  co_return **found;
}

asio::awaitable<result<std::size_t>> account_service::logout(std::string bearer) {
  auto claims = co_await check_bearer(bearer);
  if (!claims) co_return claims.error();
  co_return co_await tokens_.revoke(*claims);
}

asio::awaitable<result<std::size_t>> account_service::logout_all(std::string bearer) {
  auto claims = co_await check_bearer(bearer);
  if (!claims) co_return claims.error();
  co_return co_await tokens_.revoke_all(claims->subject, std::string());
}

asio::awaitable<result<std::size_t>> account_service::change_password(std::string bearer, std::string old_password,
                                                                       std::string new_password,
                                                                       std::string client_address) {
  auto claims = co_await check_bearer(bearer);
  if (!claims) co_return claims.error();
  if (auto ok = auth::check_password(new_password); !ok) co_return ok.error();
  const user_id uid = claims->subject;
  if (auto confirmed = co_await confirm_password(uid, std::move(old_password), std::move(client_address)); !confirmed) {
    if (confirmed.error().code != errc::bad_credentials) co_return confirmed.error();
    co_return make_error(errc::bad_credentials, "the old password is wrong");
  }

  std::function<result<std::string>()> hash_job = [this, new_password] { return hasher_.hash(new_password); };
  auto hashed = co_await on_worker<std::string>(std::move(hash_job));
  if (!hashed) co_return hashed.error();
  auto stored = co_await await_callback<bool>(
      [&](auto done) { store_.set_password_hash(uid, std::move(*hashed), done); });
  if (!stored) co_return stored.error();
  if (!*stored) co_return make_error(errc::unauthorized, "the token's user does not exist");
  spdlog::info("user {}: password changed", uid);
  // Whoever else holds a token of this user (a stolen one, say) is out; the caller stays in.
  co_return co_await tokens_.revoke_all(uid, claims->jti);
}

asio::awaitable<result<void>> account_service::confirm_password(user_id account, std::string password,
                                                                std::string client_address) {
  const auto gone = make_error(errc::unauthorized, "the token's user does not exist");
  auto profile = co_await users_.by_id(account);
  if (!profile) co_return profile.error();
  if (!*profile || (*profile)->deleted) co_return gone;
  const std::string username = (*profile)->username;
  auto found = co_await await_callback<std::optional<user_credentials>>(
      [&](auto done) { store_.find_user_by_name(username, done); });
  if (!found) co_return found.error();
  if (!*found || (*found)->account.id != account) co_return gone;

  // A wrong password counts like a failed login (LOGIN_FAILURE_LIMIT), so a stolen token
  // cannot be used to guess the password without limit; the hash holds a place in HASH_QUEUE.
  auto admitted = co_await guard_.admit_login(username, client_address);
  if (!admitted) co_return admitted.error();
  auto& attempt = *admitted;
  if (password.size() > auth::max_password_bytes) {
    guard_.failed(attempt);
    co_return make_error(errc::bad_credentials, "the password is wrong");
  }
  const std::string hash = (*found)->password_hash;
  std::function<result<bool>()> verify_job = [this, hash, password]() -> result<bool> {
    return hasher_.verify(hash, password);
  };
  auto ok = co_await on_worker<bool>(std::move(verify_job));
  if (!ok) {
    guard_.released(attempt);
    co_return ok.error();
  }
  if (!*ok) {
    guard_.failed(attempt);
    co_return make_error(errc::bad_credentials, "the password is wrong");
  }
  guard_.released(attempt);
  co_return result<void>{};
}

}  // namespace chatrix::chat
