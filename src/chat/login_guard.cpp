#include "chat/login_guard.hpp"

#include "auth/account_rules.hpp"
#include "core/username.hpp"

#include <boost/asio/ip/address.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace chatrix::chat {

namespace asio = boost::asio;

namespace {

constexpr std::size_t max_logged_username_bytes = 64;
// Names longer than any valid username (32) cannot exist, so cutting the key just past that
// length loses nothing and bounds the memory (and Redis keys) an attacker can make us hold.
constexpr std::size_t max_username_key_bytes = auth::max_username_chars + 1;

std::string username_key(std::string_view username) {
  return fold_username(username.substr(0, std::min(username.size(), max_username_key_bytes)));
}

std::string shown_address(std::string_view address) {
  return address.empty() ? "unknown address" : std::string(address);
}

}  // namespace

std::string address_limit_key(std::string_view address) {
  boost::system::error_code ec;
  const auto parsed = asio::ip::make_address(std::string(address), ec);
  if (ec || !parsed.is_v6()) return std::string(address);
  const auto v6 = parsed.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

std::string loggable_username(std::string_view username) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const char c : username.substr(0, std::min(username.size(), max_logged_username_bytes))) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 0xf];
    }
  }
  if (username.size() > max_logged_username_bytes) out += "...";
  return out;
}

login_guard::login_guard(login_limits limits, std::size_t hash_queue, metrics::server_metrics& metrics)
    : limits_(std::move(limits)),
      hash_queue_(hash_queue),
      metrics_(metrics),
      log_gate_(limits::rate{1, std::chrono::minutes(1)}, 1, 10'000) {}

void login_guard::log_limited(std::string_view setting, const std::string& key, const std::string& line) {
  std::string gate_key(setting);
  gate_key += '\n';
  gate_key += key;
  if (log_gate_.take(gate_key, std::chrono::steady_clock::now()).count() != 0) return;
  spdlog::warn("{} (further refusals for this key are not logged for a minute)", line);
}

result<hash_ticket> login_guard::hash_slot() {
  if (hash_queue_ == 0 || hashes_in_flight() < hash_queue_) return hash_ticket(metrics_.hash_queue);
  metrics::server_metrics::add(metrics_.hash_queue_full);
  log_limited("HASH_QUEUE", {},
              "overloaded: password work refused with 503, HASH_QUEUE full (" +
                  std::to_string(hashes_in_flight()) + " passwords being checked)");
  // Retry-After: a place frees up as soon as one hash is done (~0.1 s at the interactive cost).
  return make_limited(errc::overloaded, "too many passwords being checked; try again in a moment", 1000);
}

asio::awaitable<result<login_attempt>> login_guard::admit_login(const std::string& username,
                                                                const std::string& address) {
  login_attempt attempt{username_key(username), loggable_username(username), address, {}};
  // The address first: a client spraying usernames is stopped by its address, without
  // leaving a trace in every username's budget.
  if (!limits_.attempts_per_address->off()) {
    const auto key = address_limit_key(address);
    if (const auto wait = co_await limits_.attempts_per_address->take(key); wait.count() > 0) {
      metrics::server_metrics::add(metrics_.limited_login_address);
      log_limited("LOGIN_ADDRESS_LIMIT", key,
                  "rate limited: login from " + shown_address(address) + " refused by LOGIN_ADDRESS_LIMIT");
      co_return make_limited(errc::rate_limited, "too many login attempts from this address; try again later",
                             wait.count());
    }
  }
  if (!limits_.failures_per_username->off()) {
    if (const auto wait = co_await limits_.failures_per_username->take(attempt.username_key); wait.count() > 0) {
      metrics::server_metrics::add(metrics_.limited_login_username);
      log_limited("LOGIN_FAILURE_LIMIT", attempt.username_key,
                  "rate limited: login for username \"" + attempt.shown_username + "\" from " + shown_address(address) +
                      " refused by LOGIN_FAILURE_LIMIT");
      co_return make_limited(errc::rate_limited, "too many failed logins for this username; try again later",
                             wait.count());
    }
  }
  auto ticket = hash_slot();
  if (!ticket) {
    released(attempt);
    co_return ticket.error();
  }
  attempt.ticket = std::move(*ticket);
  co_return std::move(attempt);
}

void login_guard::failed(login_attempt& attempt) {
  metrics::server_metrics::add(metrics_.login_failures);
  spdlog::warn("login failed: username \"{}\" from {}", attempt.shown_username, shown_address(attempt.address));
  attempt.ticket = {};
}

void login_guard::released(login_attempt& attempt) {
  if (!limits_.failures_per_username->off()) limits_.failures_per_username->give_back(attempt.username_key);
  attempt.ticket = {};
}

asio::awaitable<result<registration_attempt>> login_guard::admit_registration(const std::string& address) {
  registration_attempt attempt{address_limit_key(address), {}};
  if (!limits_.registrations_per_address->off()) {
    if (const auto wait = co_await limits_.registrations_per_address->take(attempt.address_key); wait.count() > 0) {
      metrics::server_metrics::add(metrics_.limited_register);
      log_limited("REGISTER_LIMIT", attempt.address_key,
                  "rate limited: registration from " + shown_address(address) + " refused by REGISTER_LIMIT");
      co_return make_limited(errc::rate_limited, "too many registrations from this address; try again later",
                             wait.count());
    }
  }
  auto ticket = hash_slot();
  if (!ticket) {
    not_created(attempt);
    co_return ticket.error();
  }
  attempt.ticket = std::move(*ticket);
  co_return std::move(attempt);
}

void login_guard::not_created(registration_attempt& attempt) {
  if (!limits_.registrations_per_address->off()) limits_.registrations_per_address->give_back(attempt.address_key);
  attempt.ticket = {};
}

}  // namespace chatrix::chat
