// The two routes that move files do not fit "a request in, a response out": an upload's body
// is read piece by piece while it is stored, and a download is written chunk by chunk as it
// is read from the store. The transport (net/server.cpp) implements these two interfaces;
// the routes see no Beast types.
#pragma once

#include "core/error.hpp"
#include "http/router.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace chatrix::http {

/// A request body not read yet. Each read waits for the client at most HTTP_REQUEST_TIMEOUT
/// (not the whole body: a long upload that keeps sending is never cut off).
class body_source {
 public:
  virtual ~body_source() = default;
  /// The Content-Length, nullopt for a chunked body.
  virtual std::optional<std::uint64_t> length() const = 0;
  /// Fills the front of `into` with the next bytes; 0 once the body has ended. Errors:
  /// errc::malformed_request (bad chunked framing), errc::unavailable (the client went away
  /// or stalled past the read timeout).
  virtual boost::asio::awaitable<result<std::size_t>> read(std::span<char> into) = 0;
};

/// Where a streamed answer goes. The transport adds the CORS headers, writes `head` with
/// Content-Length `length` (none of the body of a HEAD request), then the bytes written;
/// each write waits for the client at most HTTP_REQUEST_TIMEOUT. A `length` of nullopt (an
/// answer made as it is read, such as an export) is sent chunked, and finish() ends it. False
/// once the client is gone: the route stops.
class body_sink {
 public:
  virtual ~body_sink() = default;
  virtual boost::asio::awaitable<bool> start(response head, std::optional<std::uint64_t> length) = 0;
  virtual boost::asio::awaitable<bool> write(std::string_view bytes) = 0;
  /// The end of an answer started without a length (nothing to do for one with a length).
  virtual boost::asio::awaitable<bool> finish() = 0;
};

}  // namespace chatrix::http
