#include "cluster/redis/redis_limiter.hpp"

#include "cluster/redis/redis_command.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace chatrix::cluster::redis {

namespace asio = boost::asio;

namespace {

// KEYS[1]: the bucket. ARGV: count, period (ms), burst, cost (negative: tokens given back).
// Returns 0 when the cost was taken, else the ms until it could be. The clock is Redis's, so
// nodes with skewed clocks still share one bucket. A full bucket is deleted: it carries no
// information, and so Redis holds only keys limited within the last period.
// Sent with EVAL each time rather than EVALSHA: a few hundred bytes per login, and no
// NOSCRIPT dance after Redis restarts.
constexpr std::string_view token_bucket_script = R"lua(
local count, period, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local per_ms = count / period
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * per_ms)
  at = now
end
local wait = 0
if cost < 0 then
  tokens = math.min(burst, tokens - cost)
elseif tokens >= cost then
  tokens = tokens - cost
else
  wait = math.floor((cost - tokens) / per_ms) + 1
end
if tokens >= burst then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / per_ms))
end
return wait
)lua";

connection_options link_options(const limiter_options& options) {
  connection_options c;
  c.address = options.address;
  c.name = "chatrix-limits";
  c.reply_timeout = options.reply_timeout;
  return c;
}

}  // namespace

limiter_link::limiter_link(asio::any_io_executor ex, limiter_options options)
    : options_(std::move(options)), conn_(redis_connection::create(std::move(ex), link_options(options_))) {
  conn_->start();
}

limiter_link::~limiter_link() { conn_->close(); }

void limiter_link::fell_back(std::string_view why) {
  if (local_) return;
  local_ = true;
  spdlog::warn("login limits: Redis did not answer ({}): counting on this node only until it does", why);
}

void limiter_link::answered() {
  if (!local_) return;
  local_ = false;
  spdlog::info("login limits: Redis answers again; counting across the cluster");
}

redis_limiter::redis_limiter(std::shared_ptr<limiter_link> link, std::string name,
                             std::unique_ptr<chat::login_limiter> fallback)
    : link_(std::move(link)), prefix_(link_->key_prefix() + name + ":"), fallback_(std::move(fallback)) {}

std::vector<std::string> redis_limiter::script_call(const std::string& key, int cost) const {
  const auto& rate = limit();
  return {"EVAL",
          std::string(token_bucket_script),
          "1",
          prefix_ + key,
          std::to_string(rate.count),
          std::to_string(rate.period.count()),
          std::to_string(rate.count),
          std::to_string(cost)};
}

asio::awaitable<std::chrono::milliseconds> redis_limiter::take(std::string key) {
  if (off()) co_return std::chrono::milliseconds(0);
  auto& conn = link_->connection();
  if (!conn.is_up()) {
    link_->fell_back("not connected");
  } else {
    auto [ec, answer] = co_await async_command(conn, script_call(key, 1), as_result);
    if (!ec && answer.type == reply::kind::integer) {
      link_->answered();
      co_return std::chrono::milliseconds(answer.integer);
    }
    link_->fell_back(ec ? ec.message() : to_debug_string(answer));
  }
  co_return co_await fallback_->take(std::move(key));
}

void redis_limiter::give_back(std::string key) {
  if (off()) return;
  auto& conn = link_->connection();
  if (!conn.is_up()) {
    fallback_->give_back(std::move(key));
    return;
  }
  const auto call = script_call(key, -1);
  std::vector<std::string_view> args(call.begin(), call.end());
  conn.send(args);
}

chat::login_limits shared_login_limits(asio::any_io_executor ex, limiter_options options, chat::login_limits local) {
  auto link = std::make_shared<limiter_link>(std::move(ex), std::move(options));
  return {std::make_unique<redis_limiter>(link, "login_failures", std::move(local.failures_per_username)),
          std::make_unique<redis_limiter>(link, "login_address", std::move(local.attempts_per_address)),
          std::make_unique<redis_limiter>(link, "register_address", std::move(local.registrations_per_address))};
}

}  // namespace chatrix::cluster::redis
