// All of the push's Beast and Asio SSL code is in this translation unit (each such unit costs
// tens of seconds to compile; docs/architecture.md, "Build notes").
#include "push/webhook_client.hpp"

#include "core/spawn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>

#include <utility>

namespace chatrix::push {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// An answer whose headers are this large is not a webhook receiver's.
constexpr std::uint32_t max_answer_header_bytes = 16 * 1024;

webhook_answer failed(std::string_view step, const error_code& ec) {
  return {0, std::string(step) + ": " + ec.message()};
}

http::request<http::string_body> make_request(const webhook_endpoint& endpoint, webhook_request& attempt) {
  http::request<http::string_body> req{http::verb::post, endpoint.target, 11};
  req.set(http::field::host, endpoint.host_header);
  req.set(http::field::user_agent, "chatrix-push");
  req.set(http::field::content_type, "application/json");
  req.set(http::field::connection, "close");
  req.set("X-Chatrix-Timestamp", attempt.timestamp);
  req.set("X-Chatrix-Signature", attempt.signature);
  req.body() = std::move(attempt.body);
  req.prepare_payload();
  return req;
}

template <class Stream>
asio::awaitable<webhook_answer> exchange(Stream& stream, http::request<http::string_body>& req) {
  if (auto [ec, n] = co_await http::async_write(stream, req, use_tuple); ec) co_return failed("write", ec);
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> answer;
  answer.header_limit(max_answer_header_bytes);
  // The body is not read: the status is the whole answer, and the connection closes after it.
  answer.skip(true);
  if (auto [ec, n] = co_await http::async_read_header(stream, buffer, answer, use_tuple); ec)
    co_return failed("read", ec);
  co_return webhook_answer{static_cast<int>(answer.get().result_int()), {}};
}

asio::awaitable<webhook_answer> post_once(std::shared_ptr<const webhook_endpoint> endpoint,
                                          std::shared_ptr<ssl::context> tls, webhook_request attempt,
                                          std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  // One deadline for the whole attempt: resolving, connecting, the TLS handshake, the
  // request and the answer's headers.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  tcp::resolver resolver(ex);
  asio::steady_timer timer(ex, deadline);
  auto resolved = co_await (resolver.async_resolve(endpoint->host, std::to_string(endpoint->port), use_tuple) ||
                            timer.async_wait(use_tuple));
  if (resolved.index() == 1) co_return webhook_answer{0, "resolve: timeout"};
  auto [resolve_ec, addresses] = std::get<0>(std::move(resolved));
  if (resolve_ec) co_return failed("resolve", resolve_ec);

  beast::tcp_stream socket(ex);
  socket.expires_at(deadline);
  if (auto [ec, at] = co_await socket.async_connect(addresses, use_tuple); ec) co_return failed("connect", ec);
  auto req = make_request(*endpoint, attempt);
  if (!tls) co_return co_await exchange(socket, req);

  ssl::stream<beast::tcp_stream> stream(std::move(socket), *tls);
  // SNI for names only (RFC 6066 forbids an address there); the certificate is checked
  // against either.
  error_code address_ec;
  asio::ip::make_address(endpoint->host, address_ec);
  if (address_ec && !SSL_set_tlsext_host_name(stream.native_handle(), endpoint->host.c_str()))
    co_return webhook_answer{0, "tls: cannot set the server name"};
  stream.set_verify_callback(ssl::host_name_verification(endpoint->host));
  if (auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple); ec)
    co_return failed("tls handshake", ec);
  co_return co_await exchange(stream, req);
}

}  // namespace

http_webhook_client::http_webhook_client(asio::any_io_executor io, webhook_endpoint endpoint,
                                         std::chrono::milliseconds timeout)
    : io_(std::move(io)), endpoint_(std::make_shared<const webhook_endpoint>(std::move(endpoint))), timeout_(timeout) {
  if (endpoint_->tls) {
    tls_ = std::make_shared<ssl::context>(ssl::context::tls_client);
    tls_->set_default_verify_paths();
    tls_->set_verify_mode(ssl::verify_peer);
  }
}

http_webhook_client::~http_webhook_client() = default;

void http_webhook_client::post(webhook_request request, std::function<void(webhook_answer)> done) {
  // `done` is shared by the two ends: the attempt's result, or the coroutine's failure.
  auto report = std::make_shared<std::function<void(webhook_answer)>>(std::move(done));
  spawn_logged(
      io_,
      [endpoint = endpoint_, tls = tls_, request = std::move(request), timeout = timeout_,
       report]() mutable -> asio::awaitable<void> {
        auto answer = co_await post_once(std::move(endpoint), std::move(tls), std::move(request), timeout);
        (*report)(std::move(answer));
      },
      "push webhook", [report] { (*report)(webhook_answer{0, "internal error"}); });
}

}  // namespace chatrix::push
