// The per-connection limits on TEXT, search and history frames, the flood cut-off, the daily
// storage quota (docs/security.md, "Messages, searches and history"), each refusal seen on
// the wire and in /metrics, with its recovery; and that one client flooding does not take
// the other clients' latency with it.
#include "support/chat_fixture.hpp"
#include "support/metrics_probe.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

namespace chatrix::test {
namespace {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

/// The ERR frame's body, checked to be `code` about a frame of `ref_type`.
json::value expect_err(const json::value& frame, const std::string& code, std::int64_t ref_type) {
  EXPECT_EQ(err_code(frame), code) << json::serialize(frame);
  const auto& body = body_of(frame);
  EXPECT_EQ(int_field(body, "ref_type"), ref_type) << json::serialize(frame);
  return body;
}

/// The next frame that answers a TEXT: DELIVERED or ERR, skipping what the connection hears
/// as a participant (TEXT, RECEIVED, SENT). Refusals are answered at once and DELIVERED only
/// once the message is stored, so a refusal can overtake the DELIVERED of an earlier TEXT.
json::value next_answer(const session& s) {
  for (;;) {
    auto f = s->recv_json(10s);
    const auto type = int_field(f, "type");
    if (type == ev_delivered || type == ev_err) return f;
    if (type != ev_received && type != ev_sent && type != ev_text)
      throw std::runtime_error("unexpected frame " + json::serialize(f));
  }
}

/// Sends a TEXT and returns its DELIVERED body; anything else answering it fails the test.
json::value send_stored(const session& s, const json::object& text_body) {
  s->send_json(ev_text, text_body);
  auto f = next_answer(s);
  if (int_field(f, "type") != ev_delivered) throw std::runtime_error("expected DELIVERED, got " + json::serialize(f));
  return body_of(f);
}

std::vector<std::string> history_contents(const session& s, std::int64_t me, std::int64_t peer) {
  s->send_json(ev_history_request, json::object{{"user1_id", me}, {"user2_id", peer}, {"limit", 200}});
  const auto rows = body_of(s->recv_type_skipping(ev_history_response, {ev_received, ev_text, ev_sent}, 10s));
  std::vector<std::string> out;
  if (rows.is_array())
    for (const auto& r : rows.as_array()) out.push_back(str_field(r, "content"));
  return out;
}

// ---- MESSAGE_RATE / MESSAGE_BURST, SEARCH_LIMIT, HISTORY_LIMIT ----

class message_rate : public chat_test {
 protected:
  std::map<std::string, std::string> server_env() const override {
    return {{"MESSAGE_RATE", "5/s"}, {"MESSAGE_BURST", "5"}, {"SEARCH_LIMIT", "2/s"}, {"HISTORY_LIMIT", "3/s"}};
  }
};

TEST_F(message_rate, a_text_over_the_burst_is_refused_with_its_mark_and_not_stored_then_passes_after_the_wait) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  // Six at once: the bucket holds five.
  for (int i = 1; i <= 6; ++i) a->send_json(ev_text, text_to("bob", "m" + std::to_string(i), i));
  std::vector<std::int64_t> delivered;
  std::optional<json::value> refused;
  for (int i = 0; i < 6; ++i) {
    auto f = next_answer(a);
    if (int_field(f, "type") == ev_delivered) {
      delivered.push_back(int_field(body_of(f), "mark"));
    } else {
      ASSERT_FALSE(refused) << "a second refusal: " << json::serialize(f);
      refused = f;
    }
  }
  EXPECT_EQ(delivered, (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  ASSERT_TRUE(refused);
  const auto body = expect_err(*refused, "rate_limited", ev_text);
  EXPECT_EQ(int_field(body, "mark"), 6);
  const auto retry_after = int_field(body, "retry_after_ms");
  EXPECT_GT(retry_after, 0);
  EXPECT_LE(retry_after, 201);  // one token every 200 ms
  EXPECT_EQ(metric_value(port(), "chatrix_limited_messages_total"), 1);

  // The recipient gets the five, never the sixth.
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(str_field(body_of(b->recv_type(ev_text)), "content"), "m" + std::to_string(i));
  b->expect_no_frame(300ms, {ev_received});

  // As told, after retry_after_ms the next one passes.
  std::this_thread::sleep_for(milliseconds(retry_after));
  auto d = send_and_confirm(a, text_to("bob", "m7", 7));
  EXPECT_EQ(int_field(d, "mark"), 7);
  EXPECT_EQ(str_field(body_of(b->recv_type(ev_text)), "content"), "m7");
  EXPECT_EQ(history_contents(a, alice.id, bob.id), (std::vector<std::string>{"m1", "m2", "m3", "m4", "m5", "m7"}));
}

TEST_F(message_rate, the_limit_is_per_connection) {
  auto alice = make_user("alice");
  make_user("bob");
  session first = connect_authed(alice);
  session second = connect_authed(alice);
  for (int i = 1; i <= 5; ++i) send_stored(first, text_to("bob", "x", i));
  first->send_json(ev_text, text_to("bob", "x", 6));
  expect_err(next_answer(first), "rate_limited", ev_text);
  // The other device of the same user has a bucket of its own.
  for (int i = 7; i <= 11; ++i) send_stored(second, text_to("bob", "x", i));
}

TEST_F(message_rate, a_text_over_the_limit_is_refused_before_the_recipient_is_looked_up) {
  auto alice = make_user("alice");
  session a = connect_authed(alice);
  for (int i = 1; i <= 5; ++i) {
    a->send_json(ev_text, text_to("nobody", "x", i));
    EXPECT_EQ(err_code(next_answer(a)), "unknown_recipient");
  }
  a->send_json(ev_text, text_to("nobody", "x", 6));
  expect_err(next_answer(a), "rate_limited", ev_text);
}

TEST_F(message_rate, searches_and_history_requests_are_limited_per_connection_and_recover) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  // Sent together, so that no token comes back in between: 2 searches pass, the third not.
  for (int i = 0; i < 3; ++i) a->send_json(ev_search_request, json::object{{"username", "bo"}});
  a->recv_type(ev_search_response);
  a->recv_type(ev_search_response);
  const auto search_refusal = expect_err(a->recv_json(), "rate_limited", ev_search_request);
  const auto search_wait = int_field(search_refusal, "retry_after_ms");
  EXPECT_GT(search_wait, 0);
  EXPECT_LE(search_wait, 501);
  EXPECT_FALSE(has_field(search_refusal, "mark"));

  const json::object hist{{"user1_id", alice.id}, {"user2_id", bob.id}};
  for (int i = 0; i < 4; ++i) a->send_json(ev_history_request, hist);
  for (int i = 0; i < 3; ++i) a->recv_type(ev_history_response);
  const auto history_wait = int_field(expect_err(a->recv_json(), "rate_limited", ev_history_request), "retry_after_ms");
  EXPECT_GT(history_wait, 0);
  EXPECT_LE(history_wait, 334);
  EXPECT_EQ(metric_value(port(), "chatrix_limited_reads_total"), 2);
  EXPECT_EQ(metric_value(port(), "chatrix_limited_messages_total"), 0);

  // Reads have their own buckets: a TEXT still passes.
  send_and_confirm(a, text_to("bob", "hi", 1));
  // And they recover as told.
  std::this_thread::sleep_for(milliseconds(std::max(search_wait, history_wait)));
  a->send_json(ev_search_request, json::object{{"username", "bo"}});
  a->recv_type(ev_search_response);
  a->send_json(ev_history_request, hist);
  a->recv_type_skipping(ev_history_response, {ev_received});
}

// ---- MESSAGE_FLOOD_LIMIT ----

class message_flood : public chat_test {
 protected:
  // One TEXT an hour: nothing refills during the test, so every refusal is in the same row.
  std::map<std::string, std::string> server_env() const override {
    return {{"MESSAGE_RATE", "1/h"}, {"MESSAGE_BURST", "1"}, {"MESSAGE_FLOOD_LIMIT", "20"}};
  }
};

TEST_F(message_flood, a_client_that_keeps_sending_past_the_flood_limit_is_closed_with_1008) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  for (int i = 1; i <= 40; ++i) a->send_json(ev_text, text_to("bob", "x" + std::to_string(i), i));
  ASSERT_TRUE(a->wait_closed(10s));
  EXPECT_EQ(a->close_code(), 1008);
  std::vector<json::value> frames;
  while (auto f = a->recv(0ms)) frames.push_back(json::parse(*f));
  // Twenty refusals, each with its mark, then the last word (no mark: it is about the
  // connection, not one frame). The first TEXT was taken: its DELIVERED comes when it is
  // stored, which may be after the close (a retry with its mark would be told "duplicate").
  ASSERT_FALSE(frames.empty());
  const auto last = frames.back();
  frames.pop_back();
  EXPECT_EQ(err_code(last), "rate_limited") << json::serialize(last);
  EXPECT_FALSE(has_field(body_of(last), "mark")) << json::serialize(last);
  EXPECT_FALSE(has_field(body_of(last), "ref_type")) << json::serialize(last);
  EXPECT_GT(int_field(body_of(last), "retry_after_ms"), 3'000'000);
  std::vector<std::int64_t> refused;
  for (const auto& f : frames) {
    if (int_field(f, "type") == ev_delivered) {
      EXPECT_EQ(int_field(body_of(f), "mark"), 1);
      continue;
    }
    const auto body = expect_err(f, "rate_limited", ev_text);
    EXPECT_GT(int_field(body, "retry_after_ms"), 3'000'000);  // the next token, in an hour
    refused.push_back(int_field(body, "mark"));
  }
  std::vector<std::int64_t> expected;
  for (int i = 2; i <= 21; ++i) expected.push_back(i);
  EXPECT_EQ(refused, expected);
  EXPECT_EQ(wait_for_metric(port(), "chatrix_flood_disconnects_total", 1), 1);
  EXPECT_EQ(metric_value(port(), "chatrix_limited_messages_total"), 21);
  // Only that connection went: the user connects again, and only the first TEXT was stored
  // (the store may still be committing it: its counter says when).
  wait_for_metric(port(), "chatrix_messages_stored_total", 1);
  session again = connect_authed(alice);
  EXPECT_EQ(history_contents(again, alice.id, bob.id), std::vector<std::string>{"x1"});
}

class message_flood_off : public chat_test {
 protected:
  std::map<std::string, std::string> server_env() const override {
    return {{"MESSAGE_RATE", "1/h"}, {"MESSAGE_BURST", "1"}, {"MESSAGE_FLOOD_LIMIT", "0"}};
  }
};

TEST_F(message_flood_off, flood_limit_zero_refuses_but_never_disconnects) {
  auto alice = make_user("alice");
  make_user("bob");
  session a = connect_authed(alice);
  for (int i = 1; i <= 200; ++i) a->send_json(ev_text, text_to("bob", "x", i));
  int delivered = 0;
  for (int i = 1; i <= 200; ++i) {
    const auto f = next_answer(a);
    if (int_field(f, "type") == ev_delivered) {
      ++delivered;
    } else {
      expect_err(f, "rate_limited", ev_text);
    }
  }
  EXPECT_EQ(delivered, 1);
  a->send_json(ev_search_request, json::object{{"username", "bo"}});
  a->recv_type(ev_search_response);
  EXPECT_FALSE(a->closed());
  EXPECT_EQ(metric_value(port(), "chatrix_flood_disconnects_total"), 0);
}

// ---- STORAGE_QUOTA ----

class daily_quota : public chat_test {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"STORAGE_QUOTA", "1K"}}; }
};

TEST_F(daily_quota, texts_past_the_daily_quota_are_refused_until_utc_midnight_and_retries_are_not_charged) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  const std::string four_hundred(400, 'a');
  send_stored(a, text_to("bob", four_hundred, 1));
  // A retry (same mark and content) is the same message: acknowledged again, not charged again.
  EXPECT_TRUE(bool_field(send_stored(a, text_to("bob", four_hundred, 1)), "duplicate"));
  send_stored(a, text_to("bob", std::string(400, 'b'), 2));  // 800 of 1024 bytes

  a->send_json(ev_text, text_to("bob", std::string(400, 'c'), 3));
  const auto body = expect_err(next_answer(a), "quota_exceeded", ev_text);
  EXPECT_EQ(int_field(body, "mark"), 3);
  // Until the next midnight UTC, as this machine's clock sees it (give or take the test's own pace).
  const auto now_ms = std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  constexpr std::int64_t day_ms = 24LL * 60 * 60 * 1000;
  const auto to_midnight = day_ms - now_ms % day_ms;
  const auto retry_after = int_field(body, "retry_after_ms");
  EXPECT_GT(retry_after, 0);
  EXPECT_LE(retry_after, to_midnight + 1000);
  EXPECT_GE(retry_after, to_midnight - 60'000);

  // What is left still fits, to the byte; one byte more does not.
  send_stored(a, text_to("bob", std::string(224, 'd'), 4));
  a->send_json(ev_text, text_to("bob", "e", 5));
  EXPECT_EQ(int_field(expect_err(next_answer(a), "quota_exceeded", ev_text), "mark"), 5);
  EXPECT_EQ(metric_value(port(), "chatrix_quota_exceeded_total"), 2);

  // The quota is the user's: another connection of alice is refused too; bob has his own.
  session a2 = connect_authed(alice);
  a2->send_json(ev_text, text_to("bob", "f", 6));
  expect_err(next_answer(a2), "quota_exceeded", ev_text);
  send_stored(b, text_to("alice", std::string(1024, 'g'), 1));

  const auto stored = history_contents(a, alice.id, bob.id);
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[0], four_hundred);
  EXPECT_EQ(stored[2], std::string(224, 'd'));
  EXPECT_EQ(stored[3], std::string(1024, 'g'));
}

// ---- 0 turns each limit off ----

class limits_off : public chat_test {
 protected:
  // A burst of 1 and a flood limit of 1 would refuse (and cut off) at once if the rate were on.
  std::map<std::string, std::string> server_env() const override {
    return {{"MESSAGE_RATE", "0"},  {"MESSAGE_BURST", "1"},  {"MESSAGE_FLOOD_LIMIT", "1"},
            {"SEARCH_LIMIT", "0"},  {"HISTORY_LIMIT", "0"}, {"STORAGE_QUOTA", "0"}};
  }
};

TEST_F(limits_off, zero_turns_every_message_limit_off) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  const std::string big(8000, 'x');
  for (int i = 1; i <= 100; ++i) a->send_json(ev_text, text_to("bob", big, i));
  for (int i = 1; i <= 100; ++i) EXPECT_EQ(int_field(next_answer(a), "type"), ev_delivered);
  for (int i = 0; i < 100; ++i) a->send_json(ev_search_request, json::object{{"username", "bo"}});
  for (int i = 0; i < 100; ++i) a->recv_type(ev_search_response);
  for (int i = 0; i < 100; ++i) a->send_json(ev_history_request, json::object{{"user1_id", alice.id}, {"user2_id", bob.id}});
  for (int i = 0; i < 100; ++i) a->recv_type_skipping(ev_history_response, {ev_received});
  EXPECT_EQ(metric_value(port(), "chatrix_limited_messages_total"), 0);
  EXPECT_EQ(metric_value(port(), "chatrix_limited_reads_total"), 0);
  EXPECT_EQ(metric_value(port(), "chatrix_quota_exceeded_total"), 0);
}

// ---- fairness, with the default limits ----

class default_limits : public chat_test {};

/// Connects as `user` and sends TEXTs to `to` as fast as the server answers them (up to
/// `window` unanswered), reconnecting whenever the server closes it, until stopped.
class flooder {
 public:
  flooder(std::uint16_t port, test_user user, std::string to)
      : port_(port), user_(std::move(user)), to_(std::move(to)), thread_([this] { run(); }) {}
  ~flooder() {
    stop_ = true;
    thread_.join();
  }
  int connections() const { return connections_; }
  std::int64_t sent() const { return sent_; }
  std::string failure() const { return failure_; }

 private:
  void run() {
    try {
      while (!stop_) flood_once();
    } catch (const std::exception& e) {
      failure_ = e.what();
    }
  }
  void flood_once() {
    ws_client ws;
    ws.connect(port_);
    ws.send_text(json::serialize(json::object{{"token", user_.token}}));
    ws.recv_type(ev_profile_info, 10s);
    ws.recv_type(ev_chat_previews, 10s);
    ws.recv_type(ev_synced, 10s);
    ++connections_;
    const std::string head = R"({"type":0,"body":{"to":")" + to_ + R"(","content":")" + std::string(80, 'f') + R"(","mark":)";
    std::int64_t unanswered = 0;
    while (!stop_ && !ws.closed()) {
      while (unanswered < window) {
        ws.send_text(head + std::to_string(sent_++) + "}}");
        ++unanswered;
      }
      // Whatever has come back (DELIVERED or ERR), then more.
      for (auto f = ws.recv(1ms); f; f = ws.recv(0ms)) --unanswered;
    }
  }

  static constexpr std::int64_t window = 1024;
  std::uint16_t port_;
  test_user user_;
  std::string to_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<std::int64_t> sent_{0};
  std::string failure_;
  std::thread thread_;
};

double p95_ms(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[std::min(samples.size() - 1, samples.size() * 95 / 100)];
}

TEST_F(default_limits, other_clients_keep_their_latency_while_one_floods) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto mallory = make_user("mallory");
  make_user("sink");  // offline: the flood stays pending, as it would for most recipients
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  std::int64_t mark = 0;
  auto round_trip_ms = [&] {
    const auto start = steady::now();
    send_and_confirm(a, text_to("bob", "ping", ++mark));
    return std::chrono::duration<double, std::milli>(steady::now() - start).count();
  };

  std::vector<double> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(round_trip_ms());

  std::vector<double> flooded;
  std::int64_t flood_sent = 0;
  int flood_connections = 0;
  {
    flooder flood(port(), mallory, "sink");
    // Under way: past its burst and refused (the metrics show it), then measured while it goes
    // on, for a few seconds and at least two of its connections.
    wait_for_metric(port(), "chatrix_limited_messages_total", 1);
    const auto until = steady::now() + 3s, guard = until + 20s;
    while (flooded.size() < 200 || steady::now() < until || flood.connections() < 2) {
      flooded.push_back(round_trip_ms());
      ASSERT_LT(steady::now(), guard) << "the flooder was not cut off (" << flood.connections() << " connections)";
    }
    flood_sent = flood.sent();
    flood_connections = flood.connections();
    ASSERT_EQ(flood.failure(), "");
  }
  const double idle_p95 = p95_ms(idle), flooded_p95 = p95_ms(flooded);
  std::printf("ack p95: idle %.2f ms, while flooded %.2f ms (%zu samples); the flooder sent %lld TEXTs on %d "
              "connections: %lld stored, %lld refused\n",
              idle_p95, flooded_p95, flooded.size(), static_cast<long long>(flood_sent), flood_connections,
              static_cast<long long>(metric_value(port(), "chatrix_messages_stored_total")),
              static_cast<long long>(metric_value(port(), "chatrix_limited_messages_total")));
  EXPECT_GE(metric_value(port(), "chatrix_flood_disconnects_total"), 1);
  // Generous on purpose (a loaded 2-core CI box runs the flooder's client too): a small
  // multiple of the idle figure, with a floor for an idle figure of a fraction of a millisecond.
  EXPECT_LE(flooded_p95, 10 * idle_p95 + 20) << "idle p95 " << idle_p95 << " ms";
  // The pair's messages all went through.
  b->drain(0ms);
}

}  // namespace
}  // namespace chatrix::test
