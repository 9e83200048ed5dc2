// The HTTP side of registration and login: the input is what a client sends on one
// connection. Beast's request parser reads it with the server's limits, each request (up to
// a few pipelined ones) becomes an http::request as net/server.cpp builds it, and the router
// answers it, with the real account service (Argon2id at its minimum cost) on a store in
// memory. The seeds and the dictionary steer it to /auth/register and /auth/login; the other
// routes are answered too. Checked beyond memory errors: the router never throws, every JSON
// answer is valid JSON, a 200 from /auth carries a token that verifies for the user it names,
// and no answer carries a password hash.
#include "chat/account_control.hpp"
#include "chat/account_service.hpp"
#include "chat/chat_service.hpp"
#include "chat/login_guard.hpp"
#include "chat/token_service.hpp"
#include "chat/user_directory.hpp"
#include "cluster/in_process_bus.hpp"
#include "fuzz_check.hpp"
#include "http/api_routes.hpp"
#include "http/file_routes.hpp"
#include "http/people_routes.hpp"
#include "http/router.hpp"
#include "memory_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

namespace {

using namespace chatrix;
using chatrix::fuzz::require;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

/// Requests read from one connection's bytes: enough for register-then-login sequences.
constexpr int max_requests = 4;

class fixed_clock final : public chatrix::clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1796083200));
  }
};

/// The next complete request at the front of `bytes` (consumed), as the server's read loop
/// would get it; nullopt when the bytes end inside it or do not parse.
std::optional<bhttp::request<bhttp::string_body>> next_request(std::string_view& bytes) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(http::max_body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(http::max_header_bytes));
  parser.eager(true);
  boost::beast::error_code ec;
  while (!parser.is_done()) {
    if (bytes.empty()) {
      // The client hung up: between requests (the server's end_of_stream), or inside one,
      // which only a body without a length may do.
      if (!parser.got_some()) return std::nullopt;
      parser.put_eof(ec);
      if (ec || !parser.is_done()) return std::nullopt;
      break;
    }
    const auto used = parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(used);
    if (ec == bhttp::error::need_more) ec = {};
    if (ec) return std::nullopt;
    // Nothing taken: what is left cannot complete the header, and no more bytes will come.
    if (used == 0) bytes = {};
  }
  return parser.release();
}

http::request to_route_request(bhttp::request<bhttp::string_body>& req) {
  http::request r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.body = std::move(req.body());
  if (auto it = req.find(bhttp::field::content_type); it != req.end()) r.content_type = std::string(it->value());
  if (auto it = req.find(bhttp::field::origin); it != req.end()) r.origin = std::string(it->value());
  if (auto it = req.find(bhttp::field::authorization); it != req.end()) r.authorization = std::string(it->value());
  r.client_address = "192.0.2.1";
  return r;
}

void check(const http::request& req, const http::response& res, const auth::token_codec& tokens,
           const chatrix::clock& time) {
  require(res.status >= 100 && res.status <= 599, "a status is 1xx-5xx");
  // A hash in the answer that the client did not send itself (a 404 echoes the path).
  const bool client_sent_hash_text = req.target.find("$argon2") != std::string::npos ||
                                     req.body.find("$argon2") != std::string::npos;
  require(client_sent_hash_text || res.body.find("$argon2") == std::string::npos, "no answer carries a password hash");
  if (res.content_type != "application/json" || res.body.empty()) return;
  boost::system::error_code ec;
  const auto body = boost::json::parse(res.body, ec);
  require(!ec && body.is_object(), "a JSON answer is a JSON object");
  if (res.status >= 400) {
    require(body.as_object().contains("code"), "an error answer has a code");
    return;
  }
  if (res.status == 200 && req.target.starts_with("/auth/")) {
    const auto& obj = body.as_object();
    require(obj.contains("token") && obj.at("token").is_string(), "a 200 from /auth carries a token");
    const auto claims = tokens.verify(std::string(obj.at("token").as_string()), time.now());
    require(claims.has_value(), "the token issued verifies");
    require(claims->subject == obj.at("user").at("id").to_number<std::int64_t>(), "the token is for the user named");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auth::password_hasher hasher(auth::argon2_cost::minimal());
  static const auth::token_codec tokens("fuzz-secret-0123456789", std::chrono::hours(24));
  static const fixed_clock time;
  static metrics::server_metrics metrics;
  static cluster::in_process_bus bus(cluster::node_info{.id = "fuzz"});

  asio::io_context ioc(1);
  fuzz::memory_store store;
  chat::user_directory users(store);
  // Hashing runs on the I/O thread's own executor: one thread keeps each input's run
  // deterministic, and at the minimum cost a hash takes microseconds.
  chat::token_service token_records(ioc.get_executor(), store, bus, tokens, time, metrics);
  // The server's default limits: the fuzzer's inputs come from one address, as an attacker's would.
  chat::login_guard guard(chat::local_login_limits({10, std::chrono::minutes(1)}, {300, std::chrono::minutes(1)},
                                                   {300, std::chrono::hours(1)}),
                          64, metrics);
  chat::account_service accounts(ioc.get_executor(), store, users, hasher, token_records, time, guard);
  http::readiness ready(ioc.get_executor(), store, bus);
  // The /v1/ routes answer too (401 without a token, an error code from this store with one).
  chat::chat_service chat(ioc.get_executor(), store, bus, tokens, time, metrics, chat::service_options{});
  http::api_routes api(accounts, chat, store);
  http::file_routes files(accounts, chat, store, time, http::file_options{});
  chat::account_control control(store, accounts, chat, time);
  http::people_routes people(accounts, control, store, time, limits::rate{5, std::chrono::hours(1)});
  http::router routes(accounts, api, files, people, bus, metrics, ready, http::cors_policy{});

  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (int i = 0; i < max_requests; ++i) {
    auto parsed = next_request(bytes);
    if (!parsed) break;
    const auto req = to_route_request(*parsed);
    std::optional<http::response> res;
    asio::co_spawn(ioc, routes.handle(req), [&](std::exception_ptr e, http::response r) {
      require(!e, "the router never throws");
      res = std::move(r);
    });
    ioc.run();
    ioc.restart();
    require(res.has_value(), "the router answers every request");
    check(req, *res, tokens, time);
    if (!parsed->keep_alive()) break;
  }
  return 0;
}
