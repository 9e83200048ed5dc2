#include "net/client_address.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace chatrix::net {
namespace {

config::ip_bytes ip(std::string_view text) { return *config::parse_ip(text); }

std::string client(std::string_view peer, std::string_view xff, const std::vector<config::ip_network>& trusted) {
  return address_text(forwarded_client(ip(peer), xff, trusted));
}

const std::vector<config::ip_network> proxies{config::parse_ip_network("10.0.0.0/8"),
                                              config::parse_ip_network("fd00::/8")};

TEST(ForwardedClient, AnUntrustedPeerIsTheClientWhateverItClaims) {
  EXPECT_EQ(client("198.51.100.9", "203.0.113.1", proxies), "198.51.100.9");
  EXPECT_EQ(client("198.51.100.9", "203.0.113.1", {}), "198.51.100.9");
}

TEST(ForwardedClient, ATrustedPeerNamesTheClient) {
  EXPECT_EQ(client("10.0.0.2", "203.0.113.1", proxies), "203.0.113.1");
  EXPECT_EQ(client("10.0.0.2", " 2001:db8::7 ", proxies), "2001:db8::7");
}

TEST(ForwardedClient, TheRightMostUntrustedEntryWinsSoAForgedPrefixIsIgnored) {
  // The client wrote "1.1.1.1"; the edge proxy appended what it saw (203.0.113.1), an inner
  // proxy appended the edge proxy (10.1.1.1).
  EXPECT_EQ(client("10.0.0.2", "1.1.1.1, 203.0.113.1, 10.1.1.1", proxies), "203.0.113.1");
}

TEST(ForwardedClient, SeveralHeaderLinesJoinedWithCommas) {
  EXPECT_EQ(client("10.0.0.2", "1.1.1.1,203.0.113.1", proxies), "203.0.113.1");
}

TEST(ForwardedClient, OnlyTrustedEntriesNameTheLeftMost) {
  EXPECT_EQ(client("10.0.0.2", "10.9.9.9, 10.1.1.1", proxies), "10.9.9.9");
}

TEST(ForwardedClient, MissingOrMalformedListsGiveThePeer) {
  EXPECT_EQ(client("10.0.0.2", "", proxies), "10.0.0.2");
  EXPECT_EQ(client("10.0.0.2", "   ", proxies), "10.0.0.2");
  EXPECT_EQ(client("10.0.0.2", "unknown", proxies), "10.0.0.2");
  EXPECT_EQ(client("10.0.0.2", "203.0.113.1:4711", proxies), "10.0.0.2");
  EXPECT_EQ(client("10.0.0.2", "203.0.113.1,", proxies), "10.0.0.2");
  EXPECT_EQ(client("10.0.0.2", "1.1.1.1,,203.0.113.1", proxies), "203.0.113.1");  // right of the gap is fine
  EXPECT_EQ(client("10.0.0.2", "1.1.1.1,,10.1.1.1", proxies), "10.0.0.2");        // the walk reaches the gap
  EXPECT_EQ(client("10.0.0.2", "fe80::1%eth0", proxies), "10.0.0.2");
  EXPECT_EQ(client("10.0.0.2", "[2001:db8::1]", proxies), "10.0.0.2");
}

TEST(ForwardedClient, IPv4MappedPeersAndEntriesAreIPv4) {
  EXPECT_EQ(client("::ffff:10.0.0.2", "::ffff:203.0.113.1", proxies), "203.0.113.1");
}

}  // namespace
}  // namespace chatrix::net
