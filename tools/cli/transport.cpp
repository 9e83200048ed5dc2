// Beast, driven by C++20 coroutines on a private io_context that runs only while a call waits:
// chatrix-cli does one thing at a time, so a blocking facade over async operations is all it
// needs, and async operations are what lets every wait have a deadline.
#include "transport.hpp"

#include "cli_error.hpp"
#include "wire.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <exception>
#include <functional>

namespace chatrix::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

cli_error unreachable(const server_url& server, const std::string& what) {
  return cli_error("unreachable", server.text + ": " + what, exit_status::unreachable);
}

cli_error timed_out(const server_url& server) {
  return cli_error("timeout", server.text + ": no answer within " + std::to_string(network_timeout.count()) + " s",
                   exit_status::timeout);
}

/// Runs `operation` on `io` until it finishes or `deadline` passes. On the deadline `abort`
/// closes the socket, so the operation ends (with operation_aborted) before this returns and
/// nothing on the stack is used after it; the result is then nullopt. Operations with nothing to
/// return yield `true`, so that one completion signature serves them all.
template <class T>
std::optional<T> run_until(asio::io_context& io, asio::awaitable<T> operation, clock::time_point deadline,
                           const std::function<void()>& abort) {
  std::optional<T> result;
  std::exception_ptr failure;
  bool finished = false;
  asio::co_spawn(io, std::move(operation), [&](std::exception_ptr e, T value) {
    finished = true;
    if (e) failure = e;
    else result = std::move(value);
  });
  io.restart();
  io.run_until(deadline);
  if (!finished) {
    abort();
    io.restart();
    io.run();
    return std::nullopt;
  }
  if (failure) std::rethrow_exception(failure);
  return result;
}

asio::awaitable<bool> connect(tcp::resolver& resolver, tcp::socket& socket, const server_url& server) {
  auto [resolve_error, endpoints] = co_await resolver.async_resolve(server.host, server.port, use_tuple);
  if (resolve_error) throw unreachable(server, "cannot resolve " + server.host + ": " + resolve_error.message());
  auto [connect_error, endpoint] = co_await asio::async_connect(socket, endpoints, use_tuple);
  if (connect_error) throw unreachable(server, "cannot connect: " + connect_error.message());
  socket.set_option(tcp::no_delay(true));
  co_return true;
}

std::string host_header(const server_url& server) {
  const bool ipv6 = server.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + server.host + "]" : server.host) + ":" + server.port;
}

}  // namespace

// ---- HTTP ----

http_reply post_json(const server_url& server, std::string_view target, const std::string& body,
                     std::string_view bearer) {
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  auto exchange = [&]() -> asio::awaitable<http_reply> {
    co_await connect(resolver, socket, server);
    http::request<http::string_body> request{http::verb::post, target, 11};
    request.set(http::field::host, host_header(server));
    request.set(http::field::content_type, "application/json");
    request.set(http::field::user_agent, "chatrix-cli");
    if (!bearer.empty()) request.set(http::field::authorization, "Bearer " + std::string(bearer));
    request.keep_alive(false);
    request.body() = body;
    request.prepare_payload();
    auto [write_error, written] = co_await http::async_write(socket, request, use_tuple);
    if (write_error) throw unreachable(server, "cannot send the request: " + write_error.message());
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    auto [read_error, read] = co_await http::async_read(socket, buffer, response, use_tuple);
    if (read_error) throw unreachable(server, "no HTTP answer: " + read_error.message());
    co_return http_reply{response.result_int(), std::move(response.body())};
  };
  auto reply = run_until(io, exchange(), clock::now() + network_timeout, [&] {
    resolver.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
  });
  if (!reply) throw timed_out(server);
  return std::move(*reply);
}

// ---- WebSocket ----

struct ws_connection::state {
  explicit state(const server_url& s) : server(s) {}

  void abort() {
    resolver.cancel();
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).close(ignored);
  }

  server_url server;
  asio::io_context io;
  tcp::resolver resolver{io};
  websocket::stream<tcp::socket> ws{io};
  beast::flat_buffer buffer;
};

ws_connection::ws_connection(const server_url& server) : state_(std::make_unique<state>(server)) {
  state& s = *state_;
  auto open = [&s]() -> asio::awaitable<bool> {
    co_await connect(s.resolver, beast::get_lowest_layer(s.ws), s.server);
    s.ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& request) { request.set(http::field::user_agent, "chatrix-cli"); }));
    websocket::response_type response;
    auto [error] = co_await s.ws.async_handshake(response, host_header(s.server), "/ws", use_tuple);
    if (error == websocket::error::upgrade_declined) {
      const auto refusal = http_error_of(response.result_int(), response.body());
      throw server_error(refusal.code, refusal.reason);
    }
    if (error) throw unreachable(s.server, "WebSocket handshake failed: " + error.message());
    co_return true;
  };
  if (!run_until(s.io, open(), clock::now() + network_timeout, [&s] { s.abort(); })) throw timed_out(server);
}

ws_connection::~ws_connection() = default;

void ws_connection::write(const std::string& text) {
  state& s = *state_;
  auto send = [&s, &text]() -> asio::awaitable<bool> {
    s.ws.text(true);
    auto [error, written] = co_await s.ws.async_write(asio::buffer(text), use_tuple);
    if (error) throw unreachable(s.server, "cannot send: " + error.message());
    co_return true;
  };
  if (!run_until(s.io, send(), clock::now() + network_timeout, [&s] { s.abort(); })) throw timed_out(s.server);
}

std::optional<std::string> ws_connection::read(clock::time_point deadline) {
  state& s = *state_;
  auto receive = [&s]() -> asio::awaitable<std::string> {
    for (;;) {
      s.buffer.clear();
      auto [error, size] = co_await s.ws.async_read(s.buffer, use_tuple);
      if (error == websocket::error::closed) {
        const auto& why = s.ws.reason();
        throw unreachable(s.server, "the server closed the connection (" + std::to_string(why.code) +
                                        (why.reason.empty() ? "" : " " + std::string(why.reason.data(), why.reason.size())) + ")");
      }
      if (error) throw unreachable(s.server, "connection lost: " + error.message());
      if (s.ws.got_text()) co_return beast::buffers_to_string(s.buffer.data());
      // The server sends only text frames; a binary one is skipped rather than misread.
    }
  };
  return run_until(s.io, receive(), deadline, [&s] { s.abort(); });
}

void ws_connection::close() noexcept {
  state& s = *state_;
  if (!beast::get_lowest_layer(s.ws).is_open()) return;
  auto goodbye = [&s]() -> asio::awaitable<bool> {
    auto [error] = co_await s.ws.async_close(websocket::close_code::normal, use_tuple);
    co_return !error;
  };
  try {
    run_until(s.io, goodbye(), clock::now() + network_timeout, [&s] { s.abort(); });
  } catch (...) {
    // Closing is a courtesy: the command already has its answer.
  }
}

}  // namespace chatrix::cli
