#include "chat/token_service.hpp"

#include "chat/await.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <limits>

namespace chatrix::chat {

namespace asio = boost::asio;

namespace {

/// A failed re-read of the revocations is tried again this often until it succeeds.
constexpr std::chrono::seconds reload_retry_interval{5};
constexpr unix_ms refusal_log_interval_ms = 10'000;

/// Enough of a jti to find its log lines, never enough to matter: a jti is not a secret, but
/// the log has no use for all of it.
std::string_view jti_prefix(std::string_view jti) { return jti.substr(0, 6); }

/// Token expiry in ms; exp of a token minted elsewhere may be anything up to int64.
unix_ms expiry_ms(std::int64_t exp_s) {
  constexpr std::int64_t max_s = std::numeric_limits<unix_ms>::max() / 1000;
  return std::min(exp_s, max_s) * 1000;
}

}  // namespace

result<storage::revocation_snapshot> read_revocations(storage::store& store, unix_ms now) {
  std::promise<result<storage::revocation_snapshot>> read;
  auto future = read.get_future();
  store.revocations(now, [&read](result<storage::revocation_snapshot> r) { read.set_value(std::move(r)); });
  return future.get();
}

token_service::token_service(asio::any_io_executor io, storage::store& store, cluster::bus& bus,
                             const auth::token_codec& codec, const clock& clock, metrics::server_metrics& metrics)
    : io_(std::move(io)),
      store_(store),
      bus_(bus),
      codec_(codec),
      clock_(clock),
      metrics_(metrics),
      reload_retry_(io_) {}

asio::awaitable<result<auth::issued_token>> token_service::issue(user_id account) {
  auto issued = codec_.issue(account, clock_.now());
  storage::token_record record{issued.jti, account, expiry_ms(issued.expires_at)};
  auto recorded = co_await await_callback<bool>([&](auto done) { store_.record_token(std::move(record), done); });
  if (!recorded) co_return recorded.error();
  co_return issued;
}

result<auth::token_claims> token_service::check(std::string_view token) {
  auto claims = codec_.verify(token, clock_.now());
  if (claims && revoked(*claims)) claims = make_error(errc::unauthorized, "token revoked");
  if (!claims) {
    metrics::server_metrics::add(metrics_.bad_tokens);
    log_refused(claims.error());
  }
  return claims;
}

void token_service::log_refused(const error& why) {
  const auto now = clock_.now_ms();
  if (now < next_refusal_log_) {
    ++refusals_not_logged_;
    return;
  }
  next_refusal_log_ = now + refusal_log_interval_ms;
  // The reason never quotes the token (auth::token_codec::verify names only what is wrong).
  spdlog::warn("token refused: {} ({} more refused since the last such line)", why.message,
               std::exchange(refusals_not_logged_, 0));
}

bool token_service::revoked(const auth::token_claims& token) const {
  return registry_.revoked(token.subject, token.jti, token.issued_at);
}

asio::awaitable<result<std::size_t>> token_service::revoke(const auth::token_claims& token) {
  if (token.jti.empty()) co_return co_await revoke_all(token.subject, std::string());
  storage::token_record record{token.jti, token.subject, expiry_ms(token.expires_at)};
  auto stored = co_await await_callback<bool>([&](auto done) { store_.revoke_token(record, done); });
  if (!stored) co_return stored.error();
  cluster::revocation r;
  r.user = token.subject;
  r.jtis.push_back(token.jti);
  r.expiries.emplace_back(token.jti, record.expires_at);
  publish(r, 1, "logout");
  co_return std::size_t{1};
}

asio::awaitable<result<std::size_t>> token_service::revoke_all(user_id user, std::string keep_jti) {
  const std::int64_t now_s = clock_.now_ms() / 1000;
  auto stored = co_await await_callback<std::vector<storage::token_record>>(
      [&](auto done) { store_.revoke_user_tokens(user, keep_jti, now_s, done); });
  if (!stored) co_return stored.error();
  cluster::revocation r;
  r.user = user;
  r.cutoff_s = now_s;
  r.jtis.reserve(stored->size());
  r.expiries.reserve(stored->size());
  for (auto& t : *stored) {
    r.expiries.emplace_back(t.jti, t.expires_at);
    r.jtis.push_back(std::move(t.jti));
  }
  publish(r, r.jtis.size(), keep_jti.empty() ? "every token" : "every other token");
  co_return r.jtis.size();
}

void token_service::publish(const cluster::revocation& r, std::size_t count, std::string_view why) {
  metrics::server_metrics::add(metrics_.tokens_revoked, count);
  if (r.jtis.size() == 1 && r.cutoff_s == 0) {
    spdlog::info("user {}: token {}... revoked ({})", r.user, jti_prefix(r.jtis.front()), why);
  } else {
    spdlog::info("user {}: {} revoked: {} tokens, and those without a jti issued until {}", r.user, why, count,
                 r.cutoff_s);
  }
  // Durable already: a node that misses this on the bus reads it from the store on resync.
  // The bus hands it to this node's sink too, which closes the sockets using these tokens.
  bus_.publish_revocation(r);
}

void token_service::load(const storage::revocation_snapshot& snapshot) {
  registry_.load(snapshot, clock_.now_ms());
  spdlog::info("tokens: {} revoked tokens and {} per-user cutoffs in force", snapshot.tokens.size(),
               snapshot.cutoffs.size());
}

void token_service::apply(const cluster::revocation& r) { registry_.apply(r, clock_.now_ms()); }

void token_service::reload(std::function<void()> loaded) {
  reload_done_ = std::move(loaded);
  if (reloading_) {
    reload_again_ = true;
    return;
  }
  start_reload();
}

void token_service::start_reload() {
  reloading_ = true;
  reload_again_ = false;
  std::weak_ptr<bool> alive = alive_;
  store_.revocations(clock_.now_ms(), [this, alive, io = io_](result<storage::revocation_snapshot> r) mutable {
    asio::post(io, [this, alive, r = std::move(r)]() mutable {
      if (!alive.lock()) return;
      if (!r) {
        spdlog::warn("tokens: re-reading the revocations failed, retrying in {} s: {}", reload_retry_interval.count(),
                     r.error().message);
        reload_retry_.expires_after(reload_retry_interval);
        reload_retry_.async_wait([this, alive](boost::system::error_code ec) {
          if (!ec && alive.lock()) start_reload();
        });
        return;
      }
      registry_.load(*r, clock_.now_ms());
      if (reload_again_) return start_reload();
      reloading_ = false;
      if (reload_done_) std::exchange(reload_done_, nullptr)();
    });
  });
}

}  // namespace chatrix::chat
