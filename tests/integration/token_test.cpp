// The token lifecycle on the real server: a live socket ends when its token expires unless it
// sent a fresh one (frame 19) first; logout, logout-all and a password change end the sockets
// of the tokens they revoke at once, and those tokens stay refused, also after a restart.
#include "support/chat_fixture.hpp"
#include "support/jwt_mint.hpp"
#include "support/metrics_probe.hpp"

namespace chatrix::test {
namespace {

/// The clock skew the server allows after exp (auth::token_leeway).
constexpr auto leeway = 30s;

class token_lifecycle : public chat_test {
 protected:
  /// A token of `user` (no jti, as tokens minted elsewhere) whose session must end in
  /// `left`: exp lies `leeway - left` in the past.
  static std::string expiring_token(const test_user& user, std::chrono::seconds left) {
    const auto claims = standard_claims(user.id, std::chrono::seconds(60), std::chrono::seconds(60) + leeway - left);
    return mint_jwt({{"alg", "HS256"}, {"typ", "JWT"}}, claims, test_jwt_secret, "HS256");
  }
  static test_user with_token(test_user user, std::string token) {
    user.token = std::move(token);
    return user;
  }
  http_response post(const std::string& path, const std::string& bearer, const std::string& body = "") {
    header_map headers;
    if (!bearer.empty()) headers["Authorization"] = "Bearer " + bearer;
    return http_request(port(), "POST", path, body, headers);
  }
  /// The ERR the server ends a session with, then its close 1008.
  static void expect_ended(ws_client& ws, const std::string& reason, std::chrono::milliseconds within = 10s) {
    const auto err = ws.recv_type(ev_err, within);
    EXPECT_EQ(err_code(err), "unauthorized");
    EXPECT_EQ(str_field(body_of(err), "error"), reason);
    EXPECT_TRUE(ws.wait_closed(10s)) << "the session was not closed after " << reason;
    EXPECT_EQ(ws.close_code(), 1008) << ws.close_error();
  }
  /// A WebSocket authenticating with `token` is refused: ERR unauthorized, close 1008.
  void expect_refused(const std::string& token, const std::string& reason) {
    auto ws = connect_raw();
    ws->send_text(json::serialize(json::object{{"token", token}}));
    const auto err = ws->recv_json(10s);
    EXPECT_EQ(err_code(err), "unauthorized") << json::serialize(err);
    EXPECT_EQ(str_field(body_of(err), "error"), reason);
    EXPECT_TRUE(ws->wait_closed(10s));
    EXPECT_EQ(ws->close_code(), 1008) << ws->close_error();
  }
  static std::int64_t revoked_count(const http_response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    return int_field(r.json(), "revoked");
  }
};

// ---- expiry and refresh (frame 19) ----

TEST_F(token_lifecycle, a_live_socket_is_ended_when_its_token_expires) {
  const auto alice = make_user("alice");
  auto s = connect_authed(with_token(alice, expiring_token(alice, 2s)));
  expect_ended(*s.ws, "token expired");
  EXPECT_GE(metric_value(port(), "chatrix_sessions_closed_token_total"), 1);
}

TEST_F(token_lifecycle, a_fresh_token_sent_in_time_keeps_the_socket_open) {
  const auto alice = make_user("alice");
  auto s = connect_authed(with_token(alice, expiring_token(alice, 2s)));
  s->send_json(ev_refresh_token, json::object{{"token", alice.token}});
  const auto answer = body_of(s->recv_type(ev_refresh_token));
  EXPECT_TRUE(is_rfc3339(str_field(answer, "expires_at"))) << json::serialize(answer);
  // Past the old token's end: nothing comes, the socket stays and still works.
  s->expect_no_frame(3500ms);
  EXPECT_FALSE(s->closed());
  make_user("bob");
  send_and_confirm(s, text_to("bob", "still here"));
}

TEST_F(token_lifecycle, a_refresh_with_another_users_or_a_bad_token_is_refused_and_the_old_token_stays) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  auto s = connect_authed(with_token(alice, expiring_token(alice, 3s)));
  for (const json::object& body : {json::object{{"token", bob.token}}, json::object{{"token", "garbage"}},
                                    json::object{{"token", expiring_token(alice, -5s)}}, json::object{}}) {
    SCOPED_TRACE(json::serialize(body));
    s->send_json(ev_refresh_token, body);
    const auto err = s->recv_type(ev_err);
    EXPECT_EQ(err_code(err), "unauthorized");
    EXPECT_EQ(int_field(body_of(err), "ref_type"), ev_refresh_token);
  }
  EXPECT_FALSE(s->closed());
  // Still on the old token: it ends with it.
  expect_ended(*s.ws, "token expired");
  EXPECT_GE(metric_value(port(), "chatrix_bad_tokens_total"), 3);
}

// ---- logout ----

TEST_F(token_lifecycle, logout_ends_the_socket_of_that_token_only_and_the_token_stays_refused) {
  const auto alice = make_user("alice");
  const auto second = login(port(), "alice", alice.password);
  auto s1 = connect_authed(alice);
  auto s2 = connect_authed(with_token(alice, second.token));

  EXPECT_EQ(revoked_count(post("/auth/logout", alice.token)), 1);
  expect_ended(*s1.ws, "token revoked");
  s2->expect_no_frame(300ms);
  EXPECT_FALSE(s2->closed());
  expect_refused(alice.token, "token revoked");
  const auto again = post("/auth/logout", alice.token);
  EXPECT_EQ(again.status, 401);
  EXPECT_EQ(str_field(again.json(), "code"), "unauthorized");
  EXPECT_EQ(metric_value(port(), "chatrix_tokens_revoked_total"), 1);

  // Revocation is durable: after a restart the token is still refused, the other one works.
  s2->close();
  server().stop();
  server().start();
  expect_refused(alice.token, "token revoked");
  connect_authed(with_token(alice, second.token));
}

TEST_F(token_lifecycle, logout_all_ends_every_socket_of_the_user) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  const auto second = login(port(), "alice", alice.password);
  const auto minted = hs256_token(alice.id, test_jwt_secret);  // no jti: revoked by the cutoff
  auto s1 = connect_authed(alice);
  auto s2 = connect_authed(with_token(alice, second.token));
  auto s3 = connect_authed(with_token(alice, minted));
  auto b = connect_authed(bob);

  EXPECT_GE(revoked_count(post("/auth/logout-all", second.token)), 2);
  for (auto* s : {&s1, &s2, &s3}) expect_ended(*s->ws, "token revoked");
  b->expect_no_frame(300ms);
  EXPECT_FALSE(b->closed());
  for (const auto& t : {alice.token, second.token, minted}) expect_refused(t, "token revoked");
  // A new login is a new token, and it works.
  connect_authed(login(port(), "alice", alice.password));
}

// ---- password change ----

TEST_F(token_lifecycle, a_password_change_ends_the_other_sockets_and_keeps_the_callers) {
  const auto alice = make_user("alice");
  const auto caller = login(port(), "alice", alice.password);
  auto other = connect_authed(alice);
  auto mine = connect_authed(with_token(alice, caller.token));
  const std::string new_password = "a brand new secret";
  const auto body = json::serialize(json::object{{"old_password", alice.password}, {"new_password", new_password}});

  EXPECT_GE(revoked_count(post("/auth/password", caller.token, body)), 1);
  expect_ended(*other.ws, "token revoked");
  mine->expect_no_frame(300ms);
  EXPECT_FALSE(mine->closed());
  expect_refused(alice.token, "token revoked");

  const auto old_login = http_request(
      port(), "POST", "/auth/login", json::serialize(json::object{{"username", "alice"}, {"password", alice.password}}));
  EXPECT_EQ(old_login.status, 401);
  connect_authed(login(port(), "alice", new_password));
  // The caller's token still works for a new socket too.
  connect_authed(with_token(alice, caller.token));
}

TEST_F(token_lifecycle, a_password_change_with_a_wrong_old_password_or_a_weak_new_one_changes_nothing) {
  const auto alice = make_user("alice");
  auto s = connect_authed(alice);
  const auto wrong = post("/auth/password", alice.token,
                          json::serialize(json::object{{"old_password", "not it at all"}, {"new_password", "whatever 123"}}));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(str_field(wrong.json(), "code"), "bad_credentials");
  const auto weak = post("/auth/password", alice.token,
                         json::serialize(json::object{{"old_password", alice.password}, {"new_password", "short"}}));
  EXPECT_EQ(weak.status, 400);
  EXPECT_EQ(str_field(weak.json(), "code"), "invalid_field");
  s->expect_no_frame(300ms);
  EXPECT_FALSE(s->closed());
  login(port(), "alice", alice.password);
}

// ---- the Authorization header ----

TEST_F(token_lifecycle, the_routes_need_a_good_bearer_token_in_the_header) {
  const auto alice = make_user("alice");
  for (const char* path : {"/auth/logout", "/auth/logout-all", "/auth/password"}) {
    SCOPED_TRACE(path);
    const std::string body =
        json::serialize(json::object{{"old_password", alice.password}, {"new_password", "a brand new secret"}});
    for (const std::string& header : {std::string(), "Basic " + alice.token, std::string("Bearer "),
                                      std::string("Bearer not.a.jwt"), "Bearer " + hs256_token(alice.id, "another-secret-0123456789")}) {
      SCOPED_TRACE(header);
      header_map headers;
      if (!header.empty()) headers["Authorization"] = header;
      const auto r = http_request(port(), "POST", path, body, headers);
      EXPECT_EQ(r.status, 401) << r.body;
      EXPECT_EQ(str_field(r.json(), "code"), "unauthorized");
      EXPECT_EQ(r.header("WWW-Authenticate").rfind("Bearer", 0), 0u);
    }
    // Never from the URL.
    const auto in_url = http_request(port(), "POST", std::string(path) + "?token=" + alice.token, body);
    EXPECT_EQ(in_url.status, 401);
    const auto get = http_request(port(), "GET", path, "", {{"Authorization", "Bearer " + alice.token}});
    EXPECT_EQ(get.status, 405);
  }
  // None of that revoked or changed anything; the scheme is case-insensitive.
  connect_authed(alice);
  EXPECT_EQ(revoked_count(http_request(port(), "POST", "/auth/logout", "", {{"Authorization", "bearer " + alice.token}})),
            1);
}

}  // namespace
}  // namespace chatrix::test
