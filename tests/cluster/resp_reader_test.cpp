// resp_reader and the command formatter: every reply kind fed whole, byte by byte and in
// random splits (a reply may end anywhere in a TCP segment), and formatter round trips.
#include "cluster/redis/resp_reader.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace chatrix::cluster::redis {
// Readable gtest failure output.
void PrintTo(const reply& r, std::ostream* os) { *os << to_debug_string(r); }
}  // namespace chatrix::cluster::redis

namespace {

using chatrix::cluster::redis::format_command;
using chatrix::cluster::redis::reply;
using chatrix::cluster::redis::resp_reader;
using chatrix::cluster::redis::to_debug_string;
using namespace std::string_literals;

struct sample {
  std::string wire;
  reply value;
};

std::vector<sample> samples() {
  return {
      {"+OK\r\n", reply::status("OK")},
      {"-ERR unknown command 'FOO'\r\n", reply::error("ERR unknown command 'FOO'")},
      {":0\r\n", reply::integer_value(0)},
      {":-42\r\n", reply::integer_value(-42)},
      {":9223372036854775807\r\n", reply::integer_value(9223372036854775807LL)},
      {"$5\r\nhello\r\n", reply::string("hello")},
      {"$0\r\n\r\n", reply::string("")},
      {"$6\r\n\0\r\n\xff\r\n\r\n"s, reply::string("\0\r\n\xff\r\n"s)},  // binary, with CRLF inside
      {"$-1\r\n", reply::nil()},
      {"*-1\r\n", reply::nil()},
      {"*0\r\n", reply::array({})},
      {"*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$-1\r\n+x\r\n",
       reply::array({reply::integer_value(1), reply::array({reply::string("a"), reply::array({reply::nil()})}),
                     reply::status("x")})},
      {"*3\r\n$7\r\nmessage\r\n$17\r\nchatrix:node:a:ev\r\n$3\r\n\x01\x00\x02\r\n"s,
       reply::array({reply::string("message"), reply::string("chatrix:node:a:ev"), reply::string("\x01\x00\x02"s)})},
      {"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
       reply::array({reply::string("subscribe"), reply::string("ch"), reply::integer_value(1)})},
  };
}

// Feeds `wire` in the given piece sizes and collects every reply.
std::vector<reply> parse_in_pieces(const std::string& wire, const std::vector<std::size_t>& sizes) {
  resp_reader r;
  std::vector<reply> out;
  std::size_t pos = 0;
  for (std::size_t n : sizes) {
    EXPECT_TRUE(r.feed(std::string_view(wire).substr(pos, n)));
    pos += n;
    reply x;
    for (;;) {
      auto st = r.next(x);
      if (st == resp_reader::status::need_more) break;
      EXPECT_EQ(st, resp_reader::status::reply) << r.error();
      if (st != resp_reader::status::reply) return out;
      out.push_back(std::move(x));
    }
  }
  EXPECT_EQ(pos, wire.size());
  return out;
}

TEST(RespReader, EachKindWhole) {
  for (const auto& s : samples()) {
    auto got = parse_in_pieces(s.wire, {s.wire.size()});
    ASSERT_EQ(got.size(), 1u) << to_debug_string(s.value);
    EXPECT_EQ(got[0], s.value) << to_debug_string(got[0]) << " vs " << to_debug_string(s.value);
  }
}

TEST(RespReader, EachKindByteByByteIsPendingUntilTheLastByte) {
  for (const auto& s : samples()) {
    resp_reader r;
    reply x;
    for (std::size_t i = 0; i + 1 < s.wire.size(); ++i) {
      ASSERT_TRUE(r.feed(s.wire.substr(i, 1)));
      ASSERT_EQ(r.next(x), resp_reader::status::need_more) << to_debug_string(s.value) << " at byte " << i;
    }
    ASSERT_TRUE(r.feed(s.wire.substr(s.wire.size() - 1)));
    ASSERT_EQ(r.next(x), resp_reader::status::reply);
    EXPECT_EQ(x, s.value) << to_debug_string(x);
    EXPECT_EQ(r.next(x), resp_reader::status::need_more);
  }
}

TEST(RespReader, StreamInRandomSplits) {
  std::string wire;
  std::vector<reply> expected;
  for (int round = 0; round < 3; ++round)
    for (const auto& s : samples()) {
      wire += s.wire;
      expected.push_back(s.value);
    }
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<std::size_t> sizes;
    std::size_t left = wire.size();
    while (left) {
      std::size_t n = std::min<std::size_t>(left, 1 + rng() % (trial % 2 ? 7 : 64));
      sizes.push_back(n);
      left -= n;
    }
    auto got = parse_in_pieces(wire, sizes);
    ASSERT_EQ(got, expected) << "trial " << trial;
  }
}

TEST(RespReader, LargeBulkAcrossManyFeeds) {
  std::string big(300000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  std::string wire = "$";  // built by append (g++ 12 warns falsely on "$" + s)
  wire += std::to_string(big.size());
  wire += "\r\n";
  wire += big;
  wire += "\r\n";
  std::vector<std::size_t> sizes(wire.size() / 4096, 4096);
  sizes.push_back(wire.size() % 4096);
  auto got = parse_in_pieces(wire, sizes);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].str, big);
}

TEST(RespReader, ProtocolErrorThenReset) {
  resp_reader r;
  reply x;
  ASSERT_TRUE(r.feed("!bogus\r\n"));
  EXPECT_EQ(r.next(x), resp_reader::status::protocol_error);
  EXPECT_FALSE(r.error().empty());
  EXPECT_FALSE(r.feed("+OK\r\n"));  // stays broken until reset
  r.reset();
  ASSERT_TRUE(r.feed("+OK\r\n"));
  ASSERT_EQ(r.next(x), resp_reader::status::reply);
  EXPECT_EQ(x, reply::status("OK"));
}

// 14 bytes must not make the reader allocate 16 GiB for an element table (found by fuzzing).
TEST(RespReader, HugeArrayCountIsAProtocolError) {
  resp_reader r;
  reply x;
  ASSERT_TRUE(r.feed("*2147483647\r\n"));
  EXPECT_EQ(r.next(x), resp_reader::status::protocol_error);
  r.reset();
  ASSERT_TRUE(r.feed("*2\r\n:1\r\n:2\r\n"));
  ASSERT_EQ(r.next(x), resp_reader::status::reply);
  EXPECT_EQ(x, reply::array({reply::integer_value(1), reply::integer_value(2)}));
}

TEST(RespFormatter, ExactBytes) {
  EXPECT_EQ(format_command({"PING"}), "*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(format_command({"SET", "k", ""}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST(RespFormatter, RoundTripThroughTheReaderIsBinarySafe) {
  const std::string bin = "a\0b\r\n\xff\x80 "s;
  std::vector<std::string> args = {"PUBLISH", "chatrix:node:x:events", bin, "", std::string(70000, 'z')};
  for (int i = 0; i < 20; ++i) args.push_back("arg" + std::to_string(i));  // beyond the inline argv
  std::vector<std::string_view> views(args.begin(), args.end());
  const std::string wire = format_command(views);
  auto got = parse_in_pieces(wire, {wire.size()});
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].is_array());
  ASSERT_EQ(got[0].elements.size(), args.size());
  for (std::size_t i = 0; i < args.size(); ++i) EXPECT_EQ(got[0].elements[i].str, args[i]) << i;
}

}  // namespace
