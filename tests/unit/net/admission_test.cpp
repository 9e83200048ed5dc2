#include "net/admission.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace chatrix::net {
namespace {

using namespace std::chrono_literals;

config::ip_bytes ip(std::string_view text) { return *config::parse_ip(text); }

const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

admission_limits unlimited() { return {limits::rate{0, 1s}, 0, 0, 0, 0}; }

TEST(Admission, ConnectLimitRefusesAttemptsPastTheRateAndRecovers) {
  auto limits = unlimited();
  limits.connect_limit = limits::rate{2, 1s};
  auto gate = std::make_shared<admission>(limits);
  std::vector<admission::ticket> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(gate->open_socket());
    EXPECT_FALSE(gate->admit_http(held.back(), ip("192.0.2.1"), t0));
  }
  auto third = gate->open_socket();
  const auto refused = gate->admit_http(third, ip("192.0.2.1"), t0);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason.code, errc::rate_limited);
  EXPECT_EQ(refused->limit, "CONNECT_LIMIT");
  EXPECT_GT(refused->reason.retry_after_ms, 0);
  EXPECT_LE(refused->reason.retry_after_ms, 501);
  EXPECT_FALSE(gate->admit_http(third, ip("192.0.2.2"), t0)) << "another address has its own budget";
  auto fourth = gate->open_socket();
  EXPECT_FALSE(gate->admit_http(fourth, ip("192.0.2.1"), t0 + 500ms)) << "a token came back";
}

TEST(Admission, OpenConnectionsPerAddressAreCountedUntilTheTicketGoes) {
  auto limits = unlimited();
  limits.address_connections = 2;
  auto gate = std::make_shared<admission>(limits);
  auto a = gate->open_socket();
  auto b = gate->open_socket();
  auto c = gate->open_socket();
  EXPECT_FALSE(gate->admit_http(a, ip("192.0.2.1"), t0));
  EXPECT_FALSE(gate->admit_http(b, ip("192.0.2.1"), t0));
  const auto refused = gate->admit_http(c, ip("192.0.2.1"), t0);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->limit, "ADDRESS_CONNECTIONS");
  EXPECT_EQ(refused->reason.code, errc::rate_limited);
  EXPECT_EQ(gate->open_sockets(), 3u);
  { auto gone = std::move(a); }
  EXPECT_FALSE(gate->admit_http(c, ip("192.0.2.1"), t0));
  EXPECT_FALSE(gate->admit_http(c, ip("192.0.2.1"), t0)) << "the next request of a held connection passes";
}

TEST(Admission, PlainHttpHasItsOwnLimitAndAnUpgradeLeavesIt) {
  auto limits = unlimited();
  limits.http_address_connections = 1;
  auto gate = std::make_shared<admission>(limits);
  auto a = gate->open_socket();
  auto b = gate->open_socket();
  ASSERT_FALSE(gate->admit_http(a, ip("192.0.2.1"), t0));
  ASSERT_FALSE(gate->admit_http(b, ip("192.0.2.1"), t0)) << "not plain HTTP before its first request";
  EXPECT_FALSE(gate->serve_plain_http(a));
  EXPECT_FALSE(gate->serve_plain_http(a)) << "its next request";
  const auto refused = gate->serve_plain_http(b);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->limit, "HTTP_ADDRESS_CONNECTIONS");
  EXPECT_EQ(refused->reason.code, errc::rate_limited);
  EXPECT_FALSE(gate->upgrade(a));
  EXPECT_FALSE(gate->serve_plain_http(b)) << "a WebSocket is no longer plain HTTP";
}

TEST(Admission, UnauthenticatedPerAddressUntilAuthenticated) {
  auto limits = unlimited();
  limits.unauthenticated_per_address = 1;
  auto gate = std::make_shared<admission>(limits);
  auto a = gate->open_socket();
  auto b = gate->open_socket();
  auto c = gate->open_socket();
  ASSERT_FALSE(gate->admit_http(a, ip("192.0.2.1"), t0));
  ASSERT_FALSE(gate->admit_http(b, ip("192.0.2.1"), t0));
  ASSERT_FALSE(gate->admit_http(c, ip("192.0.2.2"), t0));
  EXPECT_FALSE(gate->upgrade(a));
  const auto refused = gate->upgrade(b);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->limit, "UNAUTHENTICATED_PER_ADDRESS");
  EXPECT_EQ(refused->reason.code, errc::rate_limited);
  EXPECT_FALSE(gate->upgrade(c)) << "another address";
  a.authenticated();
  EXPECT_EQ(gate->unauthenticated(), 1u);
  EXPECT_FALSE(gate->upgrade(b));
}

TEST(Admission, UnauthenticatedTotalIsOverloaded) {
  auto limits = unlimited();
  limits.unauthenticated_total = 2;
  auto gate = std::make_shared<admission>(limits);
  std::vector<admission::ticket> t;
  for (int i = 0; i < 3; ++i) {
    t.push_back(gate->open_socket());
    ASSERT_FALSE(gate->admit_http(t.back(), ip("192.0.2." + std::to_string(i + 1)), t0));
  }
  EXPECT_FALSE(gate->upgrade(t[0]));
  EXPECT_FALSE(gate->upgrade(t[1]));
  const auto refused = gate->upgrade(t[2]);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->limit, "UNAUTHENTICATED_TOTAL");
  EXPECT_EQ(refused->reason.code, errc::overloaded);
  EXPECT_GT(refused->reason.retry_after_ms, 0);
  t[0] = admission::ticket();  // a session that ended before authenticating
  EXPECT_FALSE(gate->upgrade(t[2]));
}

TEST(Admission, AProxiedConnectionMovesToTheClientOfEachRequest) {
  auto limits = unlimited();
  limits.http_address_connections = 1;
  auto gate = std::make_shared<admission>(limits);
  auto via_proxy = gate->open_socket();
  auto direct = gate->open_socket();
  ASSERT_FALSE(gate->admit_http(via_proxy, ip("203.0.113.1"), t0));
  ASSERT_FALSE(gate->serve_plain_http(via_proxy));
  ASSERT_FALSE(gate->admit_http(direct, ip("203.0.113.1"), t0));
  EXPECT_TRUE(gate->serve_plain_http(direct));
  EXPECT_FALSE(gate->admit_http(via_proxy, ip("203.0.113.2"), t0));
  EXPECT_FALSE(gate->serve_plain_http(via_proxy));
  ASSERT_TRUE(via_proxy.address());
  EXPECT_EQ(*via_proxy.address(), ip("203.0.113.2"));
  EXPECT_FALSE(gate->serve_plain_http(direct)) << "the proxy's connection let 203.0.113.1 go";
}

TEST(Admission, NothingIsLeftOnceEveryTicketIsGone) {
  auto limits = unlimited();
  limits.address_connections = 10;
  auto gate = std::make_shared<admission>(limits);
  {
    std::vector<admission::ticket> t;
    for (int i = 0; i < 50; ++i) {
      t.push_back(gate->open_socket());
      ASSERT_FALSE(gate->admit_http(t.back(), ip("192.0.2." + std::to_string(i % 5)), t0));
      ASSERT_FALSE(gate->serve_plain_http(t.back()));
      if (i % 2 == 0) {
        ASSERT_FALSE(gate->upgrade(t.back()));
      }
      if (i % 4 == 0) t.back().authenticated();
    }
    EXPECT_EQ(gate->tracked_addresses(), 5u);
    EXPECT_EQ(gate->open_sockets(), 50u);
  }
  EXPECT_EQ(gate->tracked_addresses(), 0u);
  EXPECT_EQ(gate->open_sockets(), 0u);
  EXPECT_EQ(gate->unauthenticated(), 0u);
}

TEST(Admission, ZeroTurnsEveryLimitOff) {
  auto gate = std::make_shared<admission>(unlimited());
  std::vector<admission::ticket> t;
  for (int i = 0; i < 2000; ++i) {
    t.push_back(gate->open_socket());
    ASSERT_FALSE(gate->admit_http(t.back(), ip("192.0.2.1"), t0));
    ASSERT_FALSE(gate->serve_plain_http(t.back()));
    ASSERT_FALSE(gate->upgrade(t.back()));
  }
}

}  // namespace
}  // namespace chatrix::net
