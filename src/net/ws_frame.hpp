// RFC 6455 for the server side, without sockets: the opening handshake's answer, a frame reader
// that turns received bytes into messages and control events, and server frame headers.
// Pure code, so that every rule is unit-tested byte by byte; net/server.cpp does the I/O.
#pragma once

#include "core/utf8.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace chatrix::net::ws {

enum class opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

namespace close_code {
constexpr std::uint16_t normal = 1000;
constexpr std::uint16_t going_away = 1001;
constexpr std::uint16_t protocol_error = 1002;
constexpr std::uint16_t no_status = 1005;  // never sent: reported for a close frame without a code
constexpr std::uint16_t invalid_payload = 1007;
constexpr std::uint16_t policy_violation = 1008;
constexpr std::uint16_t too_big = 1009;
constexpr std::uint16_t internal_error = 1011;
constexpr std::uint16_t try_again_later = 1013;
}  // namespace close_code

// ---- opening handshake ----

/// The parts of an upgrade request the handshake looks at (the HTTP parser lives elsewhere).
struct upgrade_request {
  std::string_view method;
  unsigned http_version = 11;  // 10 * major + minor
  std::string_view upgrade;
  std::string_view connection;
  std::string_view ws_version;
  std::string_view ws_key;
};

struct handshake_answer {
  bool accepted = false;
  std::string response;  // a complete HTTP/1.1 response: 101, or 400/426 with a short reason
};

/// base64(SHA-1(key + the RFC's GUID)).
std::string accept_key(std::string_view key);

/// Validates the request and answers it. No extension (permessage-deflate) and no
/// subprotocol is ever negotiated: frames stay plain, which is what the write path relies on.
handshake_answer answer_handshake(const upgrade_request& req);

// ---- frames from the client ----

using chatrix::valid_utf8;

enum class event_kind : std::uint8_t {
  none,    // more bytes are needed
  text,    // a complete text message (valid UTF-8)
  binary,  // a complete binary message
  ping,    // answer with a pong carrying `payload`
  pong,
  close,   // the peer closes: `code` (no_status when it gave none) and `payload` is the reason
  error,   // the stream is broken: fail the connection with close `code`; `payload` is the reason
};

struct event {
  event_kind kind = event_kind::none;
  std::uint16_t code = 0;
  /// Valid until the reader's next call (next, prepare, feed, release).
  std::string_view payload;
};

/// Reassembles client frames into messages. Bytes go in through prepare/commit (read straight
/// from a socket) or feed; events come out of next(). The buffer exists only while bytes are
/// pending: once everything received was consumed, release() frees it, so an idle connection
/// holds no memory here.
class frame_reader {
 public:
  /// Messages (all fragments together) longer than `max_message_bytes` fail with 1009.
  explicit frame_reader(std::size_t max_message_bytes) noexcept : max_message_(max_message_bytes) {}
  /// Writable space for at least `n` more bytes at the end of the buffer (it grows as needed,
  /// dropping bytes already consumed first).
  std::span<char> prepare(std::size_t n);
  /// Makes `n` of the bytes written into prepare()'s span readable.
  void commit(std::size_t n) noexcept { end_ += n; }
  void feed(std::string_view bytes);

  /// The next event, or kind none when the buffered bytes end inside a frame. A data frame's
  /// payload is unmasked in place. After an error, every later call returns the same error.
  event next();

  /// Drops every buffered byte and any partial message (a failed stream stays failed).
  void clear() noexcept {
    begin_ = end_ = 0;
    in_message_ = false;
    message_size_ = 0;
  }
  /// Frees the buffer when no byte of a frame or message is pending (true then).
  bool release() noexcept;
  /// Nothing buffered and no fragmented message in progress.
  bool idle() const noexcept { return begin_ == end_ && !in_message_; }
  std::size_t buffered() const noexcept { return end_ - begin_; }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  event fail(std::uint16_t code, std::string_view why);

  std::size_t max_message_;
  std::unique_ptr<char[]> buf_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;  // first byte not consumed
  std::size_t end_ = 0;    // one past the last byte received
  // A fragmented message is reassembled at the front of the buffer, in front of begin_:
  // [0, message_size_) holds the unmasked payloads of its frames so far.
  bool in_message_ = false;
  bool message_text_ = false;
  std::size_t message_size_ = 0;
  std::uint16_t error_code_ = 0;
  const char* error_reason_ = "";
};

// ---- frames from the server ----

/// The largest server frame header: 2 bytes + a 64-bit length (never a mask).
constexpr std::size_t max_header_bytes = 10;

/// Writes the header of one final, unmasked frame into `out` and returns its length (2, 4 or 10).
std::size_t encode_header(std::uint8_t* out, opcode op, std::uint64_t payload_bytes) noexcept;

/// The payload of a close frame: the code in network order, then the reason (≤ 123 bytes).
std::string close_payload(std::uint16_t code, std::string_view reason = {});

}  // namespace chatrix::net::ws
