// TLS on the node's own port (TLS_CERT): each connection's TLS ends in a small bridge that
// relays the plaintext through a socketpair, and the pair's other end is served exactly as a
// plain TCP connection is (server.cpp's HTTP path, then websocket_session).
//
// Why a bridge: websocket_session reads a plain socket without blocking (it waits for
// readability, then takes what is there) and writes many frames in one gathered system call.
// A readable TCP socket under TLS may hold no whole record, and a record is decrypted in user
// space, so that code would need a second path through its hottest loops; templating it on
// the stream type would also instantiate Asio's SSL operations in every session coroutine
// (build time). The bridge keeps plain connections exactly as they were, and the benchmarks
// measure them. Its price, per TLS connection, on top of the handshake and the cipher: two
// more descriptors (the socketpair), one more copy of every byte each way, two 16 KiB relay
// buffers plus Asio's two 17 KiB record buffers and OpenSSL's state. A large deployment still
// ends TLS at a proxy (docs/operations.md, "TLS without a proxy").
#pragma once

#include "net/io_types.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace chatrix::net {

struct tls_bridge_timeouts {
  /// The handshake must be over this long after it began (HTTP_HEADER_TIMEOUT).
  std::chrono::steady_clock::duration handshake{std::chrono::seconds(10)};
  /// A client that takes none of the bytes waiting for it this long is cut off (IDLE_TIMEOUT):
  /// the server's own limits (the send queue, its timeouts) see the bridge take the bytes, so
  /// a client that stops reading must be cut off here.
  std::chrono::steady_clock::duration stalled_write{std::chrono::seconds(60)};
};

enum class tls_failure : std::uint8_t {
  none,
  timed_out,         // no handshake within tls_bridge_timeouts::handshake
  plain_http,        // a plain HTTP request: answered 400 in plain text, then closed
  handshake_failed,  // anything else (no shared cipher, a client refusing our certificate...)
  no_descriptors,    // the socketpair could not be made (EMFILE)
};

struct tls_accepted {
  /// The server's end of the bridge (non-blocking, as the accept loop leaves TCP sockets), to
  /// serve as a plain connection; empty when the handshake failed.
  std::optional<socket_type> plain;
  tls_failure failure = tls_failure::none;
  std::string reason;  // why it failed, for the logs
};

/// Runs the server side of the TLS handshake on `connection` (TCP) with `context`; on success starts the
/// bridge and returns its plain end. The bridge keeps `context` (a reload does not touch it)
/// and relays until both directions have ended: the client closing reads as EOF on the plain
/// end, and the plain end closing sends close_notify (waiting at most 2 s for the client's)
/// and closes the TCP connection. Each direction reads only once its last write is done, so
/// a slow reader slows the writer down on either side, as with a plain socket.
///
/// Thread-safety: call on the I/O thread that runs `connection`'s executor.
boost::asio::awaitable<tls_accepted> accept_tls(socket_type connection, std::shared_ptr<boost::asio::ssl::context> context,
                                                tls_bridge_timeouts timeouts);

}  // namespace chatrix::net
