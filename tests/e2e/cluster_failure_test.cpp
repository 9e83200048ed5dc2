// Failures under traffic in a three-node cluster: kill -9 of the recipient's or the sender's
// node, Redis killed and restarted, SIGTERM of a node. Nothing acknowledged (DELIVERED) may be
// lost, and receipts, read marks and SENT copies held back by an outage arrive after it.
#include "e2e/cluster_fixture.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <sys/wait.h>

namespace chatrix::test {
namespace {

using ids = std::vector<std::int64_t>;

/// A sender on its own thread and connection: TEXTs "k <n>" with mark n (n = 0, 1, ...), one
/// every `period`, until stop_and_wait(); records the DELIVERED id of every mark and every
/// ERR. The session is used only by that thread while it runs.
class paced_sender {
 public:
  paced_sender(session s, std::string to, std::chrono::milliseconds period)
      : s_(std::move(s)), to_(std::move(to)), period_(period) {
    thread_ = std::thread([this] { run(); });
  }
  ~paced_sender() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  int sent() const { return sent_.load(); }
  /// The highest mark acknowledged so far (-1: none).
  std::int64_t max_delivered_mark() const { return max_mark_.load(); }

  /// Stops sending and waits (up to `timeout`) for an answer to every send. Afterwards the
  /// results below may be read.
  void stop_and_wait(std::chrono::milliseconds timeout) {
    wait_for_ = timeout;
    stop_ = true;
    thread_.join();
  }
  const std::map<std::int64_t, std::int64_t>& delivered() const { return delivered_; }  // mark → id
  const std::vector<std::string>& errors() const { return errors_; }
  bool closed() const { return s_->closed(); }

 private:
  void on_frame(const json::value& f) {
    const int t = type_of(f);
    if (t == ev_delivered) {
      const auto mark = to_i64(body_of(f).at("mark"));
      delivered_[mark] = int_field(body_of(f), "message_id");
      if (mark > max_mark_) max_mark_ = mark;
    } else if (t != ev_received) {
      errors_.push_back(json::serialize(f));
    }
  }
  void run() {
    const auto handle = [this](const json::value& f) { on_frame(f); };
    try {
      while (!stop_) {
        const int n = sent_.load();
        s_->send_json(ev_text, text_to(to_, "k " + std::to_string(n), n));
        sent_ = n + 1;
        pump(*s_, handle, [] { return false; }, period_);
      }
      pump(*s_, handle, [this] { return delivered_.size() + errors_.size() >= static_cast<std::size_t>(sent_.load()); },
           wait_for_);
    } catch (const std::exception& e) {
      errors_.push_back(std::string("sender: ") + e.what());
    }
  }

  session s_;
  std::string to_;
  std::chrono::milliseconds period_;
  std::chrono::milliseconds wait_for_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> sent_{0};
  std::atomic<std::int64_t> max_mark_{-1};
  std::map<std::int64_t, std::int64_t> delivered_;
  std::vector<std::string> errors_;
  std::thread thread_;
};

/// What one recipient connection received: message ids in arrival order, and each TEXT's
/// index (from its content) checked against the id the sender was given for that mark.
struct inbox {
  ids received;
  std::map<std::int64_t, std::int64_t> index_of;  // id → n of "k <n>"
  std::vector<std::string> unexpected;

  /// Takes a TEXT (anything else is unexpected); with `ack`, confirms it on `ws`.
  void take(const json::value& f, ws_client* ack) {
    if (type_of(f) != ev_text) {
      unexpected.push_back(json::serialize(f));
      return;
    }
    const auto id = int_field(body_of(f), "msg_id");
    received.push_back(id);
    index_of[id] = index_in(str_field(body_of(f), "content"), "k ");
    if (ack && !ack->closed()) ack->send_json(ev_ack, json::object{{"message_ids", json::array{id}}});
  }
  std::set<std::int64_t> distinct() const { return {received.begin(), received.end()}; }
};

/// Ids acknowledged to the sender that none of `boxes` received.
ids missing(const paced_sender& sender, std::initializer_list<const inbox*> boxes) {
  std::set<std::int64_t> got;
  for (const auto* b : boxes) got.insert(b->received.begin(), b->received.end());
  ids out;
  for (const auto& [mark, id] : sender.delivered())
    if (!got.contains(id)) out.push_back(id);
  return out;
}

/// Each id at most once on one connection, in increasing order: one sender's messages reach
/// each device in the order sent (ids grow with seq within a conversation).
void expect_once_in_order(const inbox& box, const char* what) {
  EXPECT_EQ(box.distinct().size(), box.received.size()) << what << ": a message arrived twice on one connection";
  EXPECT_TRUE(std::is_sorted(box.received.begin(), box.received.end())) << what << ": messages out of order";
  EXPECT_TRUE(box.unexpected.empty()) << what << ": unexpected frame " << box.unexpected.front();
}

/// expect_once_in_order, and every message one the sender got DELIVERED for, under the id it
/// was given.
void expect_clean(const inbox& box, const paced_sender& sender, const char* what) {
  expect_once_in_order(box, what);
  const auto& id_of_mark = sender.delivered();
  for (const auto& [id, n] : box.index_of) {
    auto it = id_of_mark.find(n);
    if (it == id_of_mark.end()) {
      ADD_FAILURE() << what << ": message " << id << " (\"k " << n << "\") was never acknowledged to the sender";
    } else {
      EXPECT_EQ(it->second, id) << what << ": \"k " << n << "\" arrived with another id";
    }
  }
}

TEST_F(cluster_e2e, kill9_of_recipient_node_under_traffic_loses_nothing) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  // Bob confirms each message with ACK: a message his node wrote but he never confirmed
  // stays pending and may come again on the next connection (and only then).
  auto on_c = connect(bob, 2, /*acks=*/true);
  paced_sender sender(connect(alice, 0), "bob", 4ms);

  inbox old_box;
  const auto take_old = [&](const json::value& f) { old_box.take(f, on_c.ws.get()); };
  ASSERT_TRUE(pump(*on_c, take_old, [&] { return old_box.received.size() >= 100; }, 30s))
      << "bob received " << old_box.received.size() << " messages on node c before the kill";

  node(2).expect_dead = true;
  node(2).proc->kill_hard();
  const int sent_at_kill = sender.sent();
  // Whatever node c wrote before it died is still readable, then the connection ends.
  pump(*on_c, take_old, [] { return false; }, 15s);
  ASSERT_TRUE(on_c->closed()) << "bob's connection to the killed node c did not end";

  // Bob's client reconnects through the load balancer and lands on node b.
  inbox new_box;
  auto on_b = connect(bob, 1, /*acks=*/true);
  const auto take_new = [&](const json::value& f) { new_box.take(f, on_b.ws.get()); };
  // Traffic goes on for a while after the reconnect.
  pump(*on_b, take_new, [&] { return sender.sent() >= sent_at_kill + 150; }, 30s);
  sender.stop_and_wait(30s);
  EXPECT_TRUE(sender.errors().empty()) << "sender got " << sender.errors().size() << " errors, first: " << sender.errors().front();
  EXPECT_EQ(sender.delivered().size(), static_cast<std::size_t>(sender.sent())) << "sends without DELIVERED";

  pump(*on_b, take_new, [&] { return missing(sender, {&old_box, &new_box}).empty(); }, 20s);
  const auto lost = missing(sender, {&old_box, &new_box});
  EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged messages never reached bob, first id " << lost.front();
  expect_clean(old_box, sender, "connection to node c");
  expect_clean(new_box, sender, "connection to node b");
  // Nothing more comes (a late resync must not repeat anything on this connection).
  on_b->expect_no_frame(500ms);
  EXPECT_FALSE(sender.closed()) << "alice's connection to node a was closed";
}

TEST_F(cluster_e2e, redis_killed_and_restarted_under_traffic_loses_nothing) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto on_b = connect(bob, 1);
  // 20 ms apart: even with the slowest reconnect (backoff up to 5 s) the outage holds back
  // fewer messages than one pending page; the backlog beyond a page is the next test's.
  paced_sender sender(connect(alice, 0), "bob", 20ms);

  inbox box;
  const auto take = [&](const json::value& f) { box.take(f, nullptr); };
  ASSERT_TRUE(pump(*on_b, take, [&] { return box.received.size() >= 30; }, 30s))
      << "bob received " << box.received.size() << " messages before the outage";

  redis().kill();
  const int sent_at_kill = sender.sent();  // marks from here on were sent with Redis down
  pump(*on_b, take, [] { return false; }, 2s);
  // The database is the source of truth: sends are acknowledged with Redis gone.
  EXPECT_GE(sender.max_delivered_mark(), sent_at_kill) << "no message sent during the outage was acknowledged during it";
  redis().start();  // same port, empty (no persistence): the nodes must re-register everything

  // Traffic goes on across the recovery.
  pump(*on_b, take, [] { return false; }, 1s);
  sender.stop_and_wait(30s);
  EXPECT_TRUE(sender.errors().empty()) << "sender got " << sender.errors().size() << " errors, first: " << sender.errors().front();
  EXPECT_EQ(sender.delivered().size(), static_cast<std::size_t>(sender.sent())) << "sends without DELIVERED";

  // Bob stays connected: the messages the outage kept from him come within seconds of Redis
  // returning (his node resyncs from the database), without a reconnect.
  pump(*on_b, take, [&] { return missing(sender, {&box}).empty(); }, 20s);
  EXPECT_FALSE(on_b->closed()) << "bob's connection ended (close code " << on_b->close_code() << ")";
  const auto lost = missing(sender, {&box});
  EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged messages did not reach bob within 20 s, first id "
                            << lost.front();
  // Live messages that come after the outage wait until the ones it held back have gone out.
  expect_once_in_order(box, "bob's connection");

  // The registry is rebuilt too.
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(wait_listing(i, [](const cluster_listing& l) { return l.nodes.size() == 3; }, 15s))
        << "node " << node(i).name << " does not list three nodes after Redis came back";
}

// The same without concurrency, and with more messages held back by the outage than one
// page of the pending query (500): all of them must still reach the connected recipient.
TEST_F(cluster_e2e, redis_outage_backlog_larger_than_a_page_reaches_connected_recipient) {
  constexpr int count = 700;
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto a = connect(alice, 0);
  auto b = connect(bob, 1);

  redis().kill();
  for (int i = 0; i < count; ++i) a->send_json(ev_text, text_to("bob", "k " + std::to_string(i), i));
  ids delivered;
  pump(
      *a,
      [&](const json::value& f) {
        if (type_of(f) == ev_delivered) delivered.push_back(int_field(body_of(f), "message_id"));
        else if (type_of(f) != ev_received) ADD_FAILURE() << "unexpected frame for the sender: " << json::serialize(f);
      },
      [&] { return delivered.size() >= count; }, 60s);
  ASSERT_EQ(delivered.size(), std::size_t{count}) << "sends were not acknowledged while Redis was down";
  redis().start();

  std::set<std::int64_t> got;
  ids order;
  pump(
      *b,
      [&](const json::value& f) {
        ASSERT_EQ(type_of(f), ev_text) << json::serialize(f);
        const auto id = int_field(body_of(f), "msg_id");
        EXPECT_TRUE(got.insert(id).second) << "message " << id << " arrived twice";
        order.push_back(id);
      },
      [&] { return got.size() >= count; }, 20s);
  EXPECT_FALSE(b->closed()) << "bob's connection ended (close code " << b->close_code() << ")";
  EXPECT_EQ(got.size(), std::size_t{count}) << "acknowledged messages did not reach bob within 20 s of Redis returning";
  const std::set<std::int64_t> acknowledged(delivered.begin(), delivered.end());
  EXPECT_TRUE(std::includes(acknowledged.begin(), acknowledged.end(), got.begin(), got.end()))
      << "bob got messages that were never acknowledged";
  // Nothing live competed with the resync here, so the backlog comes oldest first.
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end())) << "the backlog came out of order";
}

/// Every message id of the conversation of `me` and `peer`, read through HISTORY on `ws`;
/// other frames go to `other`.
std::set<std::int64_t> conversation_ids(ws_client& ws, std::int64_t me, std::int64_t peer,
                                        const std::function<void(const json::value&)>& other) {
  std::set<std::int64_t> out;
  std::optional<std::int64_t> before;
  for (;;) {
    json::object req{{"user1_id", me}, {"user2_id", peer}, {"limit", 200}};
    if (before) req["before_id"] = *before;
    ws.send_json(ev_history_request, req);
    std::optional<json::value> page;
    pump(
        ws,
        [&](const json::value& f) {
          if (type_of(f) == ev_history_response) page = body_of(f);
          else other(f);
        },
        [&] { return page.has_value(); }, 10s);
    if (!page) throw std::runtime_error("no HISTORY answer");
    if (page->is_null()) return out;
    const auto& rows = page->as_array();
    for (const auto& r : rows) {
      const auto id = int_field(r, "id");
      out.insert(id);
      if (!before || id < *before) before = id;
    }
    if (rows.size() < 200) return out;
  }
}

// The sender's node dies after storing and acknowledging messages it has not published yet:
// Redis holds its writes (CLIENT PAUSE WRITE holds every PUBLISH) when it is killed, so they
// die with it. The recipient stays connected to another node: it gets them when its node sees
// the dead node's lease run out (a resync), without reconnecting.
TEST_F(cluster_e2e, kill9_of_sender_node_with_unpublished_messages_reaches_connected_recipient) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto on_b = connect(bob, 1);
  paced_sender sender(connect(alice, 0), "bob", 10ms);

  inbox box;
  const auto take = [&](const json::value& f) { box.take(f, nullptr); };
  ASSERT_TRUE(pump(*on_b, take, [&] { return box.received.size() >= 30; }, 30s))
      << "bob received " << box.received.size() << " messages before the kill";

  // 3 s: under the nodes' 5 s reply timeout, so no link is dropped for it.
  const auto paused = redis().command({"CLIENT", "PAUSE", "3000", "WRITE"});
  ASSERT_FALSE(paused.is_error()) << paused.str;
  const int sent_at_pause = sender.sent();
  pump(*on_b, take, [&] { return sender.max_delivered_mark() >= sent_at_pause + 20; }, 2s);
  node(0).expect_dead = true;
  node(0).proc->kill_hard();
  sender.stop_and_wait(5s);  // its connection ends with the node
  ASSERT_GE(sender.max_delivered_mark(), sent_at_pause)
      << "nothing was acknowledged while Redis held the node's publishes";
  const auto held_back = missing(sender, {&box}).size();

  // Lease (10 s) + a heartbeat + the resync; the deadline is only a failure guard.
  pump(*on_b, take, [&] { return missing(sender, {&box}).empty(); }, 45s);
  EXPECT_FALSE(on_b->closed()) << "bob's connection ended (close code " << on_b->close_code() << ")";
  const auto lost = missing(sender, {&box});
  EXPECT_TRUE(lost.empty()) << lost.size() << " of " << held_back
                            << " acknowledged messages held back at the kill never reached bob, first id "
                            << lost.front();
  // Messages stored but not yet acknowledged when the node died may come too (pending).
  expect_once_in_order(box, "bob's connection to node b");
}

// SIGTERM of the sender's node in the middle of a burst: the node stops reading, but every
// message it took is stored, acknowledged and routed before it closes the session with 1001,
// so a recipient connected elsewhere has every stored message without reconnecting.
TEST_F(cluster_e2e, sigterm_of_sender_node_acknowledges_and_routes_every_stored_message) {
  constexpr int burst = 400;
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto a = connect(alice, 0);
  auto b = connect(bob, 1);

  for (int i = 0; i < burst; ++i) a->send_json(ev_text, text_to("bob", "k " + std::to_string(i), i));
  std::map<std::int64_t, std::int64_t> acked;  // mark → id
  std::vector<std::string> unexpected;
  const auto on_alice = [&](const json::value& f) {
    if (type_of(f) == ev_delivered)
      acked[to_i64(body_of(f).at("mark"))] = int_field(body_of(f), "message_id");
    else if (type_of(f) != ev_received)
      unexpected.push_back(json::serialize(f));
  };
  // Mid-burst: the node is taking and storing messages when the signal comes.
  ASSERT_TRUE(pump(*a, on_alice, [&] { return !acked.empty(); }, 10s));

  node(0).expect_dead = true;
  const auto st = node(0).proc->stop(10s);
  ASSERT_TRUE(st.has_value()) << "node a did not exit within 10 s of SIGTERM (it was killed)";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "node a's exit status: " << *st;
  pump(*a, on_alice, [] { return false; }, 5s);  // the rest, up to the close
  EXPECT_TRUE(a->closed());
  EXPECT_EQ(a->close_code(), 1001);
  EXPECT_TRUE(unexpected.empty()) << "alice got " << unexpected.front();

  inbox box;
  const auto take = [&](const json::value& f) { box.take(f, nullptr); };
  const auto all_acked = [&] {
    const auto got = box.distinct();
    return std::all_of(acked.begin(), acked.end(), [&](const auto& m) { return got.contains(m.second); });
  };
  pump(*b, take, all_acked, 20s);
  EXPECT_TRUE(all_acked()) << "acknowledged messages did not reach bob";
  // Every message that was stored was acknowledged (none was cut off by the shutdown) and
  // reached bob live.
  std::set<std::int64_t> acked_ids;
  for (const auto& [mark, id] : acked) acked_ids.insert(id);
  const auto stored = conversation_ids(*b, bob.id, alice.id, take);
  EXPECT_EQ(stored, acked_ids) << "stored " << stored.size() << ", acknowledged " << acked_ids.size() << " of "
                               << burst << " sent";
  const auto got = box.distinct();
  for (auto id : stored) EXPECT_TRUE(got.contains(id)) << "stored message " << id << " did not reach bob live";
  expect_once_in_order(box, "bob's connection");
  EXPECT_FALSE(b->closed());
}

// Receipts, read marks and SENT copies have no pending state a resync could find: a node
// that cannot route them holds them (bounded) and sends them when Redis is back.
TEST_F(cluster_e2e, receipts_read_marks_and_sent_copies_from_a_redis_outage_arrive_after_it) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto a1 = connect(alice, 0);
  auto a2 = connect(alice, 2);

  redis().kill();
  a1->send_json(ev_text, text_to("bob", "sent during the outage", 1));
  const auto id = int_field(body_of(a1->recv_type(ev_delivered, 10s)), "message_id");
  // Bob connects to node b meanwhile: the database gives him the message, node b records the
  // delivery, and bob reads it. Node a cannot tell alice's other device (SENT), node b cannot
  // tell alice (RECEIVED, MARK_READ).
  auto b = connect(bob, 1);
  EXPECT_EQ(int_field(body_of(b->recv_type(ev_text, 10s)), "msg_id"), id);
  // HISTORY answers only after the read loop took the frames before it; poll until the
  // receipt is recorded, so that it is not part of the mark-read (which would make it none).
  for (int i = 0;; ++i) {
    b->send_json(ev_history_request, json::object{{"user1_id", bob.id}, {"user2_id", alice.id}});
    const auto rows = body_of(b->recv_type(ev_history_response, 10s));
    if (rows.is_array() && !rows.as_array().empty() && rows.as_array()[0].as_object().if_contains("delivered") &&
        rows.as_array()[0].at("delivered").as_bool())
      break;
    ASSERT_LT(i, 100) << "the delivery to bob was not recorded";
    std::this_thread::sleep_for(50ms);
  }
  b->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{id}}});
  b->send_json(ev_history_request, json::object{{"user1_id", bob.id}, {"user2_id", alice.id}});
  b->recv_type(ev_history_response, 10s);  // the mark-read is done (and its notice held)
  redis().start();  // empty

  std::map<int, std::vector<std::int64_t>> on_a1, on_a2;  // type → message ids, per device
  const auto record = [](std::map<int, std::vector<std::int64_t>>& into) {
    return [&into](const json::value& f) {
      const int t = type_of(f);
      if (t == ev_received || t == ev_mark_read) {
        for (auto i : ids_of(body_of(f))) into[t].push_back(i);
      } else if (t == ev_sent) {
        into[t].push_back(int_field(body_of(f), "msg_id"));
      } else {
        into[-1].push_back(t);
      }
    };
  };
  const auto complete = [&](std::map<int, std::vector<std::int64_t>>& m, bool sent) {
    return !m[ev_received].empty() && !m[ev_mark_read].empty() && (!sent || !m[ev_sent].empty());
  };
  pump(*a1, record(on_a1), [&] { return complete(on_a1, false); }, 30s);
  pump(*a2, record(on_a2), [&] { return complete(on_a2, true); }, 30s);
  // Once each: every node says hello after the outage and gets replays, and drops repeats.
  pump(*a1, record(on_a1), [] { return false; }, 2s);
  pump(*a2, record(on_a2), [] { return false; }, 1s);
  const ids one{id};
  EXPECT_EQ(on_a1[ev_received], one);
  EXPECT_EQ(on_a1[ev_mark_read], one);
  EXPECT_TRUE(on_a1[ev_sent].empty()) << "the sending device got a SENT copy of its own message";
  EXPECT_EQ(on_a2[ev_sent], one);
  EXPECT_EQ(on_a2[ev_received], one);
  EXPECT_EQ(on_a2[ev_mark_read], one);
  EXPECT_TRUE(on_a1[-1].empty() && on_a2[-1].empty()) << "unexpected frames";
}

TEST_F(cluster_e2e, sigterm_closes_sessions_with_1001_and_exits_zero) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  const auto carol = make_user("carol");
  auto a = connect(alice, 0);
  auto b = connect(bob, 2);
  auto c = connect(carol, 2);

  // Documented bound (docs/cluster.md): up to 5 s for sessions to close, 1 s to deregister,
  // then the store's queued writes: 10 s is the failure guard.
  node(2).expect_dead = true;
  const auto st = node(2).proc->stop(10s);
  ASSERT_TRUE(st.has_value()) << "node c did not exit within 10 s of SIGTERM (it was killed)";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "node c's exit status: " << *st;
  for (auto* s : {&b, &c}) {
    EXPECT_TRUE((*s)->wait_closed(5s));
    EXPECT_EQ((*s)->close_code(), 1001) << "sessions must be closed with 1001 (going away)";
  }
  EXPECT_FALSE(a->closed()) << "a session on another node was closed";

  // Bob's client moves to another node and gets what was sent meanwhile.
  a->send_json(ev_text, text_to("bob", "while you were moving", 1));
  const auto id = int_field(body_of(a->recv_type(ev_delivered, 10s)), "message_id");
  auto moved = connect(bob, 1);
  const auto t = body_of(moved->recv_type(ev_text, 10s));
  EXPECT_EQ(int_field(t, "msg_id"), id);
  EXPECT_EQ(str_field(t, "content"), "while you were moving");
  EXPECT_EQ(ids_of(body_of(a->recv_type(ev_received, 10s))), ids{id});
}

}  // namespace
}  // namespace chatrix::test
