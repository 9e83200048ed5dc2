// RFC 6455 server-side codec: handshake answer, client frame reader, server frame headers.
// No I/O here; net/server.cpp feeds it socket bytes and writes what it encodes.
#include "net/ws_frame.hpp"

#include "core/error.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace chatrix::net::ws {

namespace {

constexpr std::string_view ws_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// `Connection: keep-alive, Upgrade` and the like: a comma-separated token list.
bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

/// The key must be the base64 encoding of 16 bytes: 22 characters and "==".
bool valid_key(std::string_view key) noexcept {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  return std::all_of(key.begin(), key.begin() + 22, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
  });
}

/// The same JSON error body as every other HTTP error. `reason` is one of the constant texts
/// below (no quotes or backslashes), so it needs no escaping.
handshake_answer refuse(int status, std::string_view reason, std::string_view extra_headers = {}) {
  const auto code = code_name(status == 426 ? errc::upgrade_required : errc::malformed_request);
  const std::string body = "{\"error\":\"" + std::string(reason) + "\",\"code\":\"" + std::string(code) + "\"}";
  handshake_answer a;
  a.response = "HTTP/1.1 " + std::to_string(status) + (status == 426 ? " Upgrade Required" : " Bad Request") +
               "\r\nServer: chatrix\r\nContent-Type: application/json\r\nConnection: close\r\n";
  a.response += extra_headers;
  a.response += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  a.response += body;
  return a;
}

/// XORs the 4-byte masking key over `n` bytes, 8 at a time where it can.
void unmask(char* p, std::size_t n, const unsigned char* key) noexcept {
  const unsigned char key8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
  std::uint64_t k;
  std::memcpy(&k, key8, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, p + i, 8);
    v ^= k;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ key[i & 3]);
}

/// Close codes a peer may send (RFC 6455 7.4; 1004-1006 and 1015 are reserved, never on the wire).
bool valid_close_code(std::uint16_t c) noexcept {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

}  // namespace

// ---- handshake ----

std::string accept_key(std::string_view key) {
  std::string input;
  input.reserve(key.size() + ws_guid.size());
  input.append(key).append(ws_guid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr);
  char out[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out), digest, static_cast<int>(digest_len));
  return std::string(out, static_cast<std::size_t>(n));
}

handshake_answer answer_handshake(const upgrade_request& req) {
  if (req.method != "GET") return refuse(400, "a WebSocket upgrade must be a GET");
  if (req.http_version < 11) return refuse(400, "a WebSocket upgrade needs HTTP/1.1");
  if (!has_token(req.connection, "upgrade")) return refuse(400, "Connection: upgrade is missing");
  if (!has_token(req.upgrade, "websocket")) return refuse(400, "Upgrade: websocket is missing");
  const auto key = trim(req.ws_key);
  if (!valid_key(key)) return refuse(400, "Sec-WebSocket-Key is missing or malformed");
  if (trim(req.ws_version) != "13")
    return refuse(426, "only WebSocket version 13 is supported", "Sec-WebSocket-Version: 13\r\n");
  handshake_answer a;
  a.accepted = true;
  a.response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  a.response += accept_key(key);
  a.response += "\r\nServer: chatrix\r\n\r\n";
  return a;
}

// ---- frame reader ----

std::span<char> frame_reader::prepare(std::size_t n) {
  // Bytes in front of begin_ are consumed, except a fragmented message's payload so far.
  const std::size_t keep = in_message_ ? message_size_ : 0;
  const std::size_t pending = end_ - begin_;
  if (capacity_ - end_ < n) {
    const std::size_t needed = keep + pending + n;
    if (needed <= capacity_) {
      std::memmove(buf_.get() + keep, buf_.get() + begin_, pending);
    } else {
      const std::size_t cap = std::max(needed, capacity_ + capacity_ / 2);
      auto fresh = std::make_unique_for_overwrite<char[]>(cap);
      if (keep > 0) std::memcpy(fresh.get(), buf_.get(), keep);
      if (pending > 0) std::memcpy(fresh.get() + keep, buf_.get() + begin_, pending);
      buf_ = std::move(fresh);
      capacity_ = cap;
    }
    begin_ = keep;
    end_ = keep + pending;
  }
  return {buf_.get() + end_, capacity_ - end_};
}

void frame_reader::feed(std::string_view bytes) {
  if (bytes.empty()) return;  // a reader without a buffer has no span to copy nothing into
  auto space = prepare(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

bool frame_reader::release() noexcept {
  if (!idle()) return false;
  buf_.reset();
  capacity_ = begin_ = end_ = 0;
  message_size_ = 0;
  return true;
}

event frame_reader::fail(std::uint16_t code, std::string_view why) {
  error_code_ = code;
  error_reason_ = why.data();  // always a literal
  return {event_kind::error, code, why};
}

event frame_reader::next() {
  for (;;) {
    if (error_code_ != 0) return {event_kind::error, error_code_, error_reason_};
    const std::size_t avail = end_ - begin_;
    if (avail < 2) return {};
    auto* p = reinterpret_cast<unsigned char*>(buf_.get() + begin_);
    const bool fin = (p[0] & 0x80) != 0;
    const unsigned op = p[0] & 0x0F;
    const unsigned len7 = p[1] & 0x7F;
    // Everything the first two bytes say is checked before waiting for the rest.
    if ((p[0] & 0x70) != 0) return fail(close_code::protocol_error, "reserved bits set (no extension was negotiated)");
    if (op > 2 && op != 8 && op != 9 && op != 10) return fail(close_code::protocol_error, "reserved opcode");
    if ((p[1] & 0x80) == 0) return fail(close_code::protocol_error, "client frames must be masked");
    const bool control = (op & 8) != 0;
    if (control && !fin) return fail(close_code::protocol_error, "fragmented control frame");
    if (control && len7 > 125) return fail(close_code::protocol_error, "control frame over 125 bytes");
    const std::size_t len_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    const std::size_t header = 2 + len_bytes + 4;
    if (avail < header) return {};
    std::uint64_t len = len7;
    if (len_bytes > 0) {
      len = 0;
      for (std::size_t i = 0; i < len_bytes; ++i) len = (len << 8) | p[2 + i];
      if (len_bytes == 2 && len < 126) return fail(close_code::protocol_error, "length not in its shortest form");
      if (len_bytes == 8 && len < 65536) return fail(close_code::protocol_error, "length not in its shortest form");
      if (len_bytes == 8 && (len >> 63) != 0) return fail(close_code::protocol_error, "length over 2^63");
    }
    if (!control) {
      if (op == 0 && !in_message_) return fail(close_code::protocol_error, "continuation frame without a message");
      if (op != 0 && in_message_) return fail(close_code::protocol_error, "new message inside a fragmented one");
      // The limit is checked at the header, so an oversized message is never buffered.
      const std::uint64_t so_far = in_message_ ? message_size_ : 0;
      if (len > max_message_ || so_far + len > max_message_) return fail(close_code::too_big, "message too big");
    }
    if (avail - header < len) return {};

    char* payload = buf_.get() + begin_ + header;
    const auto n = static_cast<std::size_t>(len);
    unmask(payload, n, p + header - 4);
    begin_ += header + n;

    if (control) {
      if (op == 9) return {event_kind::ping, 0, {payload, n}};
      if (op == 10) return {event_kind::pong, 0, {payload, n}};
      if (n == 0) return {event_kind::close, close_code::no_status, {}};
      if (n == 1) return fail(close_code::protocol_error, "close frame with a 1-byte payload");
      const auto code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                   static_cast<unsigned char>(payload[1]));
      if (!valid_close_code(code)) return fail(close_code::protocol_error, "invalid close code");
      const std::string_view reason(payload + 2, n - 2);
      if (!valid_utf8(reason)) return fail(close_code::invalid_payload, "close reason is not UTF-8");
      return {event_kind::close, code, reason};
    }

    if (fin && op != 0) {  // the common case: a whole message in one frame, used in place
      const std::string_view msg(payload, n);
      if (op == 1 && !valid_utf8(msg)) return fail(close_code::invalid_payload, "text message is not UTF-8");
      return {op == 1 ? event_kind::text : event_kind::binary, 0, msg};
    }
    // A fragment: move its payload behind the message's earlier ones at the buffer's front.
    if (op != 0) {
      in_message_ = true;
      message_text_ = op == 1;
      message_size_ = 0;
    }
    std::memmove(buf_.get() + message_size_, payload, n);
    message_size_ += n;
    if (!fin) continue;
    in_message_ = false;
    const std::string_view msg(buf_.get(), message_size_);
    message_size_ = 0;
    if (message_text_ && !valid_utf8(msg)) return fail(close_code::invalid_payload, "text message is not UTF-8");
    return {message_text_ ? event_kind::text : event_kind::binary, 0, msg};
  }
}

// ---- server frames ----

std::size_t encode_header(std::uint8_t* out, opcode op, std::uint64_t payload_bytes) noexcept {
  out[0] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op));
  if (payload_bytes < 126) {
    out[1] = static_cast<std::uint8_t>(payload_bytes);
    return 2;
  }
  if (payload_bytes <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<std::uint8_t>(payload_bytes >> 8);
    out[3] = static_cast<std::uint8_t>(payload_bytes);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(payload_bytes >> (56 - 8 * i));
  return 10;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::string out;
  out.reserve(2 + std::min<std::size_t>(reason.size(), 123));
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason.substr(0, 123));
  return out;
}

}  // namespace chatrix::net::ws
