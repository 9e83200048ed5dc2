// The RFC 6455 codec without sockets: handshake answers, client frames fed whole, byte by
// byte and in random pieces, fragmentation, every protocol error, server frame headers.
#include "net/ws_frame.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace chatrix::net::ws;

namespace {

/// A client frame: masked unless told otherwise, with the length in its shortest form
/// unless `len_form` forces 126/127.
std::string client_frame(unsigned op, std::string_view payload, bool fin = true, bool masked = true,
                         std::uint8_t rsv = 0, int len_form = 0) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | op));
  const std::uint8_t mask_bit = masked ? 0x80 : 0;
  const std::uint64_t n = payload.size();
  if ((n < 126 && len_form == 0) || len_form == 7) {
    f.push_back(static_cast<char>(mask_bit | n));
  } else if ((n <= 0xFFFF && len_form == 0) || len_form == 16) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  }
  const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (masked) f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
  return f;
}

struct got {
  event_kind kind;
  std::uint16_t code;
  std::string payload;
  bool operator==(const got&) const = default;
};

std::ostream& operator<<(std::ostream& os, const got& g) {
  return os << "{kind " << static_cast<int>(g.kind) << ", code " << g.code << ", " << g.payload.size() << " bytes}";
}

/// Feeds `bytes` in pieces of the sizes `split` yields and collects every event up to and
/// including the first error.
template <class Split>
std::vector<got> feed_all(const std::string& bytes, Split split, std::size_t max = 1 << 20) {
  frame_reader r(max);
  std::vector<got> out;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t n = std::min(split(), bytes.size() - pos);
    r.feed(std::string_view(bytes).substr(pos, n));
    pos += n;
    for (;;) {
      auto ev = r.next();
      if (ev.kind == event_kind::none) break;
      out.push_back({ev.kind, ev.code, std::string(ev.payload)});
      if (ev.kind == event_kind::error) return out;
    }
  }
  return out;
}

std::vector<got> feed_whole(const std::string& bytes, std::size_t max = 1 << 20) {
  return feed_all(bytes, [&] { return bytes.size(); }, max);
}

got error_of(const std::string& bytes, std::size_t max = 1 << 20) {
  auto evs = feed_whole(bytes, max);
  if (evs.empty()) return {event_kind::none, 0, ""};
  return evs.back();
}

// ---- handshake ----

upgrade_request good_request() {
  upgrade_request r;
  r.method = "GET";
  r.http_version = 11;
  r.upgrade = "websocket";
  r.connection = "Upgrade";
  r.ws_version = "13";
  r.ws_key = "dGhlIHNhbXBsZSBub25jZQ==";
  return r;
}

TEST(ws_handshake, accept_key_is_the_rfc_example) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(ws_handshake, answers_101_with_accept_and_server_and_no_extension) {
  auto a = answer_handshake(good_request());
  ASSERT_TRUE(a.accepted) << a.response;
  EXPECT_EQ(a.response.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u);
  EXPECT_NE(a.response.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
  EXPECT_NE(a.response.find("\r\nConnection: Upgrade\r\n"), std::string::npos);
  EXPECT_NE(a.response.find("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
  EXPECT_NE(a.response.find("\r\nServer: chatrix\r\n"), std::string::npos);
  EXPECT_EQ(a.response.find("Sec-WebSocket-Extensions"), std::string::npos);
  EXPECT_EQ(a.response.substr(a.response.size() - 4), "\r\n\r\n");
}

TEST(ws_handshake, token_lists_and_case_are_accepted) {
  auto r = good_request();
  r.connection = "keep-alive, upgrade";
  r.upgrade = "WebSocket";
  EXPECT_TRUE(answer_handshake(r).accepted);
}

TEST(ws_handshake, refuses_malformed_requests) {
  auto check = [](upgrade_request r, std::string_view status) {
    auto a = answer_handshake(r);
    EXPECT_FALSE(a.accepted);
    EXPECT_EQ(a.response.rfind(std::string("HTTP/1.1 ") + std::string(status), 0), 0u) << a.response;
    // The JSON error body of every HTTP error, with its stable code.
    EXPECT_NE(a.response.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << a.response;
    const auto body = a.response.substr(a.response.find("\r\n\r\n") + 4);
    const std::string code = status == "426" ? "upgrade_required" : "malformed_request";
    EXPECT_EQ(body.rfind("{\"error\":\"", 0), 0u) << body;
    EXPECT_NE(body.find(",\"code\":\"" + code + "\"}"), std::string::npos) << body;
    EXPECT_NE(a.response.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos)
        << a.response;
  };
  auto r = good_request();
  r.method = "POST";
  check(r, "400");
  r = good_request();
  r.http_version = 10;
  check(r, "400");
  r = good_request();
  r.connection = "keep-alive";
  check(r, "400");
  r = good_request();
  r.upgrade = "h2c";
  check(r, "400");
  r = good_request();
  r.ws_key = "";
  check(r, "400");
  r = good_request();
  r.ws_key = "short==";
  check(r, "400");
  r = good_request();
  r.ws_key = "dGhlIHNhbXBsZSBub25jZQ!=";
  check(r, "400");
  r = good_request();
  r.ws_version = "8";
  check(r, "426");
  EXPECT_NE(answer_handshake(r).response.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
}

// ---- UTF-8 ----

TEST(ws_utf8, accepts_valid_and_rejects_invalid_sequences) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii that is longer than eight bytes"));
  EXPECT_TRUE(valid_utf8("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xED\x9F\xBF \xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(valid_utf8("\x80"));                  // lone continuation
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));          // overlong 3-byte
  EXPECT_FALSE(valid_utf8("\xF0\x80\x80\xAF"));      // overlong 4-byte
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));          // surrogate U+D800
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));      // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xF5\x80\x80\x80"));      // invalid lead
  EXPECT_FALSE(valid_utf8("abcdefgh\xE2\x82"));      // truncated after an ASCII run
  EXPECT_FALSE(valid_utf8("\xE2\x28\xA1"));          // bad continuation
}

// ---- reading client frames ----

TEST(ws_reader, single_text_frame_whole) {
  auto evs = feed_whole(client_frame(1, "{\"type\":0}"));
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0], (got{event_kind::text, 0, "{\"type\":0}"}));
}

TEST(ws_reader, binary_frame_is_reported_as_binary) {
  auto evs = feed_whole(client_frame(2, std::string("\x00\xff\x80", 3)));
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0], (got{event_kind::binary, 0, std::string("\x00\xff\x80", 3)}));
}

/// A stream exercising every path: all three length forms, fragmentation with an interleaved
/// ping, control frames, an empty message and a close.
std::string mixed_stream(std::vector<got>& expected) {
  std::string s;
  auto add = [&](std::string frame, std::optional<got> ev) {
    s += frame;
    if (ev) expected.push_back(*ev);
  };
  const std::string p125(125, 'a'), p126(126, 'b'), p65535(65535, 'c'), p65536(65536, 'd');
  add(client_frame(1, p125), got{event_kind::text, 0, p125});
  add(client_frame(1, p126), got{event_kind::text, 0, p126});
  add(client_frame(2, p65535), got{event_kind::binary, 0, p65535});
  add(client_frame(1, p65536), got{event_kind::text, 0, p65536});
  add(client_frame(1, ""), got{event_kind::text, 0, ""});
  add(client_frame(9, "ping!"), got{event_kind::ping, 0, "ping!"});
  add(client_frame(1, "Hel", false), std::nullopt);
  add(client_frame(9, "mid"), got{event_kind::ping, 0, "mid"});
  add(client_frame(0, "lo, ", false), std::nullopt);
  add(client_frame(0, "", false), std::nullopt);
  add(client_frame(0, "w\xC3\xB6rld"), got{event_kind::text, 0, "Hello, w\xC3\xB6rld"});
  add(client_frame(10, "pong"), got{event_kind::pong, 0, "pong"});
  add(client_frame(2, "bin", false), std::nullopt);
  add(client_frame(0, "ary"), got{event_kind::binary, 0, "binary"});
  add(client_frame(8, close_payload(1000, "bye")), got{event_kind::close, 1000, "bye"});
  return s;
}

TEST(ws_reader, mixed_stream_whole_byte_at_a_time_and_random_splits) {
  std::vector<got> expected;
  const auto bytes = mixed_stream(expected);
  EXPECT_EQ(feed_whole(bytes), expected);
  EXPECT_EQ(feed_all(bytes, [] { return std::size_t{1}; }), expected);
  std::mt19937 rng(12345);
  for (int round = 0; round < 50; ++round) {
    std::uniform_int_distribution<std::size_t> piece(1, round < 25 ? 16 : 70000);
    EXPECT_EQ(feed_all(bytes, [&] { return piece(rng); }), expected) << "round " << round;
  }
}

TEST(ws_reader, buffer_is_released_between_messages_and_kept_for_a_partial_one) {
  frame_reader r(1 << 20);
  const auto f = client_frame(1, "hello");
  r.feed(f);
  EXPECT_GT(r.capacity(), 0u);
  EXPECT_EQ(r.next().kind, event_kind::text);
  EXPECT_EQ(r.next().kind, event_kind::none);
  EXPECT_TRUE(r.release());
  EXPECT_EQ(r.capacity(), 0u);
  // Half a frame keeps the buffer.
  r.feed(std::string_view(f).substr(0, 3));
  EXPECT_EQ(r.next().kind, event_kind::none);
  EXPECT_FALSE(r.release());
  r.feed(std::string_view(f).substr(3));
  auto ev = r.next();
  EXPECT_EQ(ev.kind, event_kind::text);
  EXPECT_EQ(ev.payload, "hello");
  // A fragmented message in progress keeps it too, even with no byte pending.
  r.feed(client_frame(1, "par", false));
  EXPECT_EQ(r.next().kind, event_kind::none);
  EXPECT_FALSE(r.idle());
  EXPECT_FALSE(r.release());
  r.feed(client_frame(0, "tial"));
  ev = r.next();
  EXPECT_EQ(ev.payload, "partial");
  EXPECT_TRUE(r.release());
}

TEST(ws_reader, prepare_and_commit_read_in_place) {
  frame_reader r(1 << 20);
  const auto f = client_frame(1, "in place");
  auto space = r.prepare(f.size());
  ASSERT_GE(space.size(), f.size());
  std::copy(f.begin(), f.end(), space.begin());
  r.commit(f.size());
  auto ev = r.next();
  EXPECT_EQ(ev.kind, event_kind::text);
  EXPECT_EQ(ev.payload, "in place");
}

TEST(ws_reader, close_frames) {
  EXPECT_EQ(feed_whole(client_frame(8, "")), (std::vector<got>{{event_kind::close, close_code::no_status, ""}}));
  EXPECT_EQ(feed_whole(client_frame(8, close_payload(4000))), (std::vector<got>{{event_kind::close, 4000, ""}}));
  EXPECT_EQ(error_of(client_frame(8, "x")).code, close_code::protocol_error);                // 1-byte payload
  EXPECT_EQ(error_of(client_frame(8, close_payload(1005))).code, close_code::protocol_error);  // reserved code
  EXPECT_EQ(error_of(client_frame(8, close_payload(999))).code, close_code::protocol_error);
  EXPECT_EQ(error_of(client_frame(8, close_payload(5000))).code, close_code::protocol_error);
  EXPECT_EQ(error_of(client_frame(8, close_payload(1000, "\xC0\xAF"))).code, close_code::invalid_payload);
}

// ---- protocol errors ----

TEST(ws_reader, unmasked_frame_fails_1002) {
  auto e = error_of(client_frame(1, "hi", true, false));
  EXPECT_EQ(e.kind, event_kind::error);
  EXPECT_EQ(e.code, close_code::protocol_error);
}

TEST(ws_reader, rsv_bits_fail_1002) {
  for (std::uint8_t rsv : {0x40, 0x20, 0x10}) EXPECT_EQ(error_of(client_frame(1, "hi", true, true, rsv)).code, 1002);
}

TEST(ws_reader, reserved_opcodes_fail_1002) {
  for (unsigned op : {3u, 4u, 5u, 6u, 7u, 11u, 12u, 13u, 14u, 15u})
    EXPECT_EQ(error_of(client_frame(op, "x")).code, close_code::protocol_error) << "opcode " << op;
}

TEST(ws_reader, control_frames_must_be_final_and_short) {
  EXPECT_EQ(error_of(client_frame(9, "x", false)).code, close_code::protocol_error);
  EXPECT_EQ(error_of(client_frame(9, std::string(126, 'p'))).code, close_code::protocol_error);
  EXPECT_EQ(feed_whole(client_frame(9, std::string(125, 'p'))).at(0).kind, event_kind::ping);
}

TEST(ws_reader, fragmentation_errors_fail_1002) {
  EXPECT_EQ(error_of(client_frame(0, "orphan")).code, close_code::protocol_error);
  EXPECT_EQ(error_of(client_frame(1, "a", false) + client_frame(1, "b")).code, close_code::protocol_error);
  EXPECT_EQ(error_of(client_frame(2, "a", false) + client_frame(1, "b", false)).code, close_code::protocol_error);
}

TEST(ws_reader, non_minimal_lengths_fail_1002) {
  EXPECT_EQ(error_of(client_frame(1, "short", true, true, 0, 16)).code, close_code::protocol_error);
  EXPECT_EQ(error_of(client_frame(1, std::string(300, 'x'), true, true, 0, 64)).code, close_code::protocol_error);
}

TEST(ws_reader, invalid_utf8_text_fails_1007_binary_does_not) {
  EXPECT_EQ(error_of(client_frame(1, "bad \xFF")).code, close_code::invalid_payload);
  // Split inside a code point across fragments is fine; the whole message is checked.
  auto evs = feed_whole(client_frame(1, "\xE2\x82", false) + client_frame(0, "\xAC"));
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].payload, "\xE2\x82\xAC");
  EXPECT_EQ(error_of(client_frame(1, "\xE2\x82", false) + client_frame(0, "x")).code, close_code::invalid_payload);
  EXPECT_EQ(feed_whole(client_frame(2, "bad \xFF")).at(0).kind, event_kind::binary);
}

TEST(ws_reader, message_over_the_limit_fails_1009_at_the_header) {
  // Only the header of a huge frame is needed to refuse it.
  const auto f = client_frame(1, std::string(2000, 'x'));
  frame_reader r(1000);
  r.feed(std::string_view(f).substr(0, 8));
  auto ev = r.next();
  EXPECT_EQ(ev.kind, event_kind::error);
  EXPECT_EQ(ev.code, close_code::too_big);
  // The sum of fragments counts.
  EXPECT_EQ(error_of(client_frame(1, std::string(600, 'x'), false) + client_frame(0, std::string(600, 'y')), 1000).code,
            close_code::too_big);
  // Exactly at the limit is fine.
  EXPECT_EQ(feed_whole(client_frame(1, std::string(1000, 'x')), 1000).at(0).kind, event_kind::text);
  // A 64-bit length with the top bit set.
  std::string huge = "\x81\xFF";
  huge += std::string("\x80\x00\x00\x00\x00\x00\x00\x00", 8) + "mask";
  EXPECT_EQ(error_of(huge).code, close_code::protocol_error);
}

TEST(ws_reader, an_error_is_sticky_and_clear_drops_the_bytes) {
  frame_reader r(1 << 20);
  r.feed(client_frame(1, "x", true, false) + client_frame(1, "fine"));
  EXPECT_EQ(r.next().kind, event_kind::error);
  EXPECT_EQ(r.next().kind, event_kind::error);
  r.clear();
  EXPECT_TRUE(r.release());
  EXPECT_EQ(r.next().kind, event_kind::error);
}

// ---- server frames ----

TEST(ws_writer, header_lengths) {
  std::uint8_t h[max_header_bytes];
  EXPECT_EQ(encode_header(h, opcode::text, 0), 2u);
  EXPECT_EQ(h[0], 0x81);
  EXPECT_EQ(h[1], 0);
  EXPECT_EQ(encode_header(h, opcode::text, 125), 2u);
  EXPECT_EQ(h[1], 125);
  EXPECT_EQ(encode_header(h, opcode::binary, 126), 4u);
  EXPECT_EQ(h[0], 0x82);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ(h[2], 0);
  EXPECT_EQ(h[3], 126);
  EXPECT_EQ(encode_header(h, opcode::text, 65535), 4u);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ(h[2], 0xFF);
  EXPECT_EQ(h[3], 0xFF);
  EXPECT_EQ(encode_header(h, opcode::text, 65536), 10u);
  EXPECT_EQ(h[1], 127);
  const std::uint8_t len64[8] = {0, 0, 0, 0, 0, 1, 0, 0};
  EXPECT_TRUE(std::equal(h + 2, h + 10, len64));
  EXPECT_EQ(encode_header(h, opcode::close, 2), 2u);
  EXPECT_EQ(h[0], 0x88);
  EXPECT_EQ(encode_header(h, opcode::ping, 0), 2u);
  EXPECT_EQ(h[0], 0x89);
  EXPECT_EQ(encode_header(h, opcode::pong, 3), 2u);
  EXPECT_EQ(h[0], 0x8A);
}

TEST(ws_writer, close_payload_is_code_then_reason) {
  EXPECT_EQ(close_payload(1001), std::string("\x03\xE9", 2));
  EXPECT_EQ(close_payload(1009, "too big"), std::string("\x03\xF1too big", 9));
  EXPECT_EQ(close_payload(1000, std::string(200, 'r')).size(), 125u);
}

}  // namespace
