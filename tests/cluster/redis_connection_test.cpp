// redis_connection against a real redis-server: pipelining and FIFO matching, error replies,
// AUTH/SELECT, bounds, subscriber mode, and reconnect (with resubscription) after restarts.
#include "cluster/redis/redis_connection.hpp"

#include "redis_instance.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace chatrix::cluster::redis;
using chatrix::config::parse_redis_address;
using chatrix::test::redis_instance;
using chatrix::test::run_for;
using chatrix::test::run_until;
using boost::system::error_code;
using namespace std::chrono_literals;
using namespace std::string_literals;

class RedisConnection : public ::testing::Test {
 protected:
  std::shared_ptr<redis_connection> make(std::string address = {}, connection_options o = {}) {
    o.address = parse_redis_address(address.empty() ? redis_.address() : address);
    o.name = "test";
    auto c = redis_connection::create(io_.get_executor(), o);
    c->on_state([this](bool up) { states_.push_back(up); });
    return c;
  }
  bool wait_up(redis_connection& c, std::chrono::milliseconds t = 10s) {
    return run_until(io_, [&] { return c.is_up(); }, t);
  }

  redis_instance redis_;
  asio::io_context io_;
  std::vector<bool> states_;
};

TEST(RedisAddress, Parses) {
  auto a = parse_redis_address("10.0.0.5:6380");
  EXPECT_EQ(a.host, "10.0.0.5");
  EXPECT_EQ(a.port, "6380");
  EXPECT_EQ(a.db, 0);
  EXPECT_TRUE(a.password.empty());

  a = parse_redis_address("redis://:s%40cret@redis.internal:7000/3");
  EXPECT_EQ(a.host, "redis.internal");
  EXPECT_EQ(a.port, "7000");
  EXPECT_EQ(a.password, "s@cret");
  EXPECT_TRUE(a.username.empty());
  EXPECT_EQ(a.db, 3);
  EXPECT_EQ(a.to_string().find("cret"), std::string::npos);  // never logged

  a = parse_redis_address("redis://app:pw@[::1]:6379");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.username, "app");
  EXPECT_EQ(a.password, "pw");

  a = parse_redis_address("redis://localhost");
  EXPECT_EQ(a.port, "6379");

  EXPECT_THROW(parse_redis_address(""), chatrix::config::address_error);
  EXPECT_THROW(parse_redis_address("host:99999"), chatrix::config::address_error);
  EXPECT_THROW(parse_redis_address("redis://host:1/x"), chatrix::config::address_error);
  EXPECT_THROW(parse_redis_address("rediss://host:1"), chatrix::config::address_error);
  EXPECT_THROW(parse_redis_address("http://host:1"), chatrix::config::address_error);
}

TEST_F(RedisConnection, ThousandPipelinedCommandsReplyInOrder) {
  auto c = make();
  c->start();
  ASSERT_TRUE(wait_up(*c));
  std::vector<std::int64_t> got;
  const auto writes_before = c->stats().writes;
  for (int i = 0; i < 1000; ++i)
    c->send({"INCR", "counter"}, [&](error_code ec, reply r) {
      ASSERT_FALSE(ec) << ec.message();
      got.push_back(r.integer);
    });
  EXPECT_EQ(c->pending(), 1000u);
  ASSERT_TRUE(run_until(io_, [&] { return got.size() == 1000; }));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i + 1);
  EXPECT_EQ(c->pending(), 0u);
  EXPECT_EQ(c->stats().writes - writes_before, 1u);  // all 1000 queued in one turn: one write
  c->close();
}

TEST_F(RedisConnection, BinaryValuesAndErrorRepliesAreSurfaced) {
  auto c = make();
  c->start();
  ASSERT_TRUE(wait_up(*c));
  const std::string bin = "\0\r\n\xff payload"s;
  std::vector<reply> got;
  auto keep = [&](error_code ec, reply r) {
    EXPECT_FALSE(ec);
    got.push_back(std::move(r));
  };
  c->send({"SET", "k", bin}, keep);
  c->send({"GET", "k"}, keep);
  c->send({"NOSUCHCOMMAND", "x"}, keep);
  c->send({"HGET", "k", "f"}, keep);  // WRONGTYPE
  c->send({"GET", "missing"}, keep);
  c->send({"PING"}, keep);  // the link survives error replies
  ASSERT_TRUE(run_until(io_, [&] { return got.size() == 6; }));
  EXPECT_EQ(got[0], reply::status("OK"));
  EXPECT_EQ(got[1], reply::string(bin));
  EXPECT_TRUE(got[2].is_error());
  EXPECT_TRUE(got[3].is_error());
  EXPECT_NE(got[3].str.find("WRONGTYPE"), std::string::npos);
  EXPECT_TRUE(got[4].is_nil());
  EXPECT_EQ(got[5], reply::status("PONG"));
}

TEST_F(RedisConnection, CommandsFailWhileNotConnectedButNeverInsideSend) {
  auto c = make();
  bool called = false;
  error_code got;
  c->send({"PING"}, [&](error_code ec, reply) {
    called = true;
    got = ec;
  });
  EXPECT_FALSE(called);
  ASSERT_TRUE(run_until(io_, [&] { return called; }));
  EXPECT_EQ(got, asio::error::not_connected);
}

TEST_F(RedisConnection, PendingBoundRejects) {
  connection_options o;
  o.max_pending = 10;
  auto c = make({}, o);
  c->start();
  ASSERT_TRUE(wait_up(*c));
  int ok = 0, rejected = 0;
  for (int i = 0; i < 15; ++i)
    c->send({"PING"}, [&](error_code ec, reply) { ec == asio::error::no_buffer_space ? ++rejected : ++ok; });
  ASSERT_TRUE(run_until(io_, [&] { return ok + rejected == 15; }));
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(rejected, 5);
}

TEST_F(RedisConnection, CloseDropsCallbacks) {
  auto c = make();
  c->start();
  ASSERT_TRUE(wait_up(*c));
  bool called = false;
  c->send({"PING"}, [&](error_code, reply) { called = true; });
  c->close();
  run_for(io_, 100ms);
  EXPECT_FALSE(called);
}

TEST_F(RedisConnection, AuthAndSelect) {
  ASSERT_EQ(redis_.command({"CONFIG", "SET", "requirepass", "s3cret"}), reply::status("OK"));
  auto good = make("redis://:s3cret@127.0.0.1:" + std::to_string(redis_.port()) + "/2");
  good->start();
  ASSERT_TRUE(wait_up(*good));
  std::vector<reply> got;
  good->send({"SET", "in-db-2", "yes"});
  good->send({"CLIENT", "INFO"}, [&](error_code, reply r) { got.push_back(std::move(r)); });
  ASSERT_TRUE(run_until(io_, [&] { return got.size() == 1; }));
  EXPECT_NE(got[0].str.find("db=2"), std::string::npos) << got[0].str;
  EXPECT_NE(got[0].str.find("name=test"), std::string::npos) << got[0].str;

  auto bad = make("redis://:wrong@127.0.0.1:" + std::to_string(redis_.port()));
  bad->start();
  run_for(io_, 500ms);
  EXPECT_FALSE(bad->is_up());
  EXPECT_GE(bad->stats().failed_connects, 1u);
  bad->close();
}

TEST_F(RedisConnection, ReconnectsAfterRedisRestartAndFailsPendingOnLoss) {
  auto c = make();
  c->start();
  ASSERT_TRUE(wait_up(*c));
  bool failed = false;
  c->send({"BLPOP", "never", "0"}, [&](error_code ec, reply) { failed = static_cast<bool>(ec); });
  run_for(io_, 50ms);
  redis_.kill();
  ASSERT_TRUE(run_until(io_, [&] { return failed; }, 5s));
  EXPECT_FALSE(c->is_up());
  run_for(io_, 300ms);  // a few failed attempts while it is down
  redis_.start();
  ASSERT_TRUE(wait_up(*c, 10s));
  EXPECT_EQ(states_, (std::vector<bool>{true, false, true}));
  bool pong = false;
  c->send({"PING"}, [&](error_code ec, reply r) { pong = !ec && r.str == "PONG"; });
  ASSERT_TRUE(run_until(io_, [&] { return pong; }));
  EXPECT_EQ(c->stats().connects, 2u);
}

TEST_F(RedisConnection, SubscriberGetsPushesAndResubscribesAfterRestart) {
  auto pub = make();
  connection_options so;
  so.ping_interval = 100ms;
  auto sub = make({}, so);
  std::vector<std::pair<std::string, std::string>> pushes;
  sub->subscribe({"ch:1"}, [&](std::string_view ch, std::string payload) { pushes.emplace_back(ch, std::move(payload)); });
  pub->start();
  sub->start();
  ASSERT_TRUE(run_until(io_, [&] { return pub->is_up() && sub->is_up(); }));

  std::int64_t receivers = -1;
  pub->send({"PUBLISH", "ch:1", "\0bin\r\n"s}, [&](error_code, reply r) { receivers = r.integer; });
  pub->send({"PUBLISH", "ch:other", "x"});
  ASSERT_TRUE(run_until(io_, [&] { return pushes.size() == 1; }));
  EXPECT_EQ(receivers, 1);
  EXPECT_EQ(pushes[0].first, "ch:1");
  EXPECT_EQ(pushes[0].second, "\0bin\r\n"s);
  run_for(io_, 300ms);  // keepalive PINGs in subscribed mode must not confuse reply matching
  EXPECT_TRUE(sub->is_up());

  redis_.kill();
  redis_.start();
  // Both notice, reconnect and (the subscriber) subscribe again, by themselves.
  ASSERT_TRUE(run_until(io_, [&] { return sub->stats().connects == 2 && pub->stats().connects == 2; }, 10s));
  pub->send({"PUBLISH", "ch:1", "after"});
  ASSERT_TRUE(run_until(io_, [&] { return pushes.size() == 2; }));
  EXPECT_EQ(pushes[1].second, "after");
}

// Several channels: up only once every one is confirmed, pushes of each tagged with it.
TEST_F(RedisConnection, SubscriberListensToSeveralChannels) {
  auto pub = make();
  auto sub = make();
  std::vector<std::pair<std::string, std::string>> pushes;
  sub->subscribe({"ch:a", "ch:b"},
                 [&](std::string_view ch, std::string payload) { pushes.emplace_back(ch, std::move(payload)); });
  pub->start();
  sub->start();
  ASSERT_TRUE(run_until(io_, [&] { return pub->is_up() && sub->is_up(); }));
  EXPECT_EQ(redis_.command({"PUBSUB", "NUMSUB", "ch:a", "ch:b"}).elements.at(3).integer, 1);
  pub->send({"PUBLISH", "ch:b", "2"});
  pub->send({"PUBLISH", "ch:a", "1"});
  ASSERT_TRUE(run_until(io_, [&] { return pushes.size() == 2; }));
  EXPECT_EQ(pushes[0], (std::pair<std::string, std::string>{"ch:b", "2"}));
  EXPECT_EQ(pushes[1], (std::pair<std::string, std::string>{"ch:a", "1"}));
  bool pong = false;
  sub->send({"PING"}, [&](error_code ec, reply) { pong = !ec; });
  ASSERT_TRUE(run_until(io_, [&] { return pong; })) << "replies still matched after the subscriptions";
}

TEST_F(RedisConnection, HalfOpenLinkIsDetectedByReplyTimeout) {
  connection_options o;
  o.reply_timeout = 300ms;
  auto c = make({}, o);
  c->start();
  ASSERT_TRUE(wait_up(*c));
  // A paused server answers nothing, like a dead peer; the client must give up on its own.
  ASSERT_EQ(redis_.command({"CLIENT", "PAUSE", "1000", "ALL"}), reply::status("OK"));
  error_code got;
  bool done = false;
  c->send({"PING"}, [&](error_code ec, reply) {
    got = ec;
    done = true;
  });
  ASSERT_TRUE(run_until(io_, [&] { return done; }, 3s));
  EXPECT_EQ(got, asio::error::timed_out);
  ASSERT_TRUE(wait_up(*c, 5s));  // and reconnects
}

}  // namespace
