// HTTP API of docs/protocol.md against the real server: register, login, validation errors,
// status codes, CORS, and the WebSocket upgrade routes.
#include "support/chat_fixture.hpp"

namespace chatrix::test {
namespace {

class http_api : public shared_server_test {
 protected:
  http_response post_json(const std::string& target, const json::object& body) {
    return http_request(port(), "POST", target, json::serialize(body));
  }
  // An error answer must be {"error": "<non-empty>", "code": "<code>"}.
  void expect_error_body(const http_response& res, const std::string& code) {
    json::value v = res.json();
    EXPECT_TRUE(has_field(v, "error") && v.at("error").is_string() && !v.at("error").as_string().empty())
        << res.body;
    EXPECT_EQ(str_field(v, "code"), code) << res.body;
  }
};

TEST_F(http_api, register_returns_token_and_user) {
  const std::string name = unique_name("Reg_User");
  auto res = post_json("/auth/register", {{"username", name}, {"password", "correct horse"}, {"name", "Reg User"}});
  ASSERT_EQ(res.status, 200) << res.body;
  json::value v = res.json();
  EXPECT_FALSE(str_field(v, "token").empty());
  const auto& user = v.at("user");
  EXPECT_GT(int_field(user, "id"), 0);
  EXPECT_EQ(str_field(user, "username"), name);
  EXPECT_EQ(str_field(user, "name"), "Reg User");
  EXPECT_NE(res.header("Content-Type").find("application/json"), std::string::npos) << res.header("Content-Type");
}

TEST_F(http_api, register_with_empty_name_uses_username) {
  const std::string name = unique_name("noname");
  auto res = post_json("/auth/register", {{"username", name}, {"password", "correct horse"}, {"name", ""}});
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(str_field(res.json().at("user"), "name"), name);
}

TEST_F(http_api, duplicate_username_in_other_case_is_409) {
  const std::string name = unique_name("Dup_User");
  ASSERT_EQ(post_json("/auth/register", {{"username", name}, {"password", "password1"}, {"name", "a"}}).status, 200);
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto res = post_json("/auth/register", {{"username", lower}, {"password", "password2"}, {"name", "b"}});
  EXPECT_EQ(res.status, 409) << res.body;
  expect_error_body(res, "username_taken");
  // The spelling given at registration is kept, and login is case-insensitive.
  auto in = post_json("/auth/login", {{"username", lower}, {"password", "password1"}});
  ASSERT_EQ(in.status, 200) << in.body;
  EXPECT_EQ(str_field(in.json().at("user"), "username"), name);
}

TEST_F(http_api, invalid_fields_are_400) {
  const std::string ok = unique_name("valid");
  struct bad_case {
    json::object body;
    const char* why;
  };
  const std::vector<bad_case> cases = {
      {{{"username", "ab"}, {"password", "password1"}, {"name", "x"}}, "username too short"},
      {{{"username", std::string(33, 'a')}, {"password", "password1"}, {"name", "x"}}, "username too long"},
      {{{"username", "bad name!"}, {"password", "password1"}, {"name", "x"}}, "username with space and !"},
      {{{"username", "sl/ash"}, {"password", "password1"}, {"name", "x"}}, "username with /"},
      {{{"username", ok}, {"password", "short"}, {"name", "x"}}, "password under 8 chars"},
      {{{"username", ok}, {"password", std::string(1025, 'p')}, {"name", "x"}}, "password over 1024 bytes"},
      {{{"username", ok}, {"password", "password1"}, {"name", std::string(65, 'n')}}, "name over 64 chars"},
      {{{"username", ok}, {"password", "password1"}, {"name", "bell\x07"}}, "name with a control char"},
      {{{"password", "password1"}, {"name", "x"}}, "username missing"},
      {{{"username", ok}, {"name", "x"}}, "password missing"},
      {{{"username", 12345}, {"password", "password1"}, {"name", "x"}}, "username not a string"},
  };
  for (const auto& c : cases) {
    auto res = post_json("/auth/register", c.body);
    EXPECT_EQ(res.status, 400) << c.why << ": " << res.body;
    if (res.status == 400) expect_error_body(res, "invalid_field");
  }
  // None of the attempts with the valid username created it.
  EXPECT_EQ(post_json("/auth/register", {{"username", ok}, {"password", "password1"}, {"name", "x"}}).status, 200);
}

TEST_F(http_api, boundary_lengths_are_accepted) {
  std::string u32 = unique_name("b");
  u32 += std::string(32 - u32.size(), 'x');
  auto res = post_json("/auth/register", {{"username", u32}, {"password", "12345678"}, {"name", std::string(64, 'n')}});
  EXPECT_EQ(res.status, 200) << res.body;
  auto three = post_json("/auth/register", {{"username", "a.-"}, {"password", "12345678"}, {"name", "x"}});
  EXPECT_TRUE(three.status == 200 || three.status == 409) << three.body;
}

TEST_F(http_api, login_ok) {
  const std::string name = unique_name("login_ok");
  auto reg = register_user(port(), name, "secret-pass", "Login Ok");
  auto res = post_json("/auth/login", {{"username", name}, {"password", "secret-pass"}});
  ASSERT_EQ(res.status, 200) << res.body;
  json::value v = res.json();
  EXPECT_FALSE(str_field(v, "token").empty());
  EXPECT_EQ(int_field(v.at("user"), "id"), reg.id);
  EXPECT_EQ(str_field(v.at("user"), "username"), name);
}

TEST_F(http_api, login_unknown_user_and_wrong_password_are_identical_401) {
  const std::string name = unique_name("login_bad");
  register_user(port(), name, "secret-pass", "x");
  auto wrong = post_json("/auth/login", {{"username", name}, {"password", "not-the-pass"}});
  auto unknown = post_json("/auth/login", {{"username", unique_name("nobody")}, {"password", "not-the-pass"}});
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_EQ(unknown.status, 401) << unknown.body;  // the original answered 404 (user enumeration)
  EXPECT_EQ(wrong.body, unknown.body);
  expect_error_body(wrong, "bad_credentials");
}

TEST_F(http_api, malformed_json_is_400) {
  for (const std::string body : {"{not json", "[1,2,3]", "\"just a string\"", "{\"username\":"}) {
    auto res = http_request(port(), "POST", "/auth/register", body);
    EXPECT_EQ(res.status, 400) << body << " -> " << res.body;
    json::value v = res.json();
    EXPECT_TRUE(has_field(v, "error") && has_field(v, "code")) << res.body;
  }
  auto res = http_request(port(), "POST", "/auth/login", "{oops");
  EXPECT_EQ(res.status, 400) << res.body;
}

TEST_F(http_api, body_over_16k_is_413) {
  json::object body{{"username", unique_name("big")}, {"password", std::string(17 * 1024, 'p')}, {"name", "x"}};
  auto res = post_json("/auth/register", body);
  EXPECT_EQ(res.status, 413) << res.body.substr(0, 200);
  auto res2 = http_request(port(), "POST", "/auth/login", std::string(20 * 1024, ' '));
  EXPECT_EQ(res2.status, 413) << res2.body.substr(0, 200);
}

TEST_F(http_api, content_type_is_not_checked_the_body_must_be_json) {
  // The original accepted any content type (curl -d sends form encoding); the body decides.
  json::object body{{"username", unique_name("ct")}, {"password", "password1"}, {"name", "x"}};
  auto res = http_request(port(), "POST", "/auth/register", json::serialize(body), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(res.status, 200) << res.body;
  auto bad = http_request(port(), "POST", "/auth/register", "username=a&password=b", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(bad.status, 400) << bad.body;
}

TEST_F(http_api, unknown_route_is_404) {
  auto res = http_request(port(), "GET", "/no/such/route");
  EXPECT_EQ(res.status, 404) << res.body;
  auto res2 = http_request(port(), "POST", "/auth/nothing", "{}");
  EXPECT_EQ(res2.status, 404) << res2.body;
}

TEST_F(http_api, wrong_method_is_405_with_allow) {
  auto res = http_request(port(), "GET", "/auth/register");
  EXPECT_EQ(res.status, 405) << res.body;
  EXPECT_NE(res.header("Allow").find("POST"), std::string::npos) << "Allow: " << res.header("Allow");
  auto res2 = http_request(port(), "DELETE", "/auth/login");
  EXPECT_EQ(res2.status, 405) << res2.body;
  auto res3 = http_request(port(), "POST", "/health", "{}");
  EXPECT_EQ(res3.status, 405) << res3.body;
}

TEST_F(http_api, health_is_200) {
  auto res = http_request(port(), "GET", "/health");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(str_field(res.json(), "status"), "ok");
}

TEST_F(http_api, metrics_is_prometheus_text) {
  auto res = http_request(port(), "GET", "/metrics");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_NE(res.body.find("# TYPE"), std::string::npos) << res.body.substr(0, 300);
}

TEST_F(http_api, options_preflight_is_204_with_cors_headers) {
  auto res = http_request(port(), "OPTIONS", "/auth/register", "",
                          {{"Origin", "http://client.example"},
                           {"Access-Control-Request-Method", "POST"},
                           {"Access-Control-Request-Headers", "content-type"}});
  EXPECT_EQ(res.status, 204) << res.body;
  EXPECT_TRUE(res.has_header("Access-Control-Allow-Origin"));
  const std::string origin = res.header("Access-Control-Allow-Origin");
  EXPECT_TRUE(origin == "*" || origin == "http://client.example") << origin;
  EXPECT_NE(res.header("Access-Control-Allow-Methods").find("POST"), std::string::npos)
      << res.header("Access-Control-Allow-Methods");
  std::string headers = res.header("Access-Control-Allow-Headers");
  for (char& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_TRUE(headers.find("content-type") != std::string::npos || headers == "*") << headers;
}

TEST_F(http_api, cors_header_on_normal_and_error_responses) {
  header_map origin{{"Origin", "http://client.example"}};
  auto health = http_request(port(), "GET", "/health", "", origin);
  EXPECT_TRUE(health.has_header("Access-Control-Allow-Origin"));
  auto bad_login = http_request(port(), "POST", "/auth/login",
                                json::serialize(json::object{{"username", "nobody_x"}, {"password", "whatever1"}}),
                                {{"Origin", "http://client.example"}, {"Content-Type", "application/json"}});
  EXPECT_EQ(bad_login.status, 401);
  EXPECT_TRUE(bad_login.has_header("Access-Control-Allow-Origin"));
  auto reg = http_request(port(), "POST", "/auth/register",
                          json::serialize(json::object{{"username", unique_name("cors")}, {"password", "password1"},
                                                       {"name", "c"}}),
                          {{"Origin", "http://client.example"}, {"Content-Type", "application/json"}});
  EXPECT_EQ(reg.status, 200);
  EXPECT_TRUE(reg.has_header("Access-Control-Allow-Origin"));
}

TEST_F(http_api, ws_and_ws_slash_both_upgrade) {
  auto user = make_user(unique_name("upgrade"));
  for (const std::string path : {"/ws", "/ws/"}) {
    SCOPED_TRACE(path);
    session s = connect_authed(user, false, path);
    EXPECT_EQ(int_field(s.profile, "id"), user.id);
  }
}

TEST_F(http_api, ws_route_without_upgrade_is_426) {
  auto res = http_request(port(), "GET", "/ws");
  EXPECT_EQ(res.status, 426) << res.body;
}

TEST_F(http_api, garbage_request_does_not_kill_the_server) {
  std::string answer = raw_tcp_exchange(port(), "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_TRUE(answer.empty() || answer.rfind("HTTP/1.1 4", 0) == 0) << answer;
  EXPECT_TRUE(server().alive());
  EXPECT_EQ(http_request(port(), "GET", "/health").status, 200);
}

}  // namespace
}  // namespace chatrix::test
