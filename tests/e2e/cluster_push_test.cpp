// Push webhooks in a cluster (docs/protocol.md, "Push for offline devices"): every node has
// the same receiver, and each message is pushed once, by the node that stored it; a message
// a device on another node received is not pushed at all.
#include "e2e/cluster_fixture.hpp"
#include "support/webhook_receiver.hpp"

#include <map>

namespace chatrix::test {
namespace {

class cluster_push : public cluster_e2e {
 protected:
  std::map<std::string, std::string> node_env() const override {
    return {{"PUSH_WEBHOOK_URL", receiver.url()},
            {"PUSH_WEBHOOK_SECRET", "cluster-push-secret-0123456789"},
            {"PUSH_DELAY", "1s"}};
  }

  /// The pushes received, by recipient: the message ids they name and their counts.
  struct seen {
    std::vector<std::int64_t> message_ids;
    std::int64_t count = 0;
  };
  std::map<std::int64_t, seen> pushes_by_user() const {
    std::map<std::int64_t, seen> out;
    for (const auto& r : receiver.all()) {
      const auto body = json::parse(r.body).as_object();
      auto& s = out[to_i64(body.at("user_id"))];
      s.message_ids.push_back(to_i64(body.at("message_id")));
      s.count += to_i64(body.at("count"));
    }
    return out;
  }

  webhook_receiver receiver;
};

TEST_F(cluster_push, each_message_is_pushed_once_by_the_node_that_stored_it) {
  const auto ann = make_user("ann");
  const auto bob = make_user("bob");
  const auto dan = make_user("dan");
  const auto cat = make_user("cat");
  auto a = connect(ann, 0);
  auto d = connect(dan, 1);
  a->send_json(ev_text, text_to("bob", "from node a", 1));
  const auto first = int_field(body_of(a->recv_type_skipping(ev_delivered, {ev_received}, 10s)), "message_id");
  d->send_json(ev_text, text_to("bob", "from node b", 2));
  const auto second = int_field(body_of(d->recv_type_skipping(ev_delivered, {ev_received}, 10s)), "message_id");
  ASSERT_TRUE(receiver.next(10s)) << "no push";
  ASSERT_TRUE(receiver.next(10s)) << "one push only";
  // cat's push comes a second after these; a node pushing bob's messages again would have
  // done so by then.
  a->send_json(ev_text, text_to("cat", "sentinel", 3));
  a->recv_type_skipping(ev_delivered, {ev_received}, 10s);
  ASSERT_TRUE(receiver.next(10s)) << "no push for cat";
  EXPECT_FALSE(receiver.next(500ms)) << "a push too many";

  const auto pushes = pushes_by_user();
  ASSERT_EQ(pushes.count(bob.id), 1u);
  auto bob_ids = pushes.at(bob.id).message_ids;
  std::sort(bob_ids.begin(), bob_ids.end());
  EXPECT_EQ(bob_ids, (std::vector<std::int64_t>{std::min(first, second), std::max(first, second)}));
  EXPECT_EQ(pushes.at(bob.id).count, 2);
  ASSERT_EQ(pushes.count(cat.id), 1u);
  EXPECT_EQ(pushes.at(cat.id).count, 1);
  EXPECT_EQ(pushes.size(), 2u);
}

TEST_F(cluster_push, a_message_received_on_another_node_is_not_pushed) {
  const auto ann = make_user("ann");
  const auto bob = make_user("bob");
  const auto cat = make_user("cat");
  auto a = connect(ann, 0);
  auto b = connect(bob, 2);
  a->send_json(ev_text, text_to("bob", "you are on node c", 1));
  a->recv_type_skipping(ev_delivered, {ev_received}, 10s);
  b->recv_type(ev_text, 10s);
  // The receipt reached the database (ann hears RECEIVED) before the push is due.
  a->recv_type(ev_received, 10s);
  a->send_json(ev_text, text_to("cat", "you are offline", 2));
  a->recv_type_skipping(ev_delivered, {ev_received}, 10s);
  auto r = receiver.next(10s);
  ASSERT_TRUE(r) << "no push for the offline recipient";
  EXPECT_EQ(to_i64(json::parse(r->body).at("user_id")), cat.id);
  EXPECT_EQ(receiver.all().size(), 1u);
}

}  // namespace
}  // namespace chatrix::test
