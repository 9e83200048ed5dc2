// PUSH_WEBHOOK_URL parsed into what the client connects to, and the URLs refused.
#include "push/webhook_endpoint.hpp"

#include <gtest/gtest.h>

namespace chatrix::push {
namespace {

TEST(push_endpoint, http_with_port_path_and_query) {
  auto e = parse_webhook_url("http://127.0.0.1:8080/hooks/chat?key=a%20b");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_FALSE(e->tls);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 8080);
  EXPECT_EQ(e->target, "/hooks/chat?key=a%20b");
  EXPECT_EQ(e->host_header, "127.0.0.1:8080");
}

TEST(push_endpoint, https_defaults) {
  auto e = parse_webhook_url("https://push.example.com");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->host, "push.example.com");
  EXPECT_EQ(e->port, 443);
  EXPECT_EQ(e->target, "/");
  EXPECT_EQ(e->host_header, "push.example.com");
  EXPECT_EQ(parse_webhook_url("http://example.com/x")->port, 80);
}

TEST(push_endpoint, ipv6_host_without_brackets) {
  auto e = parse_webhook_url("http://[::1]:9000/p");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->host_header, "[::1]:9000");
}

TEST(push_endpoint, refused) {
  for (const char* bad : {"", "example.com/push", "ftp://example.com/", "http://", "http://user:pw@example.com/",
                          "http://example.com/#frag", "http://example.com:0/", "http://example.com:70000/"}) {
    auto e = parse_webhook_url(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().code, errc::invalid_field) << bad;
  }
}

}  // namespace
}  // namespace chatrix::push
