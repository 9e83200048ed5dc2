// RFC 6455 for the client side, without sockets and without Beast: masked client frames and a
// reader that turns the server's bytes into messages and control events. ws_runner.cpp does the
// I/O. The bench keeps its own codec (not src/net's server-side one) so that it stays independent
// of the server it measures.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace chatrix::bench::ws {

enum class opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

constexpr std::uint16_t close_normal = 1000;
constexpr std::uint16_t close_no_status = 1005;  // never sent: reported for a close frame without a code

// ---- frames to the server ----

/// xorshift64: the masking keys only have to vary per frame (RFC 6455 5.3); a benchmark needs no
/// unpredictability, and this costs a few instructions instead of a CSPRNG call.
class mask_prng {
 public:
  explicit mask_prng(std::uint64_t seed) noexcept : s_(seed != 0 ? seed : 0x9E3779B97F4A7C15ull) {}
  std::uint32_t next() noexcept {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return static_cast<std::uint32_t>(s_ >> 32);
  }

 private:
  std::uint64_t s_;
};

/// dst[i] = src[i] ^ key[i % 4], eight bytes at a time. `key` is in wire order.
inline void mask_copy(char* dst, const char* src, std::size_t n, const unsigned char key[4]) noexcept {
  const unsigned char k8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
  std::uint64_t k64;
  std::memcpy(&k64, k8, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, src + i, 8);
    w ^= k64;
    std::memcpy(dst + i, &w, 8);
  }
  for (; i < n; ++i) dst[i] = static_cast<char>(static_cast<unsigned char>(src[i]) ^ k8[i & 3]);
}

/// Appends one final client frame: the header, the masking key `key` (its bytes in big-endian
/// order go on the wire) and the masked payload.
inline void append_frame(std::string& out, opcode op, std::string_view payload, std::uint32_t key) {
  unsigned char head[14];
  std::size_t h = 0;
  head[h++] = static_cast<unsigned char>(0x80 | static_cast<unsigned>(op));
  const std::uint64_t n = payload.size();
  if (n < 126) {
    head[h++] = static_cast<unsigned char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    head[h++] = 0x80 | 126;
    head[h++] = static_cast<unsigned char>(n >> 8);
    head[h++] = static_cast<unsigned char>(n);
  } else {
    head[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; --i) head[h++] = static_cast<unsigned char>(n >> (8 * i));
  }
  unsigned char* k = head + h;
  k[0] = static_cast<unsigned char>(key >> 24);
  k[1] = static_cast<unsigned char>(key >> 16);
  k[2] = static_cast<unsigned char>(key >> 8);
  k[3] = static_cast<unsigned char>(key);
  h += 4;
  const std::size_t at = out.size();
  out.resize(at + h + payload.size());
  std::memcpy(out.data() + at, head, h);
  mask_copy(out.data() + at + h, payload.data(), payload.size(), k);
}

/// The payload of a close frame: the code in network order.
inline std::string close_payload(std::uint16_t code) {
  return {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
}

// ---- frames from the server ----

enum class event_kind : std::uint8_t {
  none,    // more bytes are needed
  text,    // a complete text message (all its fragments)
  binary,  // a complete binary message
  ping,    // answer with a pong carrying `payload`
  pong,
  close,   // the server closes: `code` (close_no_status when it gave none)
  error,   // the stream is broken; `reason` says why
};

struct event {
  event_kind kind = event_kind::none;
  std::uint16_t code = 0;
  /// Valid until the reader's next call.
  std::string_view payload;
  const char* reason = "";
};

/// Reassembles server frames (unmasked, RFC 6455 5.1) into messages. Bytes are read straight
/// into prepare()'s span and made readable with commit(); next() then yields one event at a
/// time, an unfragmented message in place (no copy). No text is checked for UTF-8: the bench
/// only scans for a few ASCII keys.
class frame_reader {
 public:
  /// Messages longer than `max_message_bytes` (all fragments together) are an error. The
  /// buffer is allocated by the first prepare(), with at least `initial_capacity` bytes.
  frame_reader(std::size_t max_message_bytes, std::size_t initial_capacity) noexcept
      : max_message_(max_message_bytes), initial_(std::max<std::size_t>(initial_capacity, 16)) {}

  /// Writable space at the end of the buffer: at least `min_free` bytes, and at least what the
  /// frame in progress still needs. The buffer first drops consumed bytes, then doubles.
  std::span<char> prepare(std::size_t min_free) {
    const std::size_t pending = end_ - begin_;
    std::size_t need = std::max(min_free, want_ > pending ? want_ - pending : 0);
    if (capacity_ - end_ < need) {
      if (begin_ > 0 && capacity_ - pending >= need) {
        std::memmove(buf_.get(), buf_.get() + begin_, pending);
      } else {
        std::size_t cap = std::max(capacity_ * 2, initial_);
        while (cap - pending < need) cap *= 2;
        auto bigger = std::unique_ptr<char[]>(new char[cap]);  // not make_unique: no need to zero it
        if (pending > 0) std::memcpy(bigger.get(), buf_.get() + begin_, pending);
        buf_ = std::move(bigger);
        capacity_ = cap;
      }
      begin_ = 0;
      end_ = pending;
    }
    return {buf_.get() + end_, capacity_ - end_};
  }
  void commit(std::size_t n) noexcept { end_ += n; }

  /// Back to the initial capacity when no frame byte is pending, so that a connection that once
  /// received a large message does not keep a large buffer.
  void shrink() {
    if (begin_ != end_ || in_message_) return;
    if (capacity_ > initial_) {
      buf_ = std::unique_ptr<char[]>(new char[initial_]);
      capacity_ = initial_;
      begin_ = end_ = 0;
    }
    if (message_.capacity() > initial_) std::string().swap(message_);
  }

  /// The next event, or kind none when the buffered bytes end inside a frame. After an error,
  /// every later call returns the same error.
  event next() {
    for (;;) {
      if (error_ != nullptr) return {event_kind::error, 0, {}, error_};
      const std::size_t avail = end_ - begin_;
      if (avail == 0) {
        // Everything was consumed: later reads start at the buffer's front.
        begin_ = end_ = 0;
        want_ = 0;
        return {};
      }
      if (avail < 2) return need(2);
      const auto* p = reinterpret_cast<const unsigned char*>(buf_.get() + begin_);
      const bool fin = (p[0] & 0x80) != 0;
      const unsigned op = p[0] & 0x0F;
      const unsigned len7 = p[1] & 0x7F;
      if ((p[0] & 0x70) != 0) return fail("reserved bits set (no extension was negotiated)");
      if (op > 2 && op != 8 && op != 9 && op != 10) return fail("reserved opcode");
      if ((p[1] & 0x80) != 0) return fail("server frames must not be masked");
      const bool control = (op & 8) != 0;
      if (control && !fin) return fail("fragmented control frame");
      if (control && len7 > 125) return fail("control frame over 125 bytes");
      const std::size_t len_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
      const std::size_t header = 2 + len_bytes;
      if (avail < header) return need(header);
      std::uint64_t len = len7;
      if (len_bytes > 0) {
        len = 0;
        for (std::size_t i = 0; i < len_bytes; ++i) len = (len << 8) | p[2 + i];
        if ((len_bytes == 2 && len < 126) || (len_bytes == 8 && len <= 0xFFFF))
          return fail("length not in its shortest form");
        if ((len >> 63) != 0) return fail("length over 2^63");
      }
      if (!control) {
        if (op == 0 && !in_message_) return fail("continuation frame without a message");
        if (op != 0 && in_message_) return fail("new message inside a fragmented one");
        // Checked at the header, so an oversized message is never buffered.
        const std::uint64_t so_far = in_message_ ? message_.size() : 0;
        if (len > max_message_ || so_far + len > max_message_) return fail("message too big");
      }
      if (avail - header < len) return need(header + static_cast<std::size_t>(len));

      const char* payload = buf_.get() + begin_ + header;
      const auto n = static_cast<std::size_t>(len);
      begin_ += header + n;
      want_ = 0;

      if (control) {
        if (op == 9) return {event_kind::ping, 0, {payload, n}};
        if (op == 10) return {event_kind::pong, 0, {payload, n}};
        if (n == 0) return {event_kind::close, close_no_status, {}};
        if (n == 1) return fail("close frame with a 1-byte payload");
        const auto code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                     static_cast<unsigned char>(payload[1]));
        return {event_kind::close, code, {payload + 2, n - 2}};
      }
      if (fin && op != 0) return {op == 1 ? event_kind::text : event_kind::binary, 0, {payload, n}};
      // Fragments are rare (Chatrix never sends them); they are gathered in a separate string.
      if (op != 0) {
        in_message_ = true;
        message_text_ = op == 1;
        message_.clear();
      }
      message_.append(payload, n);
      if (!fin) continue;
      in_message_ = false;
      return {message_text_ ? event_kind::text : event_kind::binary, 0, message_};
    }
  }

  std::size_t buffered() const noexcept { return end_ - begin_; }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  event need(std::size_t frame_bytes) noexcept {
    want_ = frame_bytes;
    return {};
  }
  event fail(const char* why) noexcept {
    error_ = why;
    return {event_kind::error, 0, {}, why};
  }

  std::size_t max_message_;
  std::size_t initial_;
  std::unique_ptr<char[]> buf_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;  // first byte not consumed
  std::size_t end_ = 0;    // one past the last byte received
  std::size_t want_ = 0;   // size of the frame at begin_, once its header says (0: unknown)
  bool in_message_ = false;
  bool message_text_ = false;
  std::string message_;  // a fragmented message's payload so far
  const char* error_ = nullptr;
};

}  // namespace chatrix::bench::ws
