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
    EXPECT_FALSE(str_field(v, "error").empty()) << res.body;
    EXPECT_EQ(str_field(v, "code"), code) << res.body;
  }
};

TEST_F(http_api, register_returns_token_and_user) {
  const std::string name = unique_name("Reg_User");
  auto res = post_json("/auth/register", {{"username", name}, {"password", "correct horse"}, {"name", "Reg User"}});
  ASSERT_EQ(res.status, 200) << res.body;
  json::value v = res.json();
  EXPECT_FALSE(str_field(v, "token").empty());
  const auto& user = field_of(v, "user");
  EXPECT_GT(int_field(user, "id"), 0);
  EXPECT_EQ(str_field(user, "username"), name);
  EXPECT_EQ(str_field(user, "name"), "Reg User");
  EXPECT_NE(res.header("Content-Type").find("application/json"), std::string::npos) << res.header("Content-Type");
}

TEST_F(http_api, register_with_empty_name_uses_username) {
  const std::string name = unique_name("noname");
  auto res = post_json("/auth/register", {{"username", name}, {"password", "correct horse"}, {"name", ""}});
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(str_field(field_of(res.json(), "user"), "name"), name);
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
  EXPECT_EQ(str_field(field_of(in.json(), "user"), "username"), name);
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
  EXPECT_EQ(int_field(field_of(v, "user"), "id"), reg.id);
  EXPECT_EQ(str_field(field_of(v, "user"), "username"), name);
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

TEST_F(http_api, login_without_username_or_password_is_400_not_401) {
  const std::string name = unique_name("login_missing");
  register_user(port(), name, "secret-pass", "x");
  struct bad_case {
    json::object body;
    const char* why;
  };
  const std::vector<bad_case> cases = {
      {{{"password", "secret-pass"}}, "username missing"},
      {{{"username", name}}, "password missing"},
      {{{"username", ""}, {"password", "secret-pass"}}, "username empty"},
      {{{"username", name}, {"password", ""}}, "password empty"},
      {{{"username", nullptr}, {"password", "secret-pass"}}, "username null"},
      {{}, "empty object"},
      {{{"username", name}, {"password", 12345678}}, "password not a string"},
  };
  for (const auto& c : cases) {
    auto res = post_json("/auth/login", c.body);
    EXPECT_EQ(res.status, 400) << c.why << ": " << res.body;
    if (res.status == 400) expect_error_body(res, "invalid_field");
  }
  // The complete request still logs in.
  EXPECT_EQ(post_json("/auth/login", {{"username", name}, {"password", "secret-pass"}}).status, 200);
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
  expect_error_body(res, "body_too_large");
  auto res2 = http_request(port(), "POST", "/auth/login", std::string(20 * 1024, ' '));
  EXPECT_EQ(res2.status, 413) << res2.body.substr(0, 200);
  expect_error_body(res2, "body_too_large");
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
  expect_error_body(res, "method_not_allowed");
  EXPECT_NE(res.header("Allow").find("POST"), std::string::npos) << "Allow: " << res.header("Allow");
  auto res2 = http_request(port(), "DELETE", "/auth/login");
  EXPECT_EQ(res2.status, 405) << res2.body;
  expect_error_body(res2, "method_not_allowed");
  auto res3 = http_request(port(), "POST", "/health", "{}");
  EXPECT_EQ(res3.status, 405) << res3.body;
  expect_error_body(res3, "method_not_allowed");
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
  expect_error_body(res, "upgrade_required");
}

/// A response read off a raw socket: status, head and body.
struct raw_answer {
  int status = 0;
  std::string head;
  std::string body;
};

raw_answer split_answer(const std::string& bytes) {
  raw_answer a;
  const auto end = bytes.find("\r\n\r\n");
  if (bytes.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return a;
  a.status = std::atoi(bytes.substr(9, 3).c_str());
  a.head = bytes.substr(0, end);
  for (char& c : a.head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  a.body = bytes.substr(end + 4);
  return a;
}

TEST_F(http_api, requests_the_parser_refuses_get_an_answer_then_the_connection_closes) {
  struct bad_case {
    std::string request;
    int status;
    const char* code;
    const char* why;
  };
  const std::string big_header(20 * 1024, 'h');
  const std::vector<bad_case> cases = {
      {"THIS IS NOT HTTP\r\n\r\n", 400, "malformed_request", "not a request line"},
      {"GET /health HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", 400, "malformed_request", "a header without a colon"},
      {"\x01\x02\x03\r\n\r\n", 400, "malformed_request", "binary garbage"},
      {"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + big_header + "\r\n\r\n", 431, "headers_too_large",
       "headers over 16 KiB"},
      {"GET /" + big_header + " HTTP/1.1\r\nHost: x\r\n\r\n", 431, "headers_too_large", "a request line over 16 KiB"},
      // Far more than the limit: the server must read past the refused part (not reset the
      // connection) so that its answer arrives.
      {"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(512 * 1024, 'h') + "\r\n\r\n", 431,
       "headers_too_large", "headers of 512 KiB"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.why);
    // raw_tcp_exchange reads until the server closes, so a returned answer also shows the close.
    const auto a = split_answer(raw_tcp_exchange(port(), c.request));
    EXPECT_EQ(a.status, c.status) << a.head;
    EXPECT_NE(a.head.find("connection: close"), std::string::npos) << a.head;
    EXPECT_NE(a.head.find("content-type: application/json"), std::string::npos) << a.head;
    http_response as_json{a.status, {}, a.body};
    if (a.status == c.status) expect_error_body(as_json, c.code);
  }
  EXPECT_TRUE(server().alive());
  EXPECT_EQ(http_request(port(), "GET", "/health").status, 200);
}

}  // namespace
}  // namespace chatrix::test
