// Revocation across nodes: a logout on one node ends, at once, the socket opened with that
// token on another node, and every node refuses the token from then on.
#include "e2e/cluster_fixture.hpp"

namespace chatrix::test {
namespace {

TEST_F(cluster_e2e, logout_on_one_node_ends_the_socket_on_another_and_every_node_refuses_the_token) {
  const auto alice = make_user("alice", 0);
  auto second = login(node(0).port, "alice", alice.password);
  auto on_b = connect(alice, 1);
  auto other_on_c = connect(second, 2);

  const auto r = http_request(node(0).port, "POST", "/auth/logout", "", {{"Authorization", "Bearer " + alice.token}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(int_field(r.json(), "revoked"), 1);

  const auto err = on_b->recv_type(ev_err, 10s);
  EXPECT_EQ(err_code(err), "unauthorized");
  EXPECT_EQ(str_field(body_of(err), "error"), "token revoked");
  EXPECT_TRUE(on_b->wait_closed(10s));
  EXPECT_EQ(on_b->close_code(), 1008) << on_b->close_error();
  // The user's other token is not touched.
  other_on_c->expect_no_frame(300ms);
  EXPECT_FALSE(other_on_c->closed());

  for (std::size_t i : {1u, 2u}) {
    SCOPED_TRACE("node " + node(i).name);
    auto ws = std::make_unique<ws_client>();
    ws->connect(node(i).port);
    ws->send_text(json::serialize(json::object{{"token", alice.token}}));
    const auto refused = ws->recv_json(10s);
    EXPECT_EQ(err_code(refused), "unauthorized") << json::serialize(refused);
    EXPECT_EQ(str_field(body_of(refused), "error"), "token revoked");
    EXPECT_TRUE(ws->wait_closed(10s));
  }
}

}  // namespace
}  // namespace chatrix::test
