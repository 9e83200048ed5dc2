// The real chatrix server on PostgreSQL while the database goes away (stopped, or stalled
// with SIGSTOP) and comes back: sends during the outage get ERR "unavailable" (never
// DELIVERED), login gets 503, a WebSocket login ERR "unavailable" and close 1013, the server
// stays up and recovers on its own, and history holds exactly the acknowledged messages.
#include "support/chat_fixture.hpp"
#include "support/jwt_mint.hpp"
#include "support/pg_instance.hpp"

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>

namespace chatrix::test {
namespace {

using clock_type = std::chrono::steady_clock;

/// One send and what the server answered to it.
struct send_outcome {
  std::string content;
  clock_type::time_point sent_at, answered_at;
  bool delivered = false;
  std::int64_t message_id = 0;
  std::string err_code;  // set when the answer was an ERR
};

class server_pg_outage : public chat_test_base {
 protected:
  void SetUp() override {
    pg_ = std::make_unique<chatrix::testing::pg_instance>();
    // DB_TIMEOUT: a stalled database is given up on after 3 s (long enough for a loaded
    // machine's normal batches, short enough for a quick test).
    server_ = std::make_unique<server_process>(std::map<std::string, std::string>{
        {"DB_CONNECTION_URL", pg_->create_database()}, {"DB_TIMEOUT", "3s"}, {"DB_CONNECT_TIMEOUT", "2s"}});
    server_->start();
  }
  void TearDown() override {
    if (pg_ && pg_->paused()) pg_->resume();   // a failed test may have left it stopped
    if (pg_ && !pg_->running()) pg_->start();  // or down
    if (server_ && server_->alive() && !server_->stop(10s)) ADD_FAILURE() << "the server did not exit within 10 s of SIGTERM";
    chat_test_base::TearDown();
    server_.reset();
    pg_.reset();
  }
  server_process& server() override { return *server_; }

  /// Sends `count` TEXTs to bob without waiting (marks next_mark_...), then reads one answer
  /// per send (DELIVERED or ERR, matched by mark; RECEIVED frames are skipped).
  void send_burst(const session& a, int count) {
    std::vector<int> marks;
    for (int i = 0; i < count; ++i) {
      const int mark = next_mark_++;
      send_outcome o;
      o.content = "outage msg " + std::to_string(mark);
      o.sent_at = clock_type::now();
      a->send_json(ev_text, text_to("bob", o.content, mark));
      sends_[mark] = o;
      marks.push_back(mark);
    }
    for (std::size_t answered = 0; answered < marks.size(); ++answered) {
      // "Never hangs": an answer per send, well within the guard.
      const json::value frame = a->recv_json(15s);
      const auto type = int_field(frame, "type");
      if (type == ev_received || type == ev_sent) {
        --answered;
        continue;
      }
      const json::value& body = body_of(frame);
      const int mark = static_cast<int>(int_field(body, "mark"));
      auto it = sends_.find(mark);
      ASSERT_NE(it, sends_.end()) << "answer for an unknown mark: " << json::serialize(frame);
      send_outcome& o = it->second;
      ASSERT_TRUE(!o.delivered && o.err_code.empty()) << "second answer for mark " << mark;
      o.answered_at = clock_type::now();
      if (type == ev_delivered) {
        o.delivered = true;
        o.message_id = int_field(body, "message_id");
      } else {
        o.err_code = err_code(frame);
      }
    }
  }

  /// Sends the TEXT of an earlier send again, same mark and content (what a client does
  /// after ERR "unavailable"), and records the answer, which must be DELIVERED.
  void resend(const session& a, int mark) {
    send_outcome& o = sends_.at(mark);
    a->send_json(ev_text, text_to("bob", o.content, mark));
    const json::value frame = a->recv_type_skipping(ev_delivered, {ev_received, ev_sent}, 15s);
    const json::value& body = body_of(frame);
    ASSERT_EQ(int_field(body, "mark"), mark);
    o.delivered = true;
    o.err_code.clear();
    o.message_id = int_field(body, "message_id");
  }

  /// A WebSocket login whose user is not cached by the server (the token names a user id
  /// that does not exist, so the server must ask the database): expects ERR `code` and the
  /// close code `close`.
  void expect_login_refused(const std::string& code, std::uint16_t close) {
    auto ws = connect_raw();
    ws->send_text(json::serialize(json::object{{"token", hs256_token(987654321, test_jwt_secret)}}));
    const json::value frame = ws->recv_json(30s);  // "never hangs", not a latency bound
    ASSERT_EQ(int_field(frame, "type"), ev_err) << json::serialize(frame);
    EXPECT_EQ(err_code(frame), code) << json::serialize(frame);
    ASSERT_TRUE(ws->wait_closed(30s));
    EXPECT_EQ(ws->close_code(), close);
  }

  /// Bob's history (paged) holds every acknowledged message exactly once; with
  /// `errs_absent`, none of those that got ERR. Returns how many were acknowledged.
  int verify_history(const session& b, const test_user& alice, const test_user& bob, bool errs_absent) {
    std::map<std::int64_t, int> seen_ids;
    std::set<std::string> seen_contents;
    std::optional<std::int64_t> before;
    for (;;) {
      json::object req{{"user1_id", bob.id}, {"user2_id", alice.id}, {"limit", 50}};
      if (before) req["before_id"] = *before;
      b->send_json(ev_history_request, req);
      const json::value page = body_of(b->recv_type_skipping(ev_history_response, {ev_text}, 10s));
      if (!page.is_array() || page.as_array().empty()) break;
      for (const auto& row : page.as_array()) {
        ++seen_ids[int_field(row, "id")];
        seen_contents.insert(str_field(row, "content"));
      }
      before = int_field(page.as_array().front(), "id");
    }
    int delivered = 0;
    for (const auto& [mark, o] : sends_) {
      if (o.delivered) {
        ++delivered;
        EXPECT_EQ(seen_ids[o.message_id], 1) << "acknowledged mark " << mark << " (id " << o.message_id << ")";
      } else if (errs_absent) {
        EXPECT_EQ(seen_contents.count(o.content), 0u) << "mark " << mark << " got ERR but is in the history";
      }
    }
    EXPECT_EQ(static_cast<int>(seen_ids.size()), delivered) << "history has messages nobody was told about";
    return delivered;
  }

  std::unique_ptr<chatrix::testing::pg_instance> pg_;  // declared first: outlives the server
  std::unique_ptr<server_process> server_;
  std::map<int, send_outcome> sends_;
  int next_mark_ = 1;
};

TEST_F(server_pg_outage, sends_fail_cleanly_while_the_database_is_down_and_recover_without_reconnecting) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);

  for (int i = 0; i < 5 && !HasFatalFailure(); ++i) send_burst(a, 4);
  if (HasFatalFailure()) return;
  for (const auto& [mark, o] : sends_) ASSERT_TRUE(o.delivered) << "before the outage, mark " << mark << ": " << o.err_code;

  // The database goes away for about two seconds while alice keeps sending. down_from and
  // up_from bracket the time it was certainly down (stop() returned, start() not yet called).
  std::atomic<clock_type::rep> down_from{0}, up_from{0};
  std::atomic<bool> outage_over{false};
  std::thread outage([&] {
    std::this_thread::sleep_for(300ms);
    pg_->stop();
    down_from = clock_type::now().time_since_epoch().count();
    std::this_thread::sleep_for(2s);
    up_from = clock_type::now().time_since_epoch().count();
    pg_->start();
    outage_over = true;
  });
  struct joiner {
    std::thread& t;
    ~joiner() {
      if (t.joinable()) t.join();
    }
  } join_outage{outage};

  bool login_checked = false;
  while (!outage_over) {
    send_burst(a, 3);
    if (HasFatalFailure()) return;
    // Once, in the middle of the outage: HTTP login fails with a clear 503.
    if (!login_checked && down_from != 0 && up_from == 0 &&
        clock_type::now() - clock_type::time_point(clock_type::duration(down_from.load())) > 500ms) {
      const auto res = http_request(port(), "POST", "/auth/login",
                                    json::serialize(json::object{{"username", "alice"}, {"password", alice.password}}));
      EXPECT_EQ(res.status, 503) << res.body;
      const auto body = res.json();
      EXPECT_EQ(str_field(body, "code"), "unavailable") << res.body;
      EXPECT_FALSE(str_field(body, "error").empty()) << res.body;
      // A WebSocket login is told to come back later, not that its token is bad.
      expect_login_refused("unavailable", 1013);
      if (HasFatalFailure()) return;
      login_checked = true;
    }
    std::this_thread::sleep_for(20ms);
  }
  outage.join();
  ASSERT_TRUE(login_checked) << "the outage was too short to try a login in it";
  ASSERT_TRUE(server().alive()) << "the server died during the outage";

  // Every send made and answered while the database was certainly down failed with
  // "unavailable"; some of them did happen.
  const clock_type::time_point down(clock_type::duration(down_from.load())), up(clock_type::duration(up_from.load()));
  int failed_while_down = 0;
  for (const auto& [mark, o] : sends_) {
    if (o.sent_at >= down && o.answered_at < up) {
      EXPECT_FALSE(o.delivered) << "mark " << mark << " was acknowledged while PostgreSQL was down";
      if (!o.delivered) {
        EXPECT_EQ(o.err_code, "unavailable") << "mark " << mark;
        ++failed_while_down;
      }
    }
  }
  EXPECT_GT(failed_while_down, 0);

  // Same WebSocket: sends succeed again within a bounded wait (backoff is at most 5 s).
  const auto deadline = clock_type::now() + 30s;
  bool recovered = false;
  while (!recovered && clock_type::now() < deadline) {
    const int mark = next_mark_;
    send_burst(a, 1);
    if (HasFatalFailure()) return;
    recovered = sends_[mark].delivered;
    if (!recovered) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(recovered) << "sends still fail 30 s after PostgreSQL came back";
  const auto recovery_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - up).count();
  const int first_after = next_mark_;
  for (int i = 0; i < 5 && !HasFatalFailure(); ++i) send_burst(a, 4);
  if (HasFatalFailure()) return;
  for (auto it = sends_.find(first_after); it != sends_.end(); ++it)
    EXPECT_TRUE(it->second.delivered) << "after recovery, mark " << it->first << ": " << it->second.err_code;
  EXPECT_TRUE(a->closed() == false && b->closed() == false) << "a session was closed by the outage";
  // Login works again, too.
  EXPECT_NO_THROW(login(port(), "alice", alice.password));

  // The same token, with the database back: now it is a bad token.
  expect_login_refused("unauthorized", 1008);

  // Bob's history holds every acknowledged message exactly once and none that got ERR.
  const int delivered = verify_history(b, alice, bob, true);
  std::cout << "[ summary  ] " << sends_.size() << " sends, " << delivered << " delivered, " << failed_while_down
            << " failed while PostgreSQL was down; sends succeeded again " << recovery_ms
            << " ms after its restart began\n";
}

}  // namespace
}  // namespace chatrix::test

namespace chatrix::test {
namespace {

TEST_F(server_pg_outage, a_stalled_database_fails_sends_and_logins_after_the_timeout_then_recovers) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  for (int i = 0; i < 3 && !HasFatalFailure(); ++i) send_burst(a, 4);
  if (HasFatalFailure()) return;
  for (const auto& [mark, o] : sends_) {
    ASSERT_TRUE(o.delivered) << "before the stall, mark " << mark << ": " << o.err_code;
  }

  // Every PostgreSQL process stopped: the connections stay open, nothing answers. Without
  // a deadline the sends below would wait for ever (send_burst's 15 s per answer fails).
  pg_->pause();
  const int first_during = next_mark_;
  send_burst(a, 5);
  if (HasFatalFailure()) return;
  send_burst(a, 3);  // the writer is reconnecting now: these fail at once
  if (HasFatalFailure()) return;
  std::vector<int> failed;
  for (auto it = sends_.find(first_during); it != sends_.end(); ++it) {
    EXPECT_FALSE(it->second.delivered) << "mark " << it->first << " acknowledged while PostgreSQL was stopped";
    EXPECT_EQ(it->second.err_code, "unavailable") << "mark " << it->first;
    failed.push_back(it->first);
  }
  expect_login_refused("unavailable", 1013);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(server().alive());
  pg_->resume();

  const auto deadline = clock_type::now() + 60s;
  bool recovered = false;
  while (!recovered && clock_type::now() < deadline) {
    const int mark = next_mark_;
    send_burst(a, 1);
    if (HasFatalFailure()) return;
    recovered = sends_[mark].delivered;
    if (!recovered) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(recovered) << "sends still fail 60 s after PostgreSQL was resumed";
  // A failed send's outcome is unknown (the stalled transaction may commit once resumed):
  // resending with the same mark settles it, and stores nothing twice.
  EXPECT_FALSE(failed.empty());
  for (auto& [mark, o] : sends_) {
    if (o.delivered) continue;
    resend(a, mark);
    if (HasFatalFailure()) return;
  }
  EXPECT_FALSE(a->closed() || b->closed()) << "a session was closed by the stall";
  expect_login_refused("unauthorized", 1008);
  verify_history(b, alice, bob, true);
}

}  // namespace
}  // namespace chatrix::test
