// Account setup for chatrix-bench: blocking Beast HTTP calls to /auth/register and /auth/login.
// Runs before the measurement, so simplicity wins over speed; a few workers overlap password hashing.
#include "bench.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace chatrix::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

/// One keep-alive HTTP/1.1 connection; reconnects once when the server closed it.
class http_session {
 public:
  explicit http_session(const endpoint& ep) : ep_(ep) {}

  std::pair<unsigned, std::string> post(const std::string& target, const std::string& body,
                                        const std::string& bearer = {}) {
    for (int attempt = 0;; ++attempt) {
      try {
        if (!stream_.socket().is_open()) connect();
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::host, ep_.host + ":" + ep_.port);
        req.set(http::field::content_type, "application/json");
        if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
        req.keep_alive(true);
        req.body() = body;
        req.prepare_payload();
        stream_.expires_after(std::chrono::seconds(30));
        http::write(stream_, req);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream_, buffer, res);
        if (!res.keep_alive()) close();
        return {res.result_int(), std::move(res.body())};
      } catch (const boost::system::system_error& e) {
        close();
        // A stale keep-alive connection gets one retry.
        if (attempt >= 1) throw std::runtime_error("POST http://" + ep_.host + ":" + ep_.port + target + ": " + e.code().message());
      }
    }
  }

 private:
  void connect() {
    tcp::resolver resolver(io_);
    stream_.expires_after(std::chrono::seconds(10));
    stream_.connect(resolver.resolve(ep_.host, ep_.port));
    stream_.socket().set_option(tcp::no_delay(true));
  }
  void close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  endpoint ep_;
  asio::io_context io_;
  beast::tcp_stream stream_{io_};
};

std::string token_of(const std::string& body) {
  const auto v = json::parse(body);
  const auto* obj = v.if_object();
  const auto* tok = obj ? obj->if_contains("token") : nullptr;
  if (!tok || !tok->is_string()) throw std::runtime_error("no token in response: " + body.substr(0, 200));
  return std::string(tok->get_string());
}

account obtain_one(http_session& http, const std::string& username, const std::string& password) {
  const std::string reg = json::serialize(json::object{{"username", username}, {"password", password}, {"name", username}});
  auto [status, body] = http.post("/auth/register", reg);
  if (status / 100 == 2) return {username, token_of(body)};
  // 409 is this server's "username taken"; the original answered other 4xx codes, so try login anyway.
  if (status == 409 || status == 400 || status == 500) {
    const std::string login = json::serialize(json::object{{"username", username}, {"password", password}});
    auto [lstatus, lbody] = http.post("/auth/login", login);
    if (lstatus / 100 == 2) return {username, token_of(lbody)};
    throw std::runtime_error("register of " + username + " answered HTTP " + std::to_string(status) + " " + body.substr(0, 200) +
                             ", then login answered HTTP " + std::to_string(lstatus) + " " + lbody.substr(0, 200));
  }
  throw std::runtime_error("register of " + username + " failed: HTTP " + std::to_string(status) + " " + body.substr(0, 200));
}

}  // namespace

namespace {

/// Runs job(session, i) for i in [0, count) on `concurrency` keep-alive connections; rethrows
/// the first failure.
void for_each_request(const endpoint& http_ep, std::size_t count, int concurrency,
                      const std::function<void(http_session&, std::size_t)>& job) {
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::string failure;
  auto worker = [&] {
    try {
      http_session session(http_ep);
      for (std::size_t i = next++; i < count; i = next++) {
        {
          std::lock_guard lock(mu);
          if (!failure.empty()) return;
        }
        job(session, i);
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mu);
      if (failure.empty()) failure = e.what();
    }
  };
  const int n = std::max(1, std::min<int>(concurrency, static_cast<int>(count)));
  std::vector<std::thread> pool;
  for (int i = 0; i < n; ++i) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (!failure.empty()) throw std::runtime_error(failure);
}

}  // namespace

std::vector<account> obtain_accounts(const endpoint& http_ep, const std::vector<std::string>& usernames,
                                     const std::string& password, int concurrency) {
  std::vector<account> out(usernames.size());
  for_each_request(http_ep, usernames.size(), concurrency, [&](http_session& session, std::size_t i) {
    out[i] = obtain_one(session, usernames[i], password);
  });
  return out;
}

void send_first_messages(const endpoint& http_ep, const std::vector<account>& from, const std::vector<account>& to,
                         int concurrency) {
  for_each_request(http_ep, from.size(), concurrency, [&](http_session& session, std::size_t i) {
    const std::string body = json::serialize(json::object{{"to", to[i].username}, {"content", "hello"}});
    auto [status, answer] = session.post("/v1/messages", body, from[i].token);
    if (status / 100 != 2)
      throw std::runtime_error("POST /v1/messages as " + from[i].username + " answered HTTP " + std::to_string(status) +
                               " " + answer.substr(0, 200));
  });
}

}  // namespace chatrix::bench
