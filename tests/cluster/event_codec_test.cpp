// event_codec: user events survive the trip through a PUBLISH payload (binary frames, large
// ids, both kinds, resync records), and damaged payloads are refused without crashing.
#include "cluster/redis/event_codec.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace {

using namespace chatrix::cluster;
using namespace chatrix::cluster::redis;
using namespace std::string_literals;

user_event make(chatrix::user_id to, user_event::kind k, chatrix::message_id msg, std::uint64_t skip, std::string frame) {
  return user_event{to, k, msg, skip, std::make_shared<const std::string>(std::move(frame))};
}

TEST(EventCodec, RoundTrip) {
  std::vector<user_event> in = {
      make(1, user_event::kind::message, 77, 0, R"({"type":"TEXT"})"),
      make(std::numeric_limits<chatrix::user_id>::max(), user_event::kind::notice, 0, ~0ull, "\0\r\n\xff"s),
      make(42, user_event::kind::notice, 0, 5, ""),
      make(3, user_event::kind::message, 1, 0, std::string(100000, 'x')),
  };
  std::string p;
  begin_payload(p);
  for (auto& ev : in) append_event(p, ev);
  append_resync(p);
  std::vector<user_event> out;
  int resyncs = 0;
  auto res = decode_payload(p, [&](user_event&& ev) { out.push_back(std::move(ev)); }, [&] { ++resyncs; });
  ASSERT_TRUE(res.ok);
  EXPECT_EQ(res.events, in.size());
  EXPECT_EQ(resyncs, 1);
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].to, in[i].to);
    EXPECT_EQ(out[i].type, in[i].type);
    EXPECT_EQ(out[i].msg, in[i].msg);
    EXPECT_EQ(out[i].skip_device, in[i].skip_device);
    ASSERT_TRUE(out[i].frame);
    EXPECT_EQ(*out[i].frame, *in[i].frame);
  }
}

TEST(EventCodec, SmallEventsAreCompact) {
  std::string p;
  begin_payload(p);
  append_event(p, make(1000, user_event::kind::message, 123456, 0, "0123456789"));
  EXPECT_LE(p.size(), 1u + 1 + 2 + 3 + 1 + 1 + 10);
}

TEST(EventCodec, TruncatedOrForeignPayloadsAreRefused) {
  std::string p;
  begin_payload(p);
  append_event(p, make(5, user_event::kind::message, 9, 0, "hello"));
  for (std::size_t cut = 0; cut < p.size(); ++cut) {
    std::size_t events = 0;
    auto res = decode_payload(std::string_view(p).substr(0, cut), [&](user_event&&) { ++events; }, [] {});
    if (cut <= 1) {
      // An empty payload or the bare version byte: no records (the latter is valid and empty).
      EXPECT_EQ(events, 0u);
      continue;
    }
    EXPECT_FALSE(res.ok) << "cut at " << cut;
    EXPECT_EQ(events, 0u);
  }
  EXPECT_FALSE(decode_payload("\x02whatever", [](user_event&&) {}, [] {}).ok);  // unknown version
  EXPECT_FALSE(decode_payload("\x01\x09", [](user_event&&) {}, [] {}).ok);      // unknown tag
}

}  // namespace
