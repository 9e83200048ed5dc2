// The abuse-limit settings: rates (N/s, N/m, N/h, 0 = off), counts, TRUSTED_PROXIES as CIDR
// blocks, WS_ORIGINS and ADMIN_PORT, each with its default and its refusals.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace chatrix::config;
using chatrix::limits::rate;

server_config with(const std::string& var, const std::string& value) {
  const char* argv[] = {"chatrix"};
  return load(1, argv, {{var, value}}, "").value();
}

std::string refusal(const std::string& var, const std::string& value) {
  try {
    with(var, value);
  } catch (const config_error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(LimitSettings, DefaultsAreOnAndGenerous) {
  const char* argv[] = {"chatrix"};
  const auto c = load(1, argv, {}, "").value();
  EXPECT_EQ(c.login_failure_limit, (rate{10, 1min}));
  EXPECT_EQ(c.login_address_limit, (rate{300, 1min}));
  EXPECT_EQ(c.register_limit, (rate{300, 1h}));
  EXPECT_EQ(c.message_rate, (rate{5000, 1s}));
  EXPECT_EQ(c.message_burst, 2000u);
  EXPECT_EQ(c.connect_limit, (rate{300, 1s}));
  EXPECT_TRUE(c.trusted_proxies.empty());
  EXPECT_TRUE(c.ws_origins.empty());
  EXPECT_FALSE(c.admin.has_value());
}

TEST(LimitSettings, RatesInEveryPeriodAndZeroTurnsOff) {
  EXPECT_EQ(with("LOGIN_FAILURE_LIMIT", "5/s").login_failure_limit, (rate{5, 1s}));
  EXPECT_EQ(with("LOGIN_FAILURE_LIMIT", " 20 / M ").login_failure_limit, (rate{20, 1min}));
  EXPECT_EQ(with("REGISTER_LIMIT", "100/h").register_limit, (rate{100, 1h}));
  EXPECT_TRUE(with("MESSAGE_RATE", "0").message_rate.off());
  EXPECT_TRUE(with("CONNECT_LIMIT", "0/m").connect_limit.off());
  EXPECT_EQ(with("STORAGE_QUOTA", "0").storage_quota, 0u);
  EXPECT_EQ(with("STORAGE_QUOTA", "1G").storage_quota, 1024u * 1024 * 1024);
}

TEST(LimitSettings, RefusalsNameTheVariableAndTheForm) {
  for (const auto* bad : {"10", "10/x", "ten/m", "/m", "-1/s", "10/"}) {
    const auto msg = refusal("MESSAGE_RATE", bad);
    EXPECT_TRUE(msg.starts_with("MESSAGE_RATE: ")) << bad << ": " << msg;
    EXPECT_NE(msg.find("N/s, N/m or N/h"), std::string::npos) << msg;
  }
  EXPECT_TRUE(refusal("MESSAGE_BURST", "0").starts_with("MESSAGE_BURST: "));
  EXPECT_TRUE(refusal("HTTP_HEADER_TIMEOUT", "11m").starts_with("HTTP_HEADER_TIMEOUT: "));
}

TEST(LimitSettings, TrustedProxiesAreCidrBlocks) {
  const auto c = with("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7 ,fd00::/8");
  ASSERT_EQ(c.trusted_proxies.size(), 3u);
  EXPECT_TRUE(c.trusted_proxies[0].contains("10.200.3.4"));
  EXPECT_TRUE(c.trusted_proxies[0].contains("::ffff:10.1.2.3"));  // the same client, dual-stack spelling
  EXPECT_FALSE(c.trusted_proxies[0].contains("11.0.0.1"));
  EXPECT_TRUE(c.trusted_proxies[1].contains("192.168.1.7"));
  EXPECT_FALSE(c.trusted_proxies[1].contains("192.168.1.8"));
  EXPECT_TRUE(c.trusted_proxies[2].contains("fd12::1"));
  EXPECT_FALSE(c.trusted_proxies[2].contains("fe80::1"));
  EXPECT_FALSE(c.trusted_proxies[2].contains("not an address"));
  EXPECT_EQ(c.trusted_proxies[0].to_string(), "10.0.0.0/8");
  EXPECT_EQ(c.trusted_proxies[2].to_string(), "fd00::/8");
  EXPECT_NE(refusal("TRUSTED_PROXIES", "10.0.0.1/8").find("did you mean 10.0.0.0/8"), std::string::npos);
  EXPECT_TRUE(refusal("TRUSTED_PROXIES", "10.0.0.0/33").starts_with("TRUSTED_PROXIES: "));
  EXPECT_TRUE(refusal("TRUSTED_PROXIES", "proxy.local").starts_with("TRUSTED_PROXIES: "));
}

TEST(LimitSettings, AdminPortIsLoopbackUnlessAnAddressIsGiven) {
  const auto bare = with("ADMIN_PORT", "9100");
  ASSERT_TRUE(bare.admin.has_value());
  EXPECT_EQ(bare.admin->to_string(), "127.0.0.1:9100");
  EXPECT_EQ(with("ADMIN_PORT", ":9100").admin->to_string(), "127.0.0.1:9100");
  EXPECT_EQ(with("ADMIN_PORT", "0.0.0.0:9100").admin->to_string(), "0.0.0.0:9100");
  EXPECT_TRUE(refusal("ADMIN_PORT", "nine").starts_with("ADMIN_PORT: "));
}

TEST(LimitSettings, WsOriginsListOrAnyone) {
  EXPECT_EQ(with("WS_ORIGINS", "https://chat.example.com, https://b.example").ws_origins,
            (std::vector<std::string>{"https://chat.example.com", "https://b.example"}));
  EXPECT_TRUE(with("WS_ORIGINS", "*").ws_origins.empty());
  EXPECT_TRUE(refusal("WS_ORIGINS", "chat.example.com").starts_with("WS_ORIGINS: "));
}

}  // namespace
