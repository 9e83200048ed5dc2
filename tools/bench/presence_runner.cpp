// chatrix-bench's presence mode: what it costs the server(s) when thousands of users come online
// and go offline (docs/performance.md, "What presence costs"). Few frames per connection, so the
// connections use Beast's WebSocket stream as it is (unlike the load mode's hand-made data path),
// all on one event loop: the bookkeeping needs no locks.
#include "bench.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <utility>
#include <stdexcept>

namespace chatrix::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using clock_type = std::chrono::steady_clock;

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

enum class stage { connecting, leaving, done };

struct user_conn {
  const account* who = nullptr;
  const account* partner = nullptr;
  bool leaver = false;
  std::unique_ptr<websocket::stream<tcp::socket>> ws;
  bool authed = false;
  bool failed = false;
  bool saw_partner_offline = false;
};

struct presence_run {
  const presence_options& opt;
  asio::io_context io{1};
  std::vector<user_conn> users;
  stage current = stage::connecting;
  std::size_t next_connect = 0;
  int authed = 0;
  int failed = 0;
  int closes_pending = 0;
  clock_type::time_point first_connect{}, last_authed{}, last_frame{}, last_close{}, last_offline{};
  presence_result result;

  explicit presence_run(const presence_options& o) : opt(o) {}

  void fail(user_conn& u, const std::string& what) {
    if (std::exchange(u.failed, true)) return;
    ++failed;
    if (result.first_error.empty()) result.first_error = what;
  }

  void on_frame(user_conn& u, std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return;
    const auto* type = v.as_object().if_contains("type");
    if (!type || !type->is_int64()) return;
    const auto t = type->as_int64();
    if (t == 4 && !u.authed) {
      u.authed = true;
      ++authed;
      last_authed = clock_type::now();
      return;
    }
    if (t == 3 && !u.authed) {
      fail(u, "ERR at login for " + u.who->username + ": " + std::string(text.substr(0, 200)));
      return;
    }
    if (t != 18) return;
    last_frame = clock_type::now();
    if (current == stage::connecting) {
      ++result.frames_connect;
      return;
    }
    ++result.frames_disconnect;
    const auto* body = v.as_object().if_contains("body");
    if (!body || !body->is_object()) return;
    const auto* online = body->as_object().if_contains("online");
    const auto* name = body->as_object().if_contains("username");
    if (!u.leaver && !u.saw_partner_offline && online && online->is_bool() && !online->as_bool() && name &&
        name->is_string() && name->as_string() == u.partner->username) {
      u.saw_partner_offline = true;
      ++result.offline_seen;
      last_offline = last_frame;
    }
  }

  asio::awaitable<void> read_loop(user_conn& u) {
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, n] = co_await u.ws->async_read(buffer, use_tuple);
      if (ec) {
        if (!u.authed) fail(u, "connection of " + u.who->username + " ended before login: " + ec.message());
        co_return;
      }
      const auto data = buffer.cdata();
      on_frame(u, std::string_view(static_cast<const char*>(data.data()), data.size()));
      buffer.consume(n);
    }
  }

  asio::awaitable<void> connect_one(user_conn& u) {
    const auto& ep = u.leaver ? opt.leaver_url : opt.watcher_url;
    tcp::resolver resolver(io);
    auto [rec, results] = co_await resolver.async_resolve(ep.host, ep.port, use_tuple);
    if (rec) {
      fail(u, "resolve " + ep.host + ": " + rec.message());
      co_return;
    }
    u.ws = std::make_unique<websocket::stream<tcp::socket>>(io);
    auto [cec, peer] = co_await asio::async_connect(u.ws->next_layer(), results, use_tuple);
    if (cec) {
      fail(u, "connect: " + cec.message());
      co_return;
    }
    auto [hec] = co_await u.ws->async_handshake(ep.host + ":" + ep.port, ep.target, use_tuple);
    if (hec) {
      fail(u, "handshake: " + hec.message());
      co_return;
    }
    u.ws->text(true);
    // Named: g++ 12 rejects a braced list inside the co_await.
    json::object hello;
    hello["token"] = u.who->token;
    const std::string token_frame = json::serialize(hello);
    auto [wec, written] = co_await u.ws->async_write(asio::buffer(token_frame), use_tuple);
    if (wec) {
      fail(u, "token write: " + wec.message());
      co_return;
    }
    asio::co_spawn(io, read_loop(u), asio::detached);
  }

  /// One of `concurrency` connectors: takes the next user until none is left.
  asio::awaitable<void> connector() {
    while (next_connect < users.size()) co_await connect_one(users[next_connect++]);
  }

  /// Polls (every 20 ms) until `done()` or the phase's timeout.
  asio::awaitable<bool> wait_for(std::function<bool()> done) {
    asio::steady_timer timer(io);
    const auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                  std::chrono::duration<double>(opt.timeout_s));
    while (!done()) {
      if (clock_type::now() >= deadline) co_return false;
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(use_tuple);
    }
    co_return true;
  }

  bool quiet() const {
    return seconds_between(last_frame, clock_type::now()) >= opt.quiet_s;
  }

  asio::awaitable<void> close_one(user_conn& u) {
    if (u.ws) co_await u.ws->async_close(websocket::close_code::normal, use_tuple);
    last_close = clock_type::now();
    --closes_pending;
  }

  asio::awaitable<void> close_all(bool leavers) {
    for (auto& u : users) {
      if (u.leaver != leavers || !u.ws) continue;
      ++closes_pending;
      asio::co_spawn(io, close_one(u), asio::detached);
    }
    co_await wait_for([this] { return closes_pending == 0; });
  }

  asio::awaitable<void> drive() {
    result.before = opt.usage ? opt.usage() : server_usage{};
    first_connect = last_frame = clock_type::now();
    const int n = std::max(1, opt.concurrency);
    for (int i = 0; i < n; ++i) asio::co_spawn(io, connector(), asio::detached);
    const auto total = static_cast<int>(users.size());
    co_await wait_for([&] { return authed + failed >= total; });
    result.connect_s = seconds_between(first_connect, last_authed);
    co_await wait_for([&] { return quiet(); });
    result.online = opt.usage ? opt.usage() : server_usage{};

    current = stage::leaving;
    last_frame = clock_type::now();
    co_await close_all(true);
    const auto pairs = static_cast<int>(opt.leavers.size());
    co_await wait_for([&] { return result.offline_seen >= pairs; });
    co_await wait_for([&] { return quiet(); });
    result.last_offline_s = result.offline_seen > 0 ? seconds_between(last_close, last_offline) : 0;
    result.after = opt.usage ? opt.usage() : server_usage{};

    current = stage::done;
    co_await close_all(false);
    result.connected = authed;
    result.failed = failed;
    io.stop();
  }
};

}  // namespace

presence_result run_presence(const presence_options& opt) {
  if (opt.leavers.size() != opt.watchers.size()) throw std::runtime_error("presence: leavers and watchers differ in number");
  presence_run run(opt);
  run.users.reserve(2 * opt.leavers.size());
  // Interleaved, so that about half the pairs have the watcher online first and half the leaver.
  for (std::size_t i = 0; i < opt.leavers.size(); ++i) {
    const bool leaver_first = i % 2 == 0;
    for (int k = 0; k < 2; ++k) {
      const bool leaver = (k == 0) == leaver_first;
      user_conn u;
      u.leaver = leaver;
      u.who = leaver ? &opt.leavers[i] : &opt.watchers[i];
      u.partner = leaver ? &opt.watchers[i] : &opt.leavers[i];
      run.users.push_back(std::move(u));
    }
  }
  asio::co_spawn(run.io, run.drive(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  run.io.run();
  return run.result;
}

}  // namespace chatrix::bench
