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

revocation sample_revocation() {
  revocation r;
  r.user = std::numeric_limits<chatrix::user_id>::max();
  r.jtis = {"a", "\0\xff"s, ""};
  r.cutoff_s = 1'700'000'000;
  r.expiries = {{"a", 1}, {"\0\xff"s, std::numeric_limits<chatrix::unix_ms>::max()}};
  return r;
}

TEST(EventCodec, RevocationRoundTrip) {
  const std::string p = encode_revocation("node-1", sample_revocation());
  const auto d = decode_revocation(p);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->origin, "node-1");
  EXPECT_EQ(d->r.user, sample_revocation().user);
  EXPECT_EQ(d->r.jtis, sample_revocation().jtis);
  EXPECT_EQ(d->r.cutoff_s, sample_revocation().cutoff_s);
  EXPECT_EQ(d->r.expiries, sample_revocation().expiries);

  const auto empty = decode_revocation(encode_revocation("n", revocation{1, {}, 0, {}}));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->r.jtis.empty());
}

TEST(EventCodec, DamagedRevocationsAreRefused) {
  const std::string p = encode_revocation("node-1", sample_revocation());
  for (std::size_t n = 0; n < p.size(); ++n) EXPECT_FALSE(decode_revocation(p.substr(0, n))) << "cut at " << n;
  EXPECT_FALSE(decode_revocation(p + "x")) << "trailing bytes";
  // A count far beyond what the payload holds is refused before anything is reserved.
  std::string forged = encode_revocation("n", revocation{1, {}, 0, {}});
  forged.resize(forged.size() - 2);
  forged += "\xff\xff\xff\xff\x0f";
  EXPECT_FALSE(decode_revocation(forged));
  // An event payload is not a revocation, and a revocation is not an event payload.
  std::string events;
  begin_payload(events);
  append_resync(events);
  EXPECT_FALSE(decode_revocation(events));
  EXPECT_FALSE(decode_payload(p, [](user_event&&) {}, [] {}).ok);
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

// A stream event's position reaches the other node with it (the devices there drop what they
// had by it), on plain and replayed records alike; events without one stay at 0.
TEST(EventCodec, PositionsSurviveTheTrip) {
  auto with_pos = [](user_event ev, chatrix::stream_pos pos) {
    ev.pos = pos;
    return ev;
  };
  std::string p;
  begin_payload(p);
  append_event(p, with_pos(make(1, user_event::kind::message, 7, 0, "a"), 1));
  append_event(p, make(1, user_event::kind::notice, 0, 0, "b"));
  append_event(p, with_pos(make(2, user_event::kind::notice, 8, 3, "c"), std::numeric_limits<chatrix::stream_pos>::max()));
  append_origin(p, "node-2");
  append_replayed(p, 9, with_pos(make(3, user_event::kind::notice, 0, 0, "d"), 300));
  std::vector<user_event> out;
  std::vector<std::uint64_t> seqs;
  auto res = decode_payload(
      p, [&](user_event&& ev) { out.push_back(std::move(ev)); }, [] {},
      [&](std::string_view, std::uint64_t seq, user_event&& ev) {
        seqs.push_back(seq);
        out.push_back(std::move(ev));
      });
  ASSERT_TRUE(res.ok);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].pos, 1);
  EXPECT_EQ(out[0].msg, 7);
  EXPECT_EQ(out[1].pos, 0);
  EXPECT_EQ(out[2].pos, std::numeric_limits<chatrix::stream_pos>::max());
  EXPECT_EQ(*out[2].frame, "c");
  EXPECT_EQ(out[3].pos, 300);
  EXPECT_EQ(seqs, std::vector<std::uint64_t>{9});
  // Every cut of it is refused or stops at a record boundary, never misread.
  for (std::size_t cut = 1; cut < p.size(); ++cut) {
    std::vector<chatrix::stream_pos> positions;
    decode_payload(std::string_view(p).substr(0, cut), [&](user_event&& ev) { positions.push_back(ev.pos); }, [] {});
    for (std::size_t i = 0; i < positions.size(); ++i) EXPECT_EQ(positions[i], out[i].pos) << "cut at " << cut;
  }
}

TEST(EventCodec, APositionBelongsToTheNextEventOnly) {
  // Followed by a resync, an origin, a hello or nothing: not a payload this codec writes.
  EXPECT_FALSE(decode_payload("\x01\x07\x05\x02", [](user_event&&) {}, [] {}).ok);
  EXPECT_FALSE(decode_payload("\x01\x07\x05\x03\x00", [](user_event&&) {}, [] {}).ok);
  EXPECT_FALSE(decode_payload("\x01\x07\x05\x05", [](user_event&&) {}, [] {}).ok);
  EXPECT_FALSE(decode_payload("\x01\x07\x05", [](user_event&&) {}, [] {}).ok);
  EXPECT_FALSE(decode_payload("\x01\x07", [](user_event&&) {}, [] {}).ok);
}

TEST(EventCodec, ReplayedNoticesCarryTheirOriginAndSeq) {
  std::string p;
  begin_payload(p);
  append_replayed(p, 5, make(1, user_event::kind::notice, 0, 0, "a"));  // no origin yet
  append_origin(p, "node-1");
  append_replayed(p, 1ull << 40, make(2, user_event::kind::notice, 9, 3, "b"));
  append_event(p, make(3, user_event::kind::message, 4, 0, "c"));
  append_hello(p);
  struct seen {
    std::string origin;
    std::uint64_t seq;
    user_event ev;
  };
  std::vector<seen> replayed;
  std::vector<user_event> events;
  std::vector<std::string> hellos;
  auto res = decode_payload(
      p, [&](user_event&& ev) { events.push_back(std::move(ev)); }, [] {},
      [&](std::string_view origin, std::uint64_t seq, user_event&& ev) {
        replayed.push_back({std::string(origin), seq, std::move(ev)});
      },
      [&](std::string_view origin) { hellos.emplace_back(origin); });
  ASSERT_TRUE(res.ok);
  ASSERT_EQ(replayed.size(), 2u);
  EXPECT_EQ(replayed[0].origin, "");
  EXPECT_EQ(replayed[0].seq, 5u);
  EXPECT_EQ(*replayed[0].ev.frame, "a");
  EXPECT_EQ(replayed[1].origin, "node-1");
  EXPECT_EQ(replayed[1].seq, 1ull << 40);
  EXPECT_EQ(replayed[1].ev.type, user_event::kind::notice);
  EXPECT_EQ(replayed[1].ev.to, 2);
  EXPECT_EQ(replayed[1].ev.msg, 9);
  EXPECT_EQ(replayed[1].ev.skip_device, 3u);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, user_event::kind::message);
  EXPECT_EQ(hellos, std::vector<std::string>{"node-1"});
  // The two-handler form (nodes that only route) skips them.
  std::size_t plain = 0;
  EXPECT_TRUE(decode_payload(p, [&](user_event&&) { ++plain; }, [] {}).ok);
  EXPECT_EQ(plain, 1u);
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
  EXPECT_FALSE(decode_payload("\x01\x03\x09" "ab", [](user_event&&) {}, [] {}).ok);  // origin cut short
}

}  // namespace

// ---- ephemeral events and the broadcast channel ----

namespace {

TEST(EventCodec, EphemeralEventsStayEphemeral) {
  std::string p;
  begin_payload(p);
  auto typing = make(9, user_event::kind::ephemeral, 0, 3, R"({"type":17})");
  typing.pos = 0;
  append_event(p, typing);
  append_event(p, make(9, user_event::kind::notice, 0, 0, "n"));
  std::vector<user_event> out;
  ASSERT_TRUE(decode_payload(p, [&](user_event&& ev) { out.push_back(std::move(ev)); }, [] {}).ok);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, user_event::kind::ephemeral);
  EXPECT_EQ(out[0].skip_device, 3u);
  EXPECT_EQ(*out[0].frame, R"({"type":17})");
  EXPECT_EQ(out[1].type, user_event::kind::notice);
}

TEST(EventCodec, BroadcastRoundTrip) {
  const auto max_user = std::numeric_limits<chatrix::user_id>::max();
  const auto max_at = std::numeric_limits<chatrix::unix_ms>::max();
  broadcast_encoder enc("node-\xff"s, 512 * 1024);
  EXPECT_TRUE(enc.empty());
  enc.presence({1, true, 1'765'100'000'123});
  enc.presence({max_user, false, max_at});
  enc.user_changed(42);
  enc.snapshot_begin();
  enc.presence({7, true, 5});
  enc.snapshot_end();
  enc.ask();
  auto payloads = enc.take();
  EXPECT_TRUE(enc.empty()) << "take() starts over";
  ASSERT_EQ(payloads.size(), 1u);
  const auto d = decode_broadcast(payloads[0]);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->origin, "node-\xff"s);
  using kind = broadcast_record::kind;
  ASSERT_EQ(d->records.size(), 7u);
  EXPECT_EQ(d->records[0].type, kind::presence);
  EXPECT_EQ(d->records[0].update.user, 1);
  EXPECT_TRUE(d->records[0].update.online);
  EXPECT_EQ(d->records[0].update.at, 1'765'100'000'123);
  EXPECT_EQ(d->records[1].update.user, max_user);
  EXPECT_FALSE(d->records[1].update.online);
  EXPECT_EQ(d->records[1].update.at, max_at);
  EXPECT_EQ(d->records[2].type, kind::user_changed);
  EXPECT_EQ(d->records[2].user, 42);
  EXPECT_EQ(d->records[3].type, kind::snapshot_begin);
  EXPECT_EQ(d->records[4].update.user, 7);
  EXPECT_EQ(d->records[5].type, kind::snapshot_end);
  EXPECT_EQ(d->records[6].type, kind::ask);
}

TEST(EventCodec, BroadcastPayloadsAreCutAtTheLimitEachWithItsOrigin) {
  broadcast_encoder enc("n1", 64);
  for (chatrix::user_id u = 1; u <= 1000; ++u) enc.presence({u, u % 2 == 0, 1'765'100'000'000 + u});
  const auto payloads = enc.take();
  ASSERT_GT(payloads.size(), 10u);
  chatrix::user_id next = 1;
  for (const auto& p : payloads) {
    EXPECT_LT(p.size(), 64u + 32u) << "a payload runs past the limit by more than one record";
    const auto d = decode_broadcast(p);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->origin, "n1");
    for (const auto& r : d->records) {
      EXPECT_EQ(r.update.user, next);
      EXPECT_EQ(r.update.online, next % 2 == 0);
      ++next;
    }
  }
  EXPECT_EQ(next, 1001) << "every record once, in order";
}

TEST(EventCodec, DamagedOrForeignBroadcastsAreRefused) {
  broadcast_encoder enc("node-1", 1024);
  enc.presence({123456, true, 1'765'100'000'000});
  enc.user_changed(99);
  const auto p = enc.take().at(0);
  // Every cut either ends between records (a shorter valid payload) or is refused.
  for (std::size_t n = 0; n < p.size(); ++n) {
    const auto d = decode_broadcast(p.substr(0, n));
    if (d) {
      EXPECT_LT(d->records.size(), 2u) << "cut at " << n;
    }
  }
  EXPECT_FALSE(decode_broadcast(p.substr(0, p.size() - 1))) << "a user change cut short";
  EXPECT_FALSE(decode_broadcast(p + "\x0f")) << "an unknown tag";
  EXPECT_FALSE(decode_broadcast(encode_revocation("n", revocation{1, {}, 0, {}}))) << "a revocation";
  std::string events;
  begin_payload(events);
  append_origin(events, "n");
  append_event(events, make(1, user_event::kind::notice, 0, 0, "x"));
  EXPECT_FALSE(decode_broadcast(events)) << "a node channel's events";
  EXPECT_FALSE(decode_payload(p, [](user_event&&) {}, [] {}).ok) << "a broadcast on a node channel";
  EXPECT_FALSE(decode_broadcast("")) << "empty";
}

}  // namespace
