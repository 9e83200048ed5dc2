// Delivery semantics (docs/protocol.md "Delivery semantics"): pending messages pushed on the
// next connection and only once, RECEIVED on receipt (socket write or ACK), SENT to the
// sender's other devices, and a restart that keeps data and pending messages.
#include "support/chat_fixture.hpp"

#include <algorithm>
#include <set>

namespace chatrix::test {
namespace {

class delivery : public chat_test {};

std::vector<std::int64_t> ids_of(const json::value& body) {
  std::vector<std::int64_t> out;
  for (const auto& v : field_of(body, "message_ids").as_array()) out.push_back(to_i64(v));
  return out;
}

// Collects RECEIVED frames on `s` until every id in `want` was named; throws on timeout or
// on a frame of another type.
void expect_received(const session& s, const test_user& recipient, std::set<std::int64_t> want) {
  while (!want.empty()) {
    auto body = body_of(s->recv_type(ev_received, 10s));
    EXPECT_EQ(int_field(body, "to_id"), recipient.id);
    EXPECT_GT(int_field(body, "timestamp"), 0);
    for (auto id : ids_of(body)) want.erase(id);
  }
}

TEST_F(delivery, offline_message_is_pushed_after_previews_and_only_once) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  std::vector<std::int64_t> sent;
  for (int i = 0; i < 3; ++i) sent.push_back(int_field(send_and_confirm(a, text_to("bob", "p" + std::to_string(i), i)), "message_id"));
  a->expect_no_frame(300ms);  // nobody has it yet: no RECEIVED

  // connect_authed consumes PROFILE_INFO and CHATPREVIEWS; the pending TEXTs come right after.
  session b = connect_authed(bob);
  ASSERT_TRUE(b.previews.is_array()) << json::serialize(b.previews);
  ASSERT_EQ(b.previews.as_array().size(), 1u);
  EXPECT_EQ(int_field(b.previews.as_array()[0], "id"), alice.id);
  for (int i = 0; i < 3; ++i) {
    auto t = body_of(b->recv_type(ev_text));
    EXPECT_EQ(int_field(t, "msg_id"), sent[i]) << "pending messages must come oldest first";
    EXPECT_EQ(str_field(t, "content"), "p" + std::to_string(i));
    EXPECT_EQ(int_field(t, "from_id"), alice.id);
  }
  b->expect_no_frame(300ms);
  // Bob's legacy device got them: Alice hears RECEIVED for each.
  expect_received(a, bob, {sent.begin(), sent.end()});

  b->close();
  session b2 = connect_authed(bob);
  b2->expect_no_frame(700ms);  // delivered messages are not pushed again
}

TEST_F(delivery, pending_messages_stay_pending_for_an_acks_device_until_ack) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  auto id = int_field(send_and_confirm(a, text_to("bob", "ack me", 1)), "message_id");
  {
    session b = connect_authed(bob, /*acks=*/true);
    EXPECT_EQ(int_field(body_of(b->recv_type(ev_text)), "msg_id"), id);
    // No ACK: not delivered.
  }
  a->expect_no_frame(300ms);
  session b = connect_authed(bob, true);
  EXPECT_EQ(int_field(body_of(b->recv_type(ev_text)), "msg_id"), id) << "an un-ACKed message stays pending";
  b->send_json(ev_ack, json::object{{"message_ids", json::array{id}}});
  expect_received(a, bob, {id});
  b->close();
  session b3 = connect_authed(bob, true);
  b3->expect_no_frame(500ms);
}

TEST_F(delivery, a_connected_device_is_not_sent_a_pending_message_twice) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b1 = connect_authed(bob, /*acks=*/true);
  auto id = int_field(send_and_confirm(a, text_to("bob", "once per device", 1)), "message_id");
  EXPECT_EQ(int_field(body_of(b1->recv_type(ev_text)), "msg_id"), id);
  // Still pending (no ACK): a new device gets it, the connected one must not get it again.
  session b2 = connect_authed(bob, /*acks=*/true);
  EXPECT_EQ(int_field(body_of(b2->recv_type(ev_text)), "msg_id"), id);
  b1->expect_no_frame(500ms);
  b2->send_json(ev_ack, json::object{{"message_ids", json::array{id}}});
  expect_received(a, bob, {id});
  b1->expect_no_frame(300ms);
}

TEST_F(delivery, received_follows_socket_write_for_legacy_device) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  a->send_json(ev_text, text_to("bob", "hi", 5));
  // DELIVERED and RECEIVED may come in either order.
  std::optional<std::int64_t> delivered_id;
  std::set<std::int64_t> received_ids;
  while (!delivered_id || received_ids.empty()) {
    auto f = a->recv_json(10s);
    auto type = int_field(f, "type");
    if (type == ev_delivered) delivered_id = int_field(body_of(f), "message_id");
    else if (type == ev_received) {
      EXPECT_EQ(int_field(body_of(f), "to_id"), bob.id);
      for (auto id : ids_of(body_of(f))) received_ids.insert(id);
    } else FAIL() << "unexpected " << json::serialize(f);
  }
  EXPECT_EQ(received_ids, std::set<std::int64_t>{*delivered_id});
  b->recv_type(ev_text);
  a->expect_no_frame(300ms);  // RECEIVED once per message
}

TEST_F(delivery, received_waits_for_ack_when_device_declared_acks) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob, /*acks=*/true);
  auto id = int_field(send_and_confirm(a, text_to("bob", "needs ack", 1)), "message_id");
  EXPECT_EQ(int_field(body_of(b->recv_type(ev_text)), "msg_id"), id);
  a->expect_no_frame(700ms);  // the TEXT was written, but this device confirms with ACK
  b->send_json(ev_ack, json::object{{"message_ids", json::array{id}}});
  expect_received(a, bob, {id});
  // A second ACK of the same id changes nothing.
  b->send_json(ev_ack, json::object{{"message_ids", json::array{id}}});
  a->expect_no_frame(500ms);
}

// Reading a message is a receipt too: a device that declared acks and reads a message
// without ever sending ACK still moves it to delivered, and the sender hears RECEIVED
// (once) before the read notice.
TEST_F(delivery, mark_read_without_ack_reports_received_before_read) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob, /*acks=*/true);
  auto id = int_field(send_and_confirm(a, text_to("bob", "read, never acked", 1)), "message_id");
  EXPECT_EQ(int_field(body_of(b->recv_type(ev_text)), "msg_id"), id);
  a->expect_no_frame(500ms);  // no ACK yet, so no RECEIVED
  b->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{id}}});
  auto received = a->recv_json(10s);
  ASSERT_EQ(int_field(received, "type"), ev_received) << json::serialize(received);
  EXPECT_EQ(ids_of(body_of(received)), std::vector<std::int64_t>{id});
  EXPECT_EQ(int_field(body_of(received), "to_id"), bob.id);
  auto read = a->recv_json(10s);
  ASSERT_EQ(int_field(read, "type"), ev_mark_read) << json::serialize(read);
  EXPECT_EQ(body_of(read), (json::array{id}));
  // The receipt is reported once: a late ACK, or reading again, tells nothing new.
  b->send_json(ev_ack, json::object{{"message_ids", json::array{id}}});
  b->send_json(ev_mark_read, json::object{{"message_ids", json::array{id}}});
  a->expect_no_frame(700ms);
  // History agrees: delivered and read.
  a->send_json(ev_history_request, json::object{{"user1_id", alice.id}, {"user2_id", bob.id}});
  auto hist = body_of(a->recv_type(ev_history_response));
  ASSERT_TRUE(hist.is_array());
  EXPECT_TRUE(bool_field(hist.as_array()[0], "read"));
  EXPECT_TRUE(bool_field(hist.as_array()[0], "delivered"));
}

TEST_F(delivery, ack_from_a_legacy_device_is_harmless) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  auto id = int_field(send_and_confirm(a, text_to("bob", "x", 1)), "message_id");
  b->recv_type(ev_text);
  expect_received(a, bob, {id});
  b->send_json(ev_ack, json::object{{"message_ids", json::array{id}}});
  b->expect_no_frame(300ms);
  a->expect_no_frame(300ms);
  send_and_confirm(a, text_to("bob", "still works", 2));
  b->recv_type(ev_text);
}

TEST_F(delivery, senders_other_device_gets_sent) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a1 = connect_authed(alice);
  session a2 = connect_authed(alice);
  session b = connect_authed(bob);
  auto d = send_and_confirm(a1, text_to("bob", "from device one", "d1"));
  auto sent = body_of(a2->recv_type_skipping(ev_sent, {ev_received}));
  EXPECT_EQ(int_field(sent, "msg_id"), int_field(d, "message_id"));
  EXPECT_EQ(int_field(sent, "from_id"), alice.id);
  EXPECT_EQ(str_field(sent, "content"), "from device one");
  auto text = body_of(b->recv_type(ev_text));
  EXPECT_EQ(int_field(text, "msg_id"), int_field(d, "message_id"));
  // The sending device itself gets no SENT.
  a1->expect_no_frame(500ms, {ev_received});
  // Both of Alice's devices hear RECEIVED.
  a2->expect_no_frame(300ms, {ev_received});
}

TEST_F(delivery, mark_read_reaches_the_sender_as_a_bare_array) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  auto id1 = int_field(send_and_confirm(a, text_to("bob", "one", 1)), "message_id");
  auto id2 = int_field(send_and_confirm(a, text_to("bob", "two", 2)), "message_id");
  b->recv_type(ev_text);
  b->recv_type(ev_text);
  b->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{id1, id2}}});
  auto read = a->recv_type_skipping(ev_mark_read, {ev_received});
  const auto& arr = body_of(read);
  ASSERT_TRUE(arr.is_array()) << "MARK_READ to the sender must be a bare array: " << json::serialize(read);
  std::set<std::int64_t> got;
  for (const auto& v : arr.as_array()) got.insert(to_i64(v));
  EXPECT_EQ(got, (std::set<std::int64_t>{id1, id2}));
  // Marking again announces nothing new ("newly read ids").
  b->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{id1}}});
  a->expect_no_frame(500ms, {ev_received});
  // Read state is stored.
  a->send_json(ev_history_request, json::object{{"user1_id", alice.id}, {"user2_id", bob.id}});
  auto hist = body_of(a->recv_type_skipping(ev_history_response, {ev_received}));
  ASSERT_TRUE(hist.is_array());
  for (const auto& row : hist.as_array()) EXPECT_TRUE(bool_field(row, "read")) << json::serialize(row);
}

TEST_F(delivery, mark_read_without_to_field_works) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  auto id = int_field(send_and_confirm(a, text_to("bob", "one", 1)), "message_id");
  b->recv_type(ev_text);
  b->send_json(ev_mark_read, json::object{{"message_ids", json::array{id}}});
  auto read = body_of(a->recv_type_skipping(ev_mark_read, {ev_received}));
  ASSERT_TRUE(read.is_array());
  EXPECT_EQ(read, (json::array{id}));
}

TEST_F(delivery, restart_keeps_accounts_history_and_pending_messages) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  std::vector<std::int64_t> ids;
  {
    session a = connect_authed(alice);
    for (int i = 0; i < 3; ++i)
      ids.push_back(int_field(send_and_confirm(a, text_to("bob", "before restart " + std::to_string(i), i)), "message_id"));
    a->close();
  }
  auto status = server().stop();
  ASSERT_TRUE(status.has_value()) << "server did not stop on SIGTERM";
  server().start();

  // Passwords and tokens still work (same JWT_SECRET).
  auto alice2 = login(port(), "alice", alice.password);
  EXPECT_EQ(alice2.id, alice.id);
  session a = connect_authed(alice2);
  ASSERT_TRUE(a.previews.is_array()) << json::serialize(a.previews);
  ASSERT_EQ(a.previews.as_array().size(), 1u);
  EXPECT_EQ(int_field(a.previews.as_array()[0], "id"), bob.id);
  a->send_json(ev_history_request, json::object{{"user1_id", alice.id}, {"user2_id", bob.id}});
  auto hist = body_of(a->recv_type(ev_history_response));
  ASSERT_TRUE(hist.is_array()) << json::serialize(hist);
  ASSERT_EQ(hist.as_array().size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(int_field(hist.as_array()[i], "id"), ids[i]);
    EXPECT_EQ(str_field(hist.as_array()[i], "content"), "before restart " + std::to_string(i));
  }
  // Bob's pending messages survive the restart; his old token still works.
  session b = connect_authed(bob);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(int_field(body_of(b->recv_type(ev_text)), "msg_id"), ids[i]);
  expect_received(a, bob, {ids.begin(), ids.end()});
  // New messages continue the same conversation.
  auto d = send_and_confirm(a, text_to("bob", "after restart", 9));
  EXPECT_GT(int_field(d, "message_id"), ids.back());
  EXPECT_EQ(int_field(d, "chat_id"), int_field(hist.as_array()[0], "chat_id"));
  EXPECT_EQ(str_field(body_of(b->recv_type(ev_text)), "content"), "after restart");
}

TEST_F(delivery, pending_survives_a_crash_after_delivered) {
  // DELIVERED means durable: a SIGKILL right after it must not lose the message.
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  std::int64_t id;
  {
    session a = connect_authed(alice);
    id = int_field(send_and_confirm(a, text_to("bob", "durable", 1)), "message_id");
    server().kill_hard();
  }
  server().start();
  session b = connect_authed(bob);
  EXPECT_EQ(int_field(body_of(b->recv_type(ev_text)), "msg_id"), id);
}

}  // namespace
}  // namespace chatrix::test
