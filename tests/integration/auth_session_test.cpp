// WebSocket authentication: the first-frame token handshake, PROFILE_INFO/CHATPREVIEWS on
// success, ERR "unauthorized" + close 1008 for every kind of bad token, the auth deadline,
// and the 1001 close on shutdown.
#include "support/chat_fixture.hpp"
#include "support/jwt_mint.hpp"

#include "auth/jwt.hpp"

#include <sys/wait.h>

namespace chatrix::test {
namespace {

class auth_session : public chat_test {
 protected:
  // Sends `first_frame` as the first text frame and expects ERR unauthorized then close 1008.
  void expect_rejected(const std::string& first_frame, const std::string& what) {
    SCOPED_TRACE(what);
    auto ws = connect_raw();
    ws->send_text(first_frame);
    json::value frame = ws->recv_json(10s);
    EXPECT_EQ(err_code(frame), "unauthorized") << json::serialize(frame);
    EXPECT_TRUE(ws->wait_closed(10s)) << "server did not close after a rejected token";
    EXPECT_EQ(ws->close_code(), 1008) << ws->close_error();
  }
  std::string token_frame(const std::string& token) { return json::serialize(json::object{{"token", token}}); }
};

TEST_F(auth_session, new_user_gets_profile_then_null_previews) {
  auto alice = make_user("alice", "Alice A");
  auto ws = connect_raw();
  ws->send_text(token_frame(alice.token));
  json::value profile = ws->recv_type(ev_profile_info);
  const auto& p = body_of(profile);
  EXPECT_EQ(int_field(p, "id"), alice.id);
  EXPECT_EQ(str_field(p, "username"), "alice");
  EXPECT_EQ(str_field(p, "name"), "Alice A");
  json::value previews = ws->recv_type(ev_chat_previews);
  EXPECT_TRUE(body_of(previews).is_null()) << json::serialize(previews);
  // Nothing pending; SYNCED at position 0 (the stream is empty) ends the login frames.
  EXPECT_EQ(int_field(body_of(ws->recv_type(ev_synced)), "pos"), 0);
  ws->expect_no_frame(300ms);
  EXPECT_FALSE(ws->closed());
}

TEST_F(auth_session, hand_minted_hs256_token_is_accepted) {
  // The positive control for the forged-token tests below: our minting is right.
  auto alice = make_user("alice");
  session s;
  auto ws = connect_raw();
  ws->send_text(token_frame(hs256_token(alice.id, test_jwt_secret)));
  EXPECT_EQ(int_field(body_of(ws->recv_type(ev_profile_info)), "id"), alice.id);
  ws->recv_type(ev_chat_previews);
}

TEST_F(auth_session, token_from_chatrix_auth_codec_is_accepted) {
  auto alice = make_user("alice");
  auth::token_codec codec(test_jwt_secret, std::chrono::hours(24));
  auto ws = connect_raw();
  ws->send_text(token_frame(codec.issue(alice.id, std::chrono::system_clock::now()).token));
  EXPECT_EQ(int_field(body_of(ws->recv_type(ev_profile_info)), "id"), alice.id);
}

TEST_F(auth_session, numeric_string_sub_is_accepted) {
  auto alice = make_user("alice");
  auto claims = standard_claims(alice.id);
  claims["sub"] = std::to_string(alice.id);
  auto ws = connect_raw();
  ws->send_text(token_frame(mint_jwt({{"alg", "HS256"}, {"typ", "JWT"}}, claims, test_jwt_secret, "HS256")));
  EXPECT_EQ(int_field(body_of(ws->recv_type(ev_profile_info)), "id"), alice.id);
}

TEST_F(auth_session, acks_flag_in_hello_is_accepted) {
  auto alice = make_user("alice");
  session s = connect_authed(alice, true);
  EXPECT_EQ(int_field(s.profile, "id"), alice.id);
}

TEST_F(auth_session, garbage_token_is_rejected) { expect_rejected(token_frame("not.a.jwt"), "garbage"); }

TEST_F(auth_session, empty_and_missing_token_are_rejected) {
  expect_rejected(token_frame(""), "empty token");
  expect_rejected("{}", "no token field");
  expect_rejected(json::serialize(json::object{{"token", 42}}), "token not a string");
}

TEST_F(auth_session, expired_token_is_rejected) {
  auto alice = make_user("alice");
  // Issued 2 days ago for 24 h: expired by a day, far beyond the 30 s leeway.
  auto claims = standard_claims(alice.id, std::chrono::hours(24), std::chrono::hours(48));
  expect_rejected(token_frame(mint_jwt({{"alg", "HS256"}, {"typ", "JWT"}}, claims, test_jwt_secret, "HS256")),
                  "expired (hand-minted)");
  auth::token_codec codec(test_jwt_secret, std::chrono::hours(1));
  expect_rejected(token_frame(codec.issue(alice.id, std::chrono::system_clock::now() - std::chrono::hours(3)).token),
                  "expired (chatrix_auth)");
}

TEST_F(auth_session, not_yet_valid_token_is_rejected) {
  auto alice = make_user("alice");
  auto claims = standard_claims(alice.id);
  claims["nbf"] = to_i64(claims["nbf"]) + 3600;
  expect_rejected(token_frame(mint_jwt({{"alg", "HS256"}, {"typ", "JWT"}}, claims, test_jwt_secret, "HS256")),
                  "nbf in an hour");
}

TEST_F(auth_session, token_signed_with_another_secret_is_rejected) {
  auto alice = make_user("alice");
  expect_rejected(token_frame(hs256_token(alice.id, "some-other-secret-of-enough-length-000")), "other secret");
}

TEST_F(auth_session, alg_none_is_rejected) {
  auto alice = make_user("alice");
  expect_rejected(token_frame(mint_jwt({{"alg", "none"}, {"typ", "JWT"}}, standard_claims(alice.id), "", "none")),
                  "alg none");
  expect_rejected(token_frame(mint_jwt({{"alg", "None"}, {"typ", "JWT"}}, standard_claims(alice.id), "", "none")),
                  "alg None");
}

TEST_F(auth_session, hs512_with_the_right_secret_is_rejected) {
  auto alice = make_user("alice");
  expect_rejected(
      token_frame(mint_jwt({{"alg", "HS512"}, {"typ", "JWT"}}, standard_claims(alice.id), test_jwt_secret, "HS512")),
      "HS512");
  // An HS256 signature under a header that claims another alg is a forgery as well.
  expect_rejected(
      token_frame(mint_jwt({{"alg", "HS384"}, {"typ", "JWT"}}, standard_claims(alice.id), test_jwt_secret, "HS256")),
      "header HS384, HS256 signature");
}

TEST_F(auth_session, wrong_issuer_or_audience_is_rejected) {
  auto alice = make_user("alice");
  auto bad_iss = standard_claims(alice.id);
  bad_iss["iss"] = "someone-else";
  expect_rejected(token_frame(mint_jwt({{"alg", "HS256"}}, bad_iss, test_jwt_secret, "HS256")), "iss");
  auto bad_aud = standard_claims(alice.id);
  bad_aud["aud"] = "someone-else";
  expect_rejected(token_frame(mint_jwt({{"alg", "HS256"}}, bad_aud, test_jwt_secret, "HS256")), "aud");
}

TEST_F(auth_session, token_for_nonexistent_user_is_rejected) {
  make_user("alice");
  expect_rejected(token_frame(hs256_token(987654, test_jwt_secret)), "user 987654 does not exist");
  expect_rejected(token_frame(hs256_token(0, test_jwt_secret)), "sub 0");
  expect_rejected(token_frame(hs256_token(-5, test_jwt_secret)), "negative sub");
}

TEST_F(auth_session, first_frame_not_json_is_rejected) { expect_rejected("hello server", "not JSON"); }

TEST_F(auth_session, tampered_payload_is_rejected) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  // Alice's signature on a payload that names Bob.
  std::string good = hs256_token(alice.id, test_jwt_secret);
  std::string other = hs256_token(bob.id, test_jwt_secret);
  auto dot1 = good.find('.');
  auto dot2 = good.rfind('.');
  auto odot1 = other.find('.');
  auto odot2 = other.rfind('.');
  std::string forged = good.substr(0, dot1) + other.substr(odot1, odot2 - odot1) + good.substr(dot2);
  expect_rejected(token_frame(forged), "payload swapped");
}

class auth_deadline : public chat_test {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"AUTH_TIMEOUT", "1"}}; }
};

TEST_F(auth_deadline, silent_client_is_closed_with_1008) {
  auto ws = connect_raw();
  // AUTH_TIMEOUT=1: the 10 s wait is only a guard.
  EXPECT_TRUE(ws->wait_closed(10s)) << "server kept a silent, unauthenticated socket open";
  EXPECT_EQ(ws->close_code(), 1008) << ws->close_error();
}

TEST_F(auth_deadline, authenticated_session_outlives_the_auth_deadline) {
  auto alice = make_user("alice");
  session s = connect_authed(alice);
  // A connection opened after Alice's and never authenticated: once the server has closed it,
  // Alice's auth deadline (earlier than its own) has passed too.
  auto silent = connect_raw();
  ASSERT_TRUE(silent->wait_closed(10s)) << "the auth deadline never closed the silent socket";
  EXPECT_EQ(silent->close_code(), 1008) << silent->close_error();
  EXPECT_FALSE(s->closed());
  s->send_json(ev_search_request, json::object{{"username", "ali"}});
  s->recv_type(ev_search_response);
}

TEST_F(auth_session, shutdown_closes_sessions_with_1001_and_exits_cleanly) {
  auto alice = make_user("alice");
  session s = connect_authed(alice);
  auto status = server().stop();
  ASSERT_TRUE(status.has_value()) << "server did not exit within the grace period after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "exit status " << *status;
  EXPECT_TRUE(s->wait_closed(5s));
  EXPECT_EQ(s->close_code(), 1001) << s->close_error();
}

TEST_F(auth_session, shutdown_after_clients_left_exits_cleanly) {
  auto alice = make_user("alice");
  {
    session s = connect_authed(alice);
    s->close();  // a clean close handshake
  }
  {
    session s = connect_authed(alice);
    s->abort();  // and a dropped TCP connection
  }
  // Generous grace: this checks that SIGTERM ends the process at all, not how fast.
  auto status = server().stop(20s);
  ASSERT_TRUE(status.has_value()) << "server still running 20 s after SIGTERM once its clients had gone";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "exit status " << *status;
}

}  // namespace
}  // namespace chatrix::test
