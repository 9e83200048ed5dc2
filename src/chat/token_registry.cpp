#include "chat/token_registry.hpp"

#include "auth/jwt.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

namespace chatrix::chat {

namespace {

constexpr unix_ms prune_interval_ms = 60'000;
constexpr unix_ms leeway_ms = std::chrono::duration_cast<std::chrono::milliseconds>(auth::token_leeway).count();

}  // namespace

bool token_registry::revoked(user_id user, std::string_view jti, std::int64_t issued_at) const {
  if (jti.empty()) {
    // Tokens without a jti cannot be named one by one: a logout-all or a password change
    // refuses every such token of the user issued until then.
    auto it = cutoffs_.find(user);
    return it != cutoffs_.end() && issued_at <= it->second;
  }
  // Heterogeneous lookup would save this copy; revocation checks run once per
  // authentication or refresh, not per message.
  auto it = tokens_.find(std::string(jti));
  // A jti is only unique within its issuer; one minted elsewhere for another user is not this.
  return it != tokens_.end() && it->second.user == user;
}

void token_registry::load(const storage::revocation_snapshot& snapshot, unix_ms now) {
  for (const auto& t : snapshot.tokens) add_token(t.jti, t.user, t.expires_at);
  for (const auto& [user, cutoff] : snapshot.cutoffs) raise_cutoff(user, cutoff);
  prune(now);
}

void token_registry::apply(const cluster::revocation& r, unix_ms now) {
  // A logout-all may name thousands of tokens: look their expiries up, not scan for them.
  std::unordered_map<std::string_view, unix_ms> expiries;
  expiries.reserve(r.expiries.size());
  for (const auto& [jti, at] : r.expiries) expiries.emplace(jti, at);
  for (const auto& jti : r.jtis) {
    // A jti whose expiry did not come along is kept for good rather than guessed at.
    auto it = expiries.find(jti);
    add_token(jti, r.user, it == expiries.end() ? std::numeric_limits<unix_ms>::max() : it->second);
  }
  if (r.cutoff_s > 0) raise_cutoff(r.user, r.cutoff_s);
  prune(now);
}

void token_registry::add_token(std::string jti, user_id user, unix_ms expires_at) {
  if (jti.empty()) return;
  auto [it, inserted] = tokens_.try_emplace(std::move(jti), revoked_token{user, expires_at});
  if (!inserted) it->second.expires_at = std::max(it->second.expires_at, expires_at);
}

void token_registry::raise_cutoff(user_id user, std::int64_t cutoff_s) {
  auto [it, inserted] = cutoffs_.try_emplace(user, cutoff_s);
  if (!inserted) it->second = std::max(it->second, cutoff_s);
}

void token_registry::prune(unix_ms now) {
  if (now < next_prune_) return;
  next_prune_ = now + prune_interval_ms;
  // A token is refused by its signature check once now > exp + leeway; from then on its entry
  // here is dead weight.
  std::erase_if(tokens_, [now](const auto& entry) {
    const unix_ms until = entry.second.expires_at;
    return until < now - leeway_ms;
  });
}

}  // namespace chatrix::chat
