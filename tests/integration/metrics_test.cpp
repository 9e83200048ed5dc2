// /metrics beyond the counters (docs/operations.md, "Metrics"): the send and store histograms
// fill as messages flow, errors are counted by code (ERR frames and HTTP answers alike),
// WebSocket connections move between states, and in cluster mode the bus's series follow a
// second node and a cross-node message.
#include "support/chat_fixture.hpp"
#include "support/metrics_probe.hpp"
#include "support/test_store.hpp"

#include <thread>

namespace chatrix::test {
namespace {

using std::chrono::milliseconds;

/// Polls `name` until it equals `expected` (gauges go down as well as up); returns the last value.
std::int64_t wait_for_exactly(std::uint16_t port, const std::string& name, std::int64_t expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    const auto value = metric_value(port, name);
    if (value == expected || std::chrono::steady_clock::now() >= deadline) return value;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::string state_series(const char* state) {
  return std::string("chatrix_websocket_connections{state=\"") + state + "\"}";
}

class metrics_series : public chat_test {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"AUTH_TIMEOUT", "1"}}; }
};

TEST_F(metrics_series, sent_messages_fill_the_send_latency_and_store_commit_histograms) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  const auto commits_before = metric_value(port(), "chatrix_store_commit_seconds_count");
  const auto writes_before = metric_value(port(), "chatrix_store_commit_writes_sum");
  EXPECT_EQ(metric_value(port(), "chatrix_send_stored_seconds_count"), 0);

  constexpr int messages = 5;
  for (int i = 0; i < messages; ++i) send_and_confirm(a, text_to("bob", "hello " + std::to_string(i), i));
  for (int i = 0; i < messages; ++i) b->recv_type_skipping(ev_text, {ev_received}, 10s);

  // Each observed before its frame was queued, so before the client could read it.
  EXPECT_EQ(metric_value(port(), "chatrix_send_stored_seconds_count"), messages);
  EXPECT_GT(metric_real(port(), "chatrix_send_stored_seconds_sum"), 0.0);
  EXPECT_EQ(metric_value(port(), "chatrix_send_stored_seconds_bucket{le=\"+Inf\"}"), messages);
  EXPECT_EQ(metric_value(port(), "chatrix_send_delivered_seconds_count"), messages);
  EXPECT_GT(metric_real(port(), "chatrix_send_delivered_seconds_sum"), 0.0);
  // Delivered after stored: the recipient's frame is queued after the store's answer.
  EXPECT_GE(metric_real(port(), "chatrix_send_delivered_seconds_sum"),
            metric_real(port(), "chatrix_send_stored_seconds_sum") * 0.5);

  // The five appends, in one commit or several, plus Bob's receipts (stored a little later).
  EXPECT_GE(metric_value(port(), "chatrix_store_commit_seconds_count"), commits_before + 1);
  EXPECT_GT(metric_real(port(), "chatrix_store_commit_seconds_sum"), 0.0);
  EXPECT_GE(wait_for_metric(port(), "chatrix_store_commit_writes_sum", writes_before + messages + 1),
            writes_before + messages + 1);
  // Nothing left waiting once the traffic is over.
  EXPECT_EQ(wait_for_exactly(port(), "chatrix_queue_depth{queue=\"store_writes\"}", 0), 0);
  EXPECT_EQ(wait_for_exactly(port(), "chatrix_socket_queued_bytes", 0), 0);
  EXPECT_EQ(metric_value(port(), "chatrix_queue_depth{queue=\"password_hashes\"}"), 0);
}

TEST_F(metrics_series, errors_are_counted_by_code_for_err_frames_and_http_answers) {
  auto alice = make_user("alice");
  session a = connect_authed(alice);
  const auto err_frames_before = metric_value(port(), "chatrix_errors_sent_total");
  a->send_json(ev_text, text_to("nobody-here", "hi", 1));
  EXPECT_EQ(err_code(a->recv_type(ev_err, 10s)), "unknown_recipient");
  EXPECT_EQ(metric_value(port(), "chatrix_errors_total{code=\"unknown_recipient\"}"), 1);
  EXPECT_EQ(metric_value(port(), "chatrix_errors_sent_total"), err_frames_before + 1);

  const auto missing = http_request(port(), "GET", "/no-such-route");
  EXPECT_EQ(missing.status, 404);
  const auto bad_login = http_request(port(), "POST", "/auth/login", R"({"username":"alice","password":"wrong-one"})");
  EXPECT_EQ(bad_login.status, 401);
  EXPECT_EQ(metric_value(port(), "chatrix_errors_total{code=\"not_found\"}"), 1);
  EXPECT_EQ(metric_value(port(), "chatrix_errors_total{code=\"bad_credentials\"}"), 1);
  EXPECT_EQ(metric_value(port(), "chatrix_errors_total{code=\"rate_limited\"}"), 0);
}

TEST_F(metrics_series, websocket_connections_move_from_authenticating_to_open_and_through_closing) {
  auto alice = make_user("alice");
  auto raw = connect_raw();
  EXPECT_EQ(wait_for_exactly(port(), state_series("authenticating"), 1), 1);
  EXPECT_EQ(metric_value(port(), state_series("open")), 0);

  session a = connect_authed(alice);
  EXPECT_EQ(wait_for_exactly(port(), state_series("open"), 1), 1);

  // A client that does not read: the server's close (AUTH_TIMEOUT, 1 s) waits for its answer.
  auto silent = connect_raw("/ws", ws_options{.receive_buffer_bytes = 0, .start_paused = true});
  EXPECT_GE(wait_for_metric(port(), state_series("closing"), 1), 1);
  silent->resume_reading();
  EXPECT_TRUE(silent->wait_closed(10s));
  raw->abort();
  EXPECT_EQ(wait_for_exactly(port(), state_series("closing"), 0), 0);
  EXPECT_EQ(wait_for_exactly(port(), state_series("authenticating"), 0), 0);

  a->close();
  EXPECT_EQ(wait_for_exactly(port(), state_series("open"), 0), 0);
  EXPECT_EQ(metric_value(port(), "chatrix_connections_open"), 0);
}

TEST_F(metrics_series, cluster_series_follow_a_second_node_and_a_message_across) {
  if (!testing_cluster()) {
    // A single node is the only node there is; the bus reports nothing else.
    EXPECT_EQ(metric_value(port(), "chatrix_cluster_nodes"), 1);
    EXPECT_EQ(metric_value(port(), "chatrix_bus_publish_seconds_count"), 0);
    EXPECT_EQ(metric_value(port(), "chatrix_bus_reconnects_total"), 0);
    return;
  }
  // The first sync resyncs (revocations published before the subscription reached nobody).
  EXPECT_GE(wait_for_metric(port(), "chatrix_bus_resyncs_total", 1), 1);
  server_process other({{"DB_CONNECTION_URL", server().database_url()}, {"AUTH_TIMEOUT", "1"}});
  other.start();
  EXPECT_GE(wait_for_metric(port(), "chatrix_cluster_nodes", 2), 2);

  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  auto on_other = std::make_unique<ws_client>();
  on_other->connect(other.port());
  on_other->send_text(json::serialize(json::object{{"token", bob.token}}));
  on_other->recv_type(ev_profile_info, 10s);
  on_other->recv_type(ev_chat_previews, 10s);
  on_other->recv_type(ev_synced, 10s);

  send_and_confirm(a, text_to("bob", "across", 1));
  on_other->recv_type_skipping(ev_text, {ev_received}, 10s);
  EXPECT_GE(wait_for_metric(port(), "chatrix_bus_publish_seconds_count", 1), 1);
  EXPECT_GT(metric_real(port(), "chatrix_bus_publish_seconds_sum"), 0.0);
  // Measured only where the TEXT was taken and only for devices there: Bob is elsewhere.
  EXPECT_EQ(metric_value(port(), "chatrix_send_delivered_seconds_count"), 0);
  EXPECT_EQ(metric_value(other.port(), "chatrix_send_delivered_seconds_count"), 0);
  EXPECT_EQ(metric_value(port(), "chatrix_bus_reconnects_total"), 0);
  EXPECT_EQ(wait_for_exactly(port(), "chatrix_queue_depth{queue=\"bus_events\"}", 0), 0);
}

}  // namespace
}  // namespace chatrix::test
