// The TLS bridge: handshake, the two relays between the TLS stream and the socketpair, and
// the close. All of Asio's SSL stream code is in this translation unit.
#include "net/tls_bridge.hpp"

#include "core/spawn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

namespace chatrix::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using tls_stream = ssl::stream<socket_type>;
using pair_socket = asio::basic_stream_socket<asio::local::stream_protocol, io_executor>;

/// The most plaintext one TLS record carries: one read takes a whole record, one write makes one.
constexpr std::size_t record_bytes = 16 * 1024;
/// How long the close waits for the client's close_notify (and a plain HTTP client's request
/// is drained after its answer) before the TCP connection is dropped.
constexpr std::chrono::seconds close_wait{2};
constexpr std::size_t drain_bytes = 64 * 1024;

/// The answer to plain HTTP on the TLS port, in plain text: the client (a curl without
/// https://, a proxy configured for http) learns what is wrong instead of seeing the
/// connection drop. The body has the shape of every error answer (http::error_response).
const std::string& plain_http_answer() {
  static const std::string answer = [] {
    const std::string body =
        R"json({"error":"this port speaks TLS: use https:// (wss:// for WebSockets)","code":"malformed_request"})json";
    return "HTTP/1.1 400 Bad Request\r\nServer: chatrix\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }();
  return answer;
}

/// OpenSSL recognises an HTTP request line where a ClientHello should be.
bool is_plain_http(const error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
}

class bridge : public std::enable_shared_from_this<bridge> {
 public:
  bridge(socket_type connection, std::shared_ptr<ssl::context> context, tls_bridge_timeouts timeouts)
      : context_(std::move(context)),
        tls_(std::move(connection), *context_),
        pair_(tls_.get_executor()),
        timer_(tls_.get_executor()),
        timeouts_(timeouts) {}

  asio::awaitable<tls_accepted> accept();

 private:
  asio::awaitable<void> relay_from_client();
  asio::awaitable<void> relay_to_client();
  /// Each relay calls this as it ends; the last one closes the connection.
  asio::awaitable<void> relay_ended();
  /// close_notify (unless the TCP side failed), then both sockets close.
  asio::awaitable<void> close();
  asio::awaitable<void> answer_plain_http();
  /// A relay threw: both sockets close now, which ends the other relay too.
  void abandon();

  /// Cancels the TCP socket's operations unless disarm() comes first (deadline_passed_ then
  /// says which happened). One deadline at a time: the handshake, a write, or the close.
  void arm_deadline(std::chrono::steady_clock::duration after);
  void disarm();
  void cancel_tcp() {
    error_code ignored;
    tls_.next_layer().cancel(ignored);
  }

  // Declared before tls_, which holds a reference to it.
  std::shared_ptr<ssl::context> context_;
  tls_stream tls_;
  pair_socket pair_;
  timer_type timer_;
  tls_bridge_timeouts timeouts_;
  std::uint32_t deadline_generation_ = 0;
  bool deadline_passed_ = false;
  int relays_running_ = 0;
  // The TCP side failed (reset, timeout, a TLS error): no close_notify can be sent.
  bool broken_ = false;
  std::array<char, record_bytes> from_client_;
  std::array<char, record_bytes> to_client_;
};

void bridge::arm_deadline(std::chrono::steady_clock::duration after) {
  const auto generation = ++deadline_generation_;
  deadline_passed_ = false;
  timer_.expires_after(after);
  timer_.async_wait([weak = weak_from_this(), generation](error_code ec) {
    const auto self = weak.lock();
    if (ec || !self || generation != self->deadline_generation_) return;
    self->deadline_passed_ = true;
    self->cancel_tcp();
  });
}

void bridge::disarm() {
  ++deadline_generation_;
  timer_.cancel();
}

asio::awaitable<tls_accepted> bridge::accept() {
  arm_deadline(timeouts_.handshake);
  auto [ec] = co_await tls_.async_handshake(ssl::stream_base::server, use_tuple);
  disarm();
  if (deadline_passed_) co_return tls_accepted{std::nullopt, tls_failure::timed_out, "no handshake in time"};
  if (ec) {
    if (is_plain_http(ec)) {
      co_await answer_plain_http();
      co_return tls_accepted{std::nullopt, tls_failure::plain_http, "a plain HTTP request"};
    }
    co_return tls_accepted{std::nullopt, tls_failure::handshake_failed, ec.message()};
  }

  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    co_return tls_accepted{std::nullopt, tls_failure::no_descriptors, std::strerror(errno)};
  }
  error_code assign_ec;
  pair_.assign(asio::local::stream_protocol(), ends[0], assign_ec);
  if (assign_ec) {
    ::close(ends[0]);
    ::close(ends[1]);
    co_return tls_accepted{std::nullopt, tls_failure::no_descriptors, assign_ec.message()};
  }
  // The server's end is an AF_UNIX socket behind the TCP socket type the HTTP and WebSocket
  // code take: they only read, write, wait and shut down, which work on any stream socket
  // (the peer address comes from the TCP socket, and TCP options fail harmlessly).
  socket_type plain(tls_.get_executor());
  plain.assign(tcp::v6(), ends[1], assign_ec);
  if (assign_ec) {
    ::close(ends[1]);
    co_return tls_accepted{std::nullopt, tls_failure::no_descriptors, assign_ec.message()};
  }
  // websocket_session reads without blocking (read_loop), as from an accepted TCP socket.
  plain.non_blocking(true, assign_ec);

  relays_running_ = 2;
  auto self = shared_from_this();
  spawn_logged(
      tls_.get_executor(), [self] { return self->relay_from_client(); }, "TLS relay from client",
      [self] { self->abandon(); });
  spawn_logged(
      tls_.get_executor(), [self] { return self->relay_to_client(); }, "TLS relay to client",
      [self] { self->abandon(); });
  co_return tls_accepted{std::move(plain), tls_failure::none, {}};
}

asio::awaitable<void> bridge::relay_from_client() {
  for (;;) {
    auto [ec, n] = co_await tls_.async_read_some(asio::buffer(from_client_), use_tuple);
    if (ec) {
      // eof is the client's close_notify: the TLS session is intact and gets ours. Cancelled:
      // the other relay or a deadline stopped this one and decides. Anything else (reset, EOF
      // without close_notify, a bad record) leaves nothing to close politely.
      if (ec != asio::error::eof && ec != asio::error::operation_aborted) broken_ = true;
      break;
    }
    auto [wec, wn] = co_await asio::async_write(pair_, asio::buffer(from_client_.data(), n), use_tuple);
    if (wec) break;  // the server closed its end; relay_to_client sees that too
  }
  // The server reads EOF, as from a client that closed its side of a TCP connection.
  error_code ignored;
  pair_.shutdown(pair_socket::shutdown_send, ignored);
  co_await relay_ended();
}

asio::awaitable<void> bridge::relay_to_client() {
  for (;;) {
    auto [ec, n] = co_await pair_.async_read_some(asio::buffer(to_client_), use_tuple);
    if (ec) break;  // EOF: the server is done with the connection
    arm_deadline(timeouts_.stalled_write);
    auto [wec, wn] = co_await asio::async_write(tls_, asio::buffer(to_client_.data(), n), use_tuple);
    disarm();
    if (wec) {
      broken_ = true;
      break;
    }
  }
  if (broken_) {
    // The client is gone (or cut off): the server's reads end and its writes fail at once, as
    // on a reset TCP connection, and a relay_from_client stuck writing to it stops.
    error_code ignored;
    pair_.shutdown(pair_socket::shutdown_both, ignored);
    pair_.cancel(ignored);
  }
  // Nothing the client still sends has a reader: stop reading it, then close.
  if (relays_running_ > 1) cancel_tcp();
  co_await relay_ended();
}

asio::awaitable<void> bridge::relay_ended() {
  if (--relays_running_ > 0) co_return;
  co_await close();
}

asio::awaitable<void> bridge::close() {
  if (!broken_) {
    // Sends close_notify, then waits for the client's (or its EOF) within close_wait: a client
    // then knows the answer it read is complete, and its last bytes are not met with a reset.
    arm_deadline(close_wait);
    co_await tls_.async_shutdown(use_tuple);
    disarm();
  }
  error_code ignored;
  tls_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  tls_.next_layer().close(ignored);
  pair_.close(ignored);
}

void bridge::abandon() {
  broken_ = true;
  error_code ignored;
  tls_.next_layer().close(ignored);
  pair_.close(ignored);
}

asio::awaitable<void> bridge::answer_plain_http() {
  auto& tcp_socket = tls_.next_layer();
  arm_deadline(close_wait);
  auto [ec, n] = co_await asio::async_write(tcp_socket, asio::buffer(plain_http_answer()), use_tuple);
  if (!ec) {
    // The rest of the request is read and dropped until the client closes: closing with
    // unread bytes would send a reset, which can destroy the answer before it is read.
    error_code ignored;
    tcp_socket.shutdown(tcp::socket::shutdown_send, ignored);
    for (std::size_t drained = 0; drained < drain_bytes;) {
      auto [rec, rn] = co_await tcp_socket.async_read_some(asio::buffer(from_client_), use_tuple);
      if (rec) break;
      drained += rn;
    }
  }
  disarm();
}

}  // namespace

asio::awaitable<tls_accepted> accept_tls(socket_type connection, std::shared_ptr<ssl::context> context,
                                         tls_bridge_timeouts timeouts) {
  auto relay = std::make_shared<bridge>(std::move(connection), std::move(context), timeouts);
  co_return co_await relay->accept();
}

}  // namespace chatrix::net
