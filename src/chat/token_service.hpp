// The token lifecycle on one node: issues tokens and records them, refuses revoked ones,
// revokes (durably first, then on every node through the bus), and keeps the in-memory
// registry in step with the store (docs/security.md, "Token lifecycle").
#pragma once

#include "auth/jwt.hpp"
#include "chat/token_registry.hpp"
#include "cluster/bus.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "metrics/metrics.hpp"
#include "storage/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace chatrix::chat {

/// Reads every revocation in force from `store`, blocking the calling thread: for startup,
/// before the I/O thread runs, so that no token is honoured before the node knows which are
/// revoked.
result<storage::revocation_snapshot> read_revocations(storage::store& store, unix_ms now);

/// Thread-safety: call on the I/O thread given as `io`; store callbacks are posted back to it.
class token_service {
 public:
  token_service(boost::asio::any_io_executor io, storage::store& store, cluster::bus& bus,
                const auth::token_codec& codec, const clock& clock, metrics::server_metrics& metrics);
  token_service(const token_service&) = delete;
  token_service& operator=(const token_service&) = delete;

  /// A token for `account`, returned only once the store has recorded it: a logout-all must
  /// find every token it has to revoke.
  boost::asio::awaitable<result<auth::issued_token>> issue(user_id account);

  /// The claims of `token` when it verifies (auth::token_codec::verify) and is not revoked;
  /// errc::unauthorized otherwise, "token revoked" for a revoked one. Every refusal counts in
  /// chatrix_bad_tokens_total.
  result<auth::token_claims> check(std::string_view token);
  /// Whether a token accepted earlier has been revoked since.
  bool revoked(const auth::token_claims& token) const;

  /// Logout: revokes `token` (which check() accepted). A token without a jti cannot be named,
  /// so it is revoked with every other token of its user (as by revoke_all). Returns how many
  /// tokens were revoked.
  boost::asio::awaitable<result<std::size_t>> revoke(const auth::token_claims& token);
  /// Revokes every token of `user` except the one with jti `keep_jti` ("" = none), and every
  /// token of theirs without a jti issued until now. Returns how many tokens were revoked.
  boost::asio::awaitable<result<std::size_t>> revoke_all(user_id user, std::string keep_jti);

  /// Takes in what the store holds (at startup, from read_revocations).
  void load(const storage::revocation_snapshot& snapshot);
  /// Reads the store again (the bus may have lost revocations) and runs `loaded` once that is
  /// taken in. A failed read is retried every few seconds until one succeeds.
  void reload(std::function<void()> loaded);
  /// A revocation from the bus (made on this node or another).
  void apply(const cluster::revocation& r);

 private:
  void publish(const cluster::revocation& r, std::size_t count, std::string_view why);
  /// A warning with the reason, at most one per bad_token_log_interval: refused tokens leave a
  /// trace, and a flood of them cannot flood the log.
  void log_refused(const error& why);
  void start_reload();

  boost::asio::any_io_executor io_;
  storage::store& store_;
  cluster::bus& bus_;
  const auth::token_codec& codec_;
  const clock& clock_;
  metrics::server_metrics& metrics_;
  token_registry registry_;
  boost::asio::steady_timer reload_retry_;
  std::function<void()> reload_done_;  // the latest caller's; earlier reloads it covers
  bool reloading_ = false;
  bool reload_again_ = false;  // asked for while a read was under way: it may predate the loss
  unix_ms next_refusal_log_ = 0;
  std::uint64_t refusals_not_logged_ = 0;
  // Guards store callbacks that arrive after the service is gone (at shutdown).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatrix::chat
