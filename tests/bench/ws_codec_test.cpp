// chatrix-bench's client-side RFC 6455 codec (tools/bench/ws_codec.hpp): masked frames against
// the RFC's own examples, and server frames fed whole, byte by byte and in random pieces.
#include "ws_codec.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace chatrix::bench::ws;

namespace {

std::string bytes(std::initializer_list<unsigned> b) {
  std::string s;
  for (auto c : b) s.push_back(static_cast<char>(c));
  return s;
}

/// An unmasked server frame, with the length in its shortest form unless `len_form` forces 126/127.
std::string server_frame(unsigned op, std::string_view payload, bool fin = true, int len_form = 0) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | op));
  const std::uint64_t n = payload.size();
  if ((n < 126 && len_form == 0) || len_form == 7) {
    f.push_back(static_cast<char>(n));
  } else if ((n <= 0xFFFF && len_form == 0) || len_form == 16) {
    f.push_back(static_cast<char>(126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  }
  f.append(payload);
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

/// Feeds `in` through prepare/commit in pieces of the sizes `split` yields (as reads would) and
/// collects every event up to and including the first error.
template <class Split>
std::vector<got> feed_all(const std::string& in, Split split, std::size_t initial = 64, std::size_t max = 1 << 20) {
  frame_reader r(max, initial);
  std::vector<got> out;
  std::size_t pos = 0;
  while (pos < in.size()) {
    auto space = r.prepare(16);
    const std::size_t n = std::min({split(), in.size() - pos, space.size()});
    std::copy_n(in.data() + pos, n, space.data());
    r.commit(n);
    pos += n;
    for (auto ev = r.next(); ev.kind != event_kind::none; ev = r.next()) {
      out.push_back({ev.kind, ev.code, std::string(ev.payload)});
      if (ev.kind == event_kind::error) return out;
    }
  }
  return out;
}

std::vector<got> feed_whole(const std::string& in) {
  return feed_all(in, [] { return std::size_t{1} << 30; });
}

/// The payload of a client frame, unmasked with the key it carries.
std::string unmask_client(const std::string& f, std::size_t* frame_size = nullptr) {
  const auto* p = reinterpret_cast<const unsigned char*>(f.data());
  EXPECT_EQ(p[1] & 0x80, 0x80) << "client frames are masked";
  std::uint64_t n = p[1] & 0x7F;
  std::size_t h = 2;
  if (n == 126) {
    n = (std::uint64_t{p[2]} << 8) | p[3];
    h = 4;
  } else if (n == 127) {
    n = 0;
    for (int i = 0; i < 8; ++i) n = (n << 8) | p[2 + i];
    h = 10;
  }
  const unsigned char* key = p + h;
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(p[h + 4 + i] ^ key[i % 4]));
  if (frame_size) *frame_size = h + 4 + n;
  return out;
}

}  // namespace

TEST(WsCodec, MaskedFrameMatchesTheRfcExample) {
  // RFC 6455 5.7: "A single-frame masked text message" (key 37 fa 21 3d).
  std::string out;
  append_frame(out, opcode::text, "Hello", 0x37fa213d);
  EXPECT_EQ(out, bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(WsCodec, MaskedFramesUseEveryLengthFormAndAppend) {
  std::mt19937 rng(7);
  std::string out;
  std::vector<std::string> payloads;
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 125u, 126u, 127u, 1000u, 65535u, 65536u, 70001u}) {
    std::string p(n, '\0');
    for (auto& c : p) c = static_cast<char>(rng());
    payloads.push_back(p);
    append_frame(out, opcode::binary, p, rng());
  }
  std::size_t pos = 0;
  for (const auto& p : payloads) {
    const std::string rest = out.substr(pos);
    EXPECT_EQ(static_cast<unsigned char>(rest[0]), 0x82u);
    const unsigned len7 = static_cast<unsigned char>(rest[1]) & 0x7F;
    EXPECT_EQ(len7, p.size() < 126 ? p.size() : p.size() <= 0xFFFF ? 126u : 127u) << p.size();
    std::size_t size = 0;
    EXPECT_EQ(unmask_client(rest, &size), p) << p.size();
    pos += size;
  }
  EXPECT_EQ(pos, out.size());
}

TEST(WsCodec, MaskingKeysVaryAndMaskThePayload) {
  mask_prng prng(42);
  std::string a, b;
  append_frame(a, opcode::text, "same payload", prng.next());
  append_frame(b, opcode::text, "same payload", prng.next());
  EXPECT_NE(a.substr(2, 4), b.substr(2, 4));
  EXPECT_NE(a.substr(6), b.substr(6));
  EXPECT_EQ(a.find("same"), std::string::npos);  // not sent in the clear
  EXPECT_EQ(unmask_client(a), "same payload");
  EXPECT_EQ(unmask_client(b), "same payload");
}

TEST(WsCodec, ClosePayloadCarriesTheCode) {
  std::string out;
  append_frame(out, opcode::close, close_payload(close_normal), 0x01020304);
  EXPECT_EQ(static_cast<unsigned char>(out[0]), 0x88u);
  EXPECT_EQ(unmask_client(out), bytes({0x03, 0xe8}));
}

TEST(WsCodec, ReadsTheRfcExamples) {
  // RFC 6455 5.7: unmasked "Hello", the same in two fragments, an unmasked ping, 256 and 65536 bytes.
  const std::string hello = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  const std::string fragments = bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f});
  const std::string ping = bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  const std::string b256 = server_frame(2, std::string(256, 'a'));
  const std::string b64k = server_frame(2, std::string(65536, 'b'));
  EXPECT_EQ(b256.substr(0, 4), bytes({0x82, 0x7E, 0x01, 0x00}));
  EXPECT_EQ(b64k.substr(0, 10), bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}));
  const std::vector<got> want = {{event_kind::text, 0, "Hello"},
                                 {event_kind::text, 0, "Hello"},
                                 {event_kind::ping, 0, "Hello"},
                                 {event_kind::binary, 0, std::string(256, 'a')},
                                 {event_kind::binary, 0, std::string(65536, 'b')}};
  const std::string all = hello + fragments + ping + b256 + b64k;
  EXPECT_EQ(feed_whole(all), want);
  EXPECT_EQ(feed_all(all, [] { return std::size_t{1}; }), want);
  std::mt19937 rng(1);
  for (int round = 0; round < 20; ++round)
    EXPECT_EQ(feed_all(all, [&] { return std::size_t{1} + rng() % 300; }), want) << round;
}

TEST(WsCodec, ControlFramesMayInterleaveFragments) {
  const std::string in = server_frame(1, "ab", false) + server_frame(9, "p") + server_frame(0, "cd", false) +
                         server_frame(10, "q") + server_frame(0, "ef", true) + server_frame(1, "next");
  const std::vector<got> want = {{event_kind::ping, 0, "p"},
                                 {event_kind::pong, 0, "q"},
                                 {event_kind::text, 0, "abcdef"},
                                 {event_kind::text, 0, "next"}};
  EXPECT_EQ(feed_whole(in), want);
  EXPECT_EQ(feed_all(in, [] { return std::size_t{1}; }), want);
}

TEST(WsCodec, CloseFramesWithAndWithoutCode) {
  EXPECT_EQ(feed_whole(server_frame(8, bytes({0x03, 0xe9}) + "bye")), (std::vector<got>{{event_kind::close, 1001, "bye"}}));
  EXPECT_EQ(feed_whole(server_frame(8, "")), (std::vector<got>{{event_kind::close, close_no_status, ""}}));
}

TEST(WsCodec, ProtocolErrorsStopTheStream) {
  const auto first_error = [](const std::string& in) {
    const auto events = feed_whole(in + server_frame(1, "after"));
    return !events.empty() && events.back().kind == event_kind::error &&
           std::none_of(events.begin(), events.end(), [](const got& g) { return g.payload == "after"; });
  };
  EXPECT_TRUE(first_error(bytes({0x81 | 0x40, 0x00})));                 // RSV1 without an extension
  EXPECT_TRUE(first_error(bytes({0x83, 0x00})));                        // reserved opcode
  EXPECT_TRUE(first_error(bytes({0x81, 0x81, 1, 2, 3, 4, 'x'})));       // masked server frame
  EXPECT_TRUE(first_error(server_frame(9, "x", false)));                // fragmented control frame
  EXPECT_TRUE(first_error(server_frame(9, std::string(126, 'x'))));     // control frame over 125
  EXPECT_TRUE(first_error(server_frame(0, "x")));                       // continuation, no message
  EXPECT_TRUE(first_error(server_frame(1, "a", false) + server_frame(1, "b")));  // message in a message
  EXPECT_TRUE(first_error(server_frame(1, "short", true, 16)));         // 16-bit length under 126
  EXPECT_TRUE(first_error(server_frame(1, std::string(300, 'x'), true, 64)));  // 64-bit length under 65536
  EXPECT_TRUE(first_error(server_frame(8, "x")));                       // 1-byte close payload
  EXPECT_TRUE(first_error(bytes({0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0})));  // length over 2^63
}

TEST(WsCodec, MessagesOverTheLimitAreRefusedAtTheHeader) {
  const auto events = feed_all(server_frame(2, std::string(2000, 'x')), [] { return std::size_t{1} << 30; }, 64, 1000);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, event_kind::error);
  const auto fragmented = feed_all(server_frame(2, std::string(600, 'x'), false) + server_frame(0, std::string(600, 'x')),
                                   [] { return std::size_t{1} << 30; }, 64, 1000);
  ASSERT_EQ(fragmented.size(), 1u);
  EXPECT_EQ(fragmented[0].kind, event_kind::error);
}

TEST(WsCodec, BufferGrowsForALargeFrameAndShrinksWhenDrained) {
  frame_reader r(1 << 20, 1024);
  EXPECT_EQ(r.capacity(), 0u);  // nothing until the first read
  const std::string big = server_frame(1, std::string(5000, 'z'));
  std::size_t pos = 0;
  std::vector<std::size_t> sizes;
  while (pos < big.size()) {
    auto space = r.prepare(256);
    EXPECT_GE(space.size(), 256u);
    const auto n = std::min(space.size(), big.size() - pos);
    std::copy_n(big.data() + pos, n, space.data());
    r.commit(n);
    pos += n;
    const auto ev = r.next();
    if (pos < big.size()) EXPECT_EQ(ev.kind, event_kind::none);
    else {
      EXPECT_EQ(ev.kind, event_kind::text);
      EXPECT_EQ(ev.payload.size(), 5000u);
    }
  }
  EXPECT_GE(r.capacity(), big.size());
  EXPECT_EQ(r.next().kind, event_kind::none);
  r.shrink();
  EXPECT_EQ(r.capacity(), 1024u);
}

TEST(WsCodec, ShrinkKeepsAPartialFrame) {
  frame_reader r(1 << 20, 16);
  const std::string f = server_frame(1, std::string(100, 'y'));
  auto space = r.prepare(f.size() - 10);
  std::copy_n(f.data(), f.size() - 10, space.data());
  r.commit(f.size() - 10);
  EXPECT_EQ(r.next().kind, event_kind::none);
  r.shrink();  // a frame is pending: nothing may be dropped
  space = r.prepare(1);
  ASSERT_GE(space.size(), 10u);
  std::copy_n(f.data() + f.size() - 10, 10, space.data());
  r.commit(10);
  const auto ev = r.next();
  EXPECT_EQ(ev.kind, event_kind::text);
  EXPECT_EQ(ev.payload, std::string(100, 'y'));
}
