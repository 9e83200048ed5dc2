// The --server parser and the error body reader of chatrix-cli, without a server.
#include "cli_error.hpp"
#include "server_url.hpp"
#include "wire.hpp"

#include <gtest/gtest.h>

namespace chatrix::cli {
namespace {

TEST(cli_server_url, accepts_http_urls_and_bare_addresses) {
  const auto plain = parse_server_url("http://127.0.0.1:6969");
  EXPECT_EQ(plain.host, "127.0.0.1");
  EXPECT_EQ(plain.port, "6969");
  EXPECT_EQ(plain.text, "http://127.0.0.1:6969");

  EXPECT_EQ(parse_server_url("HTTP://chat.example/").text, "http://chat.example:80");
  EXPECT_EQ(parse_server_url("localhost:7000").text, "http://localhost:7000");

  const auto secure = parse_server_url("https://chat.example");
  EXPECT_TRUE(secure.tls);
  EXPECT_EQ(secure.port, "443");
  EXPECT_EQ(secure.text, "https://chat.example:443");
  EXPECT_FALSE(plain.tls);

  const auto v6 = parse_server_url("http://[::1]:6969");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.text, "http://[::1]:6969");
}

TEST(cli_server_url, refuses_what_it_cannot_use_as_a_usage_error) {
  for (const char* bad : {"ftp://chat.example", "ws://chat.example/ws", "http://", "http://host:0",
                          "http://host:70000", "http://host/api", "http://user@host", "http://host?x=1", "::"}) {
    try {
      parse_server_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const cli_error& e) {
      EXPECT_EQ(e.status, exit_status::usage) << bad;
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(cli_wire, http_errors_keep_the_server_code_or_name_the_status) {
  const auto coded = http_error_of(401, R"({"error":"invalid username or password","code":"bad_credentials"})");
  EXPECT_EQ(coded.code, "bad_credentials");
  EXPECT_EQ(coded.reason, "invalid username or password");

  const auto proxy_page = http_error_of(502, "<html>Bad Gateway</html>");
  EXPECT_EQ(proxy_page.code, "http_502");
  EXPECT_NE(proxy_page.reason.find("502"), std::string::npos);
}

TEST(cli_wire, frames_round_trip_and_broken_ones_are_protocol_errors) {
  const auto f = parse_frame(encode_frame(event::ack, boost::json::object{{"message_ids", boost::json::array{7}}}));
  EXPECT_EQ(f.type, static_cast<int>(event::ack));
  EXPECT_EQ(f.body.at("message_ids").at(0).as_int64(), 7);
  for (const char* bad : {"not json", "[1]", R"({"body":{}})", R"({"type":"0"})"}) {
    try {
      parse_frame(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const cli_error& e) {
      EXPECT_EQ(e.code, "bad_response") << bad;
      EXPECT_EQ(e.status, exit_status::unreachable) << bad;
    }
  }
}

}  // namespace
}  // namespace chatrix::cli
