// Login limits hold across the cluster: wrong passwords counted on one node refuse the next
// attempt on another (the buckets live in Redis), alike for unknown usernames; and while
// Redis is down each node counts on its own instead of failing logins.
#include "e2e/cluster_fixture.hpp"

namespace chatrix::test {
namespace {

http_response login_on(std::uint16_t port, const std::string& username, const std::string& password) {
  return http_request(port, "POST", "/auth/login",
                      json::serialize(json::object{{"username", username}, {"password", password}}));
}

// LOGIN_FAILURE_LIMIT is at its default, 10 a minute.
constexpr int failures_allowed = 10;

TEST_F(cluster_e2e, login_failures_on_one_node_count_on_the_others) {
  const auto alice = make_user("alice", 0);
  for (int i = 0; i < failures_allowed; ++i) {
    const auto res = login_on(node(i % 2).port, "alice", "wrong-password");  // nodes a and b in turn
    ASSERT_EQ(res.status, 401) << "attempt " << i << ": " << res.body;
  }
  const auto limited = login_on(node(2).port, "Alice", alice.password);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(str_field(limited.json(), "code"), "rate_limited");
  EXPECT_GT(int_field(limited.json(), "retry_after_ms"), 0);
  EXPECT_TRUE(limited.has_header("Retry-After"));

  for (int i = 0; i < failures_allowed; ++i) EXPECT_EQ(login_on(node(0).port, "nobody", "wrong-password").status, 401);
  EXPECT_EQ(login_on(node(1).port, "nobody", "wrong-password").status, 429) << "unknown usernames alike";

  EXPECT_EQ(login_on(node(1).port, "bob", "wrong-password").status, 401) << "other usernames unaffected";
}

TEST_F(cluster_e2e, logins_work_while_redis_is_down) {
  const auto carol = make_user("carol", 0);
  redis().stop();
  EXPECT_EQ(login_on(node(1).port, "carol", carol.password).status, 200);
  EXPECT_EQ(login_on(node(1).port, "carol", "wrong-password").status, 401);
  redis().start();
}

}  // namespace
}  // namespace chatrix::test
