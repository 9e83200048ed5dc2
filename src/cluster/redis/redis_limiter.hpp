// Login and registration limits shared by every node of a cluster: one token bucket per key
// kept in Redis and updated by a small Lua script (atomic on the server, on Redis's clock), so
// guesses spread over several nodes count once. When Redis cannot answer, each node counts on
// its own (the local limiter it was given) until Redis answers again: logins never fail
// because Redis is down.
#pragma once

#include "chat/login_limiter.hpp"
#include "cluster/redis/redis_connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::cluster::redis {

struct limiter_options {
  /// REDISADDR, as the configuration parsed it.
  redis_address address;
  /// Keys are <key_prefix><limit name>:<key>, e.g. chatrix:limit:login_failures:alice.
  std::string key_prefix = "chatrix:limit:";
  /// A login waits for Redis's answer; a link that stays silent this long is given up (and
  /// the local counters take over) instead of holding logins for the usual 5 s.
  std::chrono::milliseconds reply_timeout{1000};
};

/// The connection a node's limiters share, started at once and closed with the last limiter
/// that uses it; it logs each outage once ("counting on this node only") and the recovery.
/// Thread-safety: none; the I/O thread.
class limiter_link {
 public:
  limiter_link(boost::asio::any_io_executor ex, limiter_options options);
  ~limiter_link();
  limiter_link(const limiter_link&) = delete;
  limiter_link& operator=(const limiter_link&) = delete;

  redis_connection& connection() { return *conn_; }
  const std::string& key_prefix() const noexcept { return options_.key_prefix; }

  /// Redis did not answer a limiter (`why`): logged once per outage.
  void fell_back(std::string_view why);
  /// Redis answered a limiter.
  void answered();

 private:
  limiter_options options_;
  std::shared_ptr<redis_connection> conn_;
  bool local_ = false;
};

/// One limit in Redis: key <prefix><name>:<key>, a hash {tokens, at} that expires once its
/// bucket would be full again (so Redis holds only the keys limited in the last period).
/// Same semantics as limits::token_bucket (N at once, refilled at N per period).
/// Thread-safety: none; the I/O thread.
class redis_limiter final : public chat::login_limiter {
 public:
  /// `fallback` supplies the rate and decides whenever Redis cannot.
  redis_limiter(std::shared_ptr<limiter_link> link, std::string name, std::unique_ptr<chat::login_limiter> fallback);

  const limits::rate& limit() const noexcept override { return fallback_->limit(); }
  boost::asio::awaitable<std::chrono::milliseconds> take(std::string key) override;
  void give_back(std::string key) override;

 private:
  std::vector<std::string> script_call(const std::string& key, int cost) const;

  std::shared_ptr<limiter_link> link_;
  std::string prefix_;  // <key_prefix><name>:
  std::unique_ptr<chat::login_limiter> fallback_;
};

/// `local`'s limits kept in Redis at options.address, each with its local limiter as the
/// fallback; the three share one connection.
chat::login_limits shared_login_limits(boost::asio::any_io_executor ex, limiter_options options,
                                       chat::login_limits local);

}  // namespace chatrix::cluster::redis
