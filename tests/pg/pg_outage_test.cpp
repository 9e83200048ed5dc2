// Database outages under a running store: PostgreSQL is stopped (or killed) and started
// again on the same data. Calls must fail promptly with errc::unavailable meanwhile, the
// store must recover by itself, and nothing acknowledged may be lost.

#include "store_contract.hpp"

#include "storage/postgres/postgres_store.hpp"
#include "support/pg_instance.hpp"

#include <gtest/gtest.h>

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace chatrix::storage::testing {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// Short backoff so that recovery is quick to observe.
postgres_options outage_options() {
  postgres_options opts;
  opts.pool_size = 2;
  opts.reconnect_min = std::chrono::milliseconds(50);
  opts.reconnect_max = std::chrono::milliseconds(500);
  opts.connect_timeout = std::chrono::milliseconds(2000);
  return opts;
}

/// Retries `attempt` until it succeeds or `limit` passes; the result of the last try.
template <class T, class Attempt>
result<T> eventually(Attempt attempt, std::chrono::seconds limit = 60s) {
  const auto deadline = clock_type::now() + limit;
  for (;;) {
    result<T> r = attempt();
    if (r.has_value() || clock_type::now() > deadline) return r;
    std::this_thread::sleep_for(50ms);
  }
}

std::string db_name_of(const std::string& url) { return url.substr(url.rfind('/') + 1); }

/// Runs `f` on scope exit, so that a failed assertion still stops the sender threads.
template <class F>
struct on_exit {
  F f;
  ~on_exit() { f(); }
};
template <class F>
on_exit(F) -> on_exit<F>;

class postgres_outage : public ::testing::Test {
 protected:
  chatrix::testing::pg_instance pg_;
};

TEST_F(postgres_outage, calls_fail_promptly_while_down_and_succeed_again_after_restart) {
  const std::string url = pg_.create_database();
  postgres_store s(url, outage_options());
  const user a = await<user>([&](auto done) { s.create_user(new_user{"out_a", "A", "h", 1}, done); }).value();
  const user b = await<user>([&](auto done) { s.create_user(new_user{"out_b", "B", "h", 1}, done); }).value();
  std::vector<message_id> acknowledged;
  for (int i = 0; i < 20; ++i) {
    acknowledged.push_back(
        await<send_result>([&](auto done) { s.append_message(send_request{a.id, b.id, "pre", std::nullopt, i, 0}, done); })
            .value()
            .stored.id);
  }

  pg_.stop();
  // Every kind of call completes, with errc::unavailable; the guard timeout is generous on
  // purpose (the point is "never hangs", not a latency bound).
  for (int round = 0; round < 3; ++round) {
    auto w = await<send_result>(
        [&](auto done) { s.append_message(send_request{a.id, b.id, "during", std::nullopt, 100, 0}, done); }, 20s);
    ASSERT_FALSE(w.has_value()) << "acknowledged while the database is down";
    EXPECT_EQ(w.error().code, errc::unavailable) << w.error().message;
    auto u = await<user>([&](auto done) { s.create_user(new_user{"out_c", "C", "h", 1}, done); }, 20s);
    ASSERT_FALSE(u.has_value());
    EXPECT_EQ(u.error().code, errc::unavailable);
    auto r = await<std::vector<message>>([&](auto done) { s.history(a.id, b.id, std::nullopt, 10, done); }, 20s);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, errc::unavailable) << r.error().message;
    auto l = await<std::optional<user_credentials>>([&](auto done) { s.find_user_by_name("out_a", done); }, 20s);
    ASSERT_FALSE(l.has_value());
    EXPECT_EQ(l.error().code, errc::unavailable);
    std::this_thread::sleep_for(200ms);  // across a few reconnect attempts
  }

  pg_.start();
  // The same store object recovers by itself.
  auto written = eventually<send_result>([&] {
    return await<send_result>(
        [&](auto done) { s.append_message(send_request{a.id, b.id, "post", std::nullopt, 200, 0}, done); }, 20s);
  });
  ASSERT_TRUE(written.has_value()) << written.error().message;
  EXPECT_EQ(written->stored.seq, 21) << "nothing was written during the outage";
  auto read = eventually<std::vector<message>>([&] {
    return await<std::vector<message>>([&](auto done) { s.history(a.id, b.id, std::nullopt, 100, done); }, 20s);
  });
  ASSERT_TRUE(read.has_value()) << read.error().message;
  ASSERT_EQ(read->size(), 21u);
  std::set<message_id> stored;
  for (const message& m : *read) stored.insert(m.id);
  for (const message_id id : acknowledged) EXPECT_TRUE(stored.count(id)) << "acknowledged message " << id << " lost";
  s.shutdown();
}

/// Several threads append without pause while PostgreSQL is restarted (or killed) under
/// them. Afterwards: every acknowledged message is stored, and no write was acknowledged
/// while the server was down.
void restart_under_traffic(chatrix::testing::pg_instance& pg, bool crash) {
  const std::string url = pg.create_database();
  postgres_store s(url, outage_options());
  const user a = await<user>([&](auto done) { s.create_user(new_user{"tr_a", "A", "h", 1}, done); }).value();
  const user b = await<user>([&](auto done) { s.create_user(new_user{"tr_b", "B", "h", 1}, done); }).value();

  struct ack {
    message_id id;
    std::string content;
    clock_type::time_point at;
  };
  std::mutex mutex;
  std::vector<ack> acks;
  std::atomic<int> failures{0};
  std::atomic<int> in_flight{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < 3; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        // Bounded in-flight writes per thread, so that the queue never overflows.
        while (in_flight.load() > 300 && !stop.load()) std::this_thread::sleep_for(1ms);
        ++in_flight;
        std::string content = std::to_string(t) + ":" + std::to_string(i);
        s.append_message(send_request{a.id, b.id, content, std::nullopt, i, 0},
                         [&, content](result<send_result> r) {
                           if (r) {
                             std::lock_guard lock(mutex);
                             acks.push_back({r->stored.id, content, clock_type::now()});
                           } else {
                             ++failures;
                           }
                           --in_flight;
                         });
        if (i % 50 == 0) std::this_thread::sleep_for(1ms);
      }
    });
  }
  on_exit stop_senders{[&] {
    stop = true;
    for (auto& t : senders) {
      if (t.joinable()) t.join();
    }
    for (int i = 0; i < 600 && in_flight.load() > 0; ++i) std::this_thread::sleep_for(50ms);
  }};
  std::this_thread::sleep_for(500ms);
  if (crash) {
    pg.kill();
  } else {
    pg.stop();
  }
  const auto down_at = clock_type::now();
  std::this_thread::sleep_for(1500ms);
  const auto restart_at = clock_type::now();
  pg.start();
  // Traffic until writes have been acknowledged again for a while.
  const auto deadline = clock_type::now() + 60s;
  for (;;) {
    std::this_thread::sleep_for(100ms);
    std::lock_guard lock(mutex);
    if (!acks.empty() && acks.back().at > restart_at + 500ms) break;
    ASSERT_LT(clock_type::now(), deadline) << "no write succeeded after the restart";
  }
  stop_senders.f();
  ASSERT_EQ(in_flight.load(), 0) << "callbacks missing";
  s.shutdown();

  EXPECT_GT(failures.load(), 0) << "the outage was noticed";
  // A write acknowledged after the server was down (plus slack for a callback already on
  // its way) and before it came back would have been acknowledged without a database.
  for (const ack& k : acks) {
    EXPECT_FALSE(k.at > down_at + 300ms && k.at < restart_at) << "acknowledged during the outage: " << k.content;
  }
  // Every acknowledged write is there, with its content.
  postgres_store check(url, outage_options());
  std::set<std::pair<message_id, std::string>> stored;
  std::optional<message_id> before;
  for (;;) {
    auto page = await<std::vector<message>>(
        [&](auto done) { check.history(a.id, b.id, before, query_limits::max_history_page, done); });
    ASSERT_TRUE(page.has_value()) << page.error().message;
    if (page->empty()) break;
    for (const message& m : *page) stored.insert({m.id, m.content});
    before = page->back().id;
  }
  std::size_t missing = 0;
  for (const ack& k : acks) missing += stored.count({k.id, k.content}) == 0 ? 1 : 0;
  EXPECT_EQ(missing, 0u) << "of " << acks.size() << " acknowledged writes";
  // Sequence numbers stayed gap-free across the outage.
  EXPECT_EQ(pg.query(db_name_of(url), "SELECT max(seq) = count(*) FROM messages"), "t");
  check.shutdown();
}

/// A short operation timeout, so that a stalled database is given up on quickly.
postgres_options stall_options() {
  postgres_options opts = outage_options();
  opts.timeout = std::chrono::milliseconds(1000);
  opts.connect_timeout = std::chrono::milliseconds(1000);
  return opts;
}

/// Sends `count` numbered messages a -> b with marks (prefix + i), without waiting, and
/// returns how each ended. The guard is generous: the point is "never hangs".
std::vector<result<send_result>> send_marked(postgres_store& s, const user& a, const user& b, const std::string& prefix,
                                             int count) {
  completion_log<send_result> log;
  for (int i = 0; i < count; ++i) {
    s.append_message(send_request{a.id, b.id, prefix + std::to_string(i), prefix + std::to_string(i), 1000 + i, 600000},
                     log.make(i));
  }
  EXPECT_TRUE(log.wait_for(static_cast<std::size_t>(count), 60s)) << "calls hang on a stalled database";
  std::vector<result<send_result>> out(static_cast<std::size_t>(count),
                                       result<send_result>(make_error(errc::internal, "no callback")));
  for (const auto& e : log.entries()) out[static_cast<std::size_t>(e.tag)] = e.outcome;
  return out;
}

/// While the database is stalled (by `stall`, undone by `unstall`): sends and reads fail
/// with errc::unavailable instead of waiting forever; afterwards the same store recovers,
/// and a retry of every failed send (same mark and content) leaves each message stored
/// exactly once, whether or not its first attempt had committed after all.
template <class Stall, class Unstall>
void stall_and_recover(chatrix::testing::pg_instance& pg, Stall stall, Unstall unstall) {
  const std::string url = pg.create_database();
  postgres_store s(url, stall_options());
  const user a = await<user>([&](auto done) { s.create_user(new_user{"st_a", "A", "h", 1}, done); }).value();
  const user b = await<user>([&](auto done) { s.create_user(new_user{"st_b", "B", "h", 1}, done); }).value();
  for (const auto& r : send_marked(s, a, b, "pre-", 10)) ASSERT_TRUE(r.has_value()) << r.error().message;

  bool stalled = true;
  stall(db_name_of(url));
  on_exit undo{[&] {
    if (stalled) unstall();
  }};
  // The batch in flight waits for its deadline; everything queued behind it fails with it.
  auto during = send_marked(s, a, b, "during-", 20);
  for (const auto& r : during) {
    ASSERT_FALSE(r.has_value()) << "acknowledged while the database is stalled";
    EXPECT_EQ(r.error().code, errc::unavailable) << r.error().message;
  }
  auto later = await<send_result>(
      [&](auto done) { s.append_message(send_request{a.id, b.id, "later", "later", 2000, 600000}, done); }, 60s);
  ASSERT_FALSE(later.has_value());
  EXPECT_EQ(later.error().code, errc::unavailable);
  auto h = await<std::vector<message>>([&](auto done) { s.history(a.id, b.id, std::nullopt, 10, done); }, 60s);
  ASSERT_FALSE(h.has_value());
  EXPECT_EQ(h.error().code, errc::unavailable) << h.error().message;
  auto l = await<std::optional<user_credentials>>([&](auto done) { s.find_user_by_name("st_a", done); }, 60s);
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(l.error().code, errc::unavailable) << l.error().message;

  stalled = false;
  unstall();
  auto fresh = eventually<send_result>([&] {
    return await<send_result>(
        [&](auto done) { s.append_message(send_request{a.id, b.id, "after", std::nullopt, 3000, 0}, done); }, 60s);
  });
  ASSERT_TRUE(fresh.has_value()) << fresh.error().message;
  // The client's side of "outcome unknown": resend with the same mark.
  auto retried = send_marked(s, a, b, "during-", 20);
  for (const auto& r : retried) ASSERT_TRUE(r.has_value()) << r.error().message;
  auto history = eventually<std::vector<message>>([&] {
    return await<std::vector<message>>([&](auto done) { s.history(a.id, b.id, std::nullopt, 100, done); }, 60s);
  });
  ASSERT_TRUE(history.has_value()) << history.error().message;
  std::map<std::string, int> copies;
  for (const message& m : *history) ++copies[m.content];
  for (int i = 0; i < 10; ++i) EXPECT_EQ(copies["pre-" + std::to_string(i)], 1) << "acknowledged before the stall";
  for (int i = 0; i < 20; ++i) EXPECT_EQ(copies["during-" + std::to_string(i)], 1) << "retried, stored once";
  EXPECT_EQ(copies["after"], 1);
  EXPECT_EQ(pg.query(db_name_of(url), "SELECT max(seq) = count(*) FROM messages"), "t");
  s.shutdown();
}

TEST_F(postgres_outage, a_stopped_database_fails_calls_after_the_timeout_and_recovers) {
  // SIGSTOP to every PostgreSQL process: connections stay open, nothing answers, and new
  // connections are accepted by the kernel but never served.
  stall_and_recover(
      pg_, [&](const std::string&) { pg_.pause(); }, [&] { pg_.resume(); });
}

TEST_F(postgres_outage, a_lock_held_elsewhere_fails_calls_after_the_timeout_and_recovers) {
  // Another session holds a lock every write and read needs: the database answers
  // everything else, but the store's statements wait.
  struct conn_deleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
  };
  std::unique_ptr<PGconn, conn_deleter> holder;
  stall_and_recover(
      pg_,
      [&](const std::string& database) {
        holder.reset(PQconnectdb(pg_.key_value_conninfo(database).c_str()));
        ASSERT_EQ(PQstatus(holder.get()), CONNECTION_OK) << PQerrorMessage(holder.get());
        PGresult* r = PQexec(holder.get(), "BEGIN; LOCK TABLE users, messages IN ACCESS EXCLUSIVE MODE");
        ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
        PQclear(r);
      },
      [&] { holder.reset(); });
}

TEST_F(postgres_outage, a_restart_under_traffic_loses_nothing_acknowledged) { restart_under_traffic(pg_, false); }

TEST_F(postgres_outage, a_crash_under_traffic_loses_nothing_acknowledged) { restart_under_traffic(pg_, true); }

}  // namespace
}  // namespace chatrix::storage::testing
