// The security tests of docs/security.md ("Security tests"), one per item, through the real
// binary on both stores: forged and stale JWTs, access to other users' messages (IDOR), SQL
// metacharacters in every text the server stores or searches, login answers that do not tell
// an unknown user from a wrong password, secrets kept out of the log, and tokens never taken
// from a URL. The abuse limits and the token lifecycle have their own suites.
#include "support/chat_fixture.hpp"
#include "support/jwt_mint.hpp"
#include "support/test_database.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

namespace chatrix::test {
namespace {

using std::chrono::steady_clock;

/// These tests attack the server's answers, not its limits: with the per-address and
/// per-connection limits on, a test that registers, logs in and searches in a tight loop
/// would measure a limit instead (each limit has its own test).
std::map<std::string, std::string> limits_off() {
  return {{"LOGIN_FAILURE_LIMIT", "0"}, {"LOGIN_ADDRESS_LIMIT", "0"}, {"REGISTER_LIMIT", "0"},
          {"SEARCH_LIMIT", "0"},        {"HISTORY_LIMIT", "0"}};
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string token_frame(const std::string& token) { return json::serialize(json::object{{"token", token}}); }

std::string count_of(const server_process& server, const std::string& sql) {
  const auto rows = query_database(server, sql);
  if (rows.size() != 1 || rows[0].size() != 1) throw std::runtime_error(sql + ": not one value");
  return rows[0][0];
}

class security_base : public chat_test {
 protected:
  std::map<std::string, std::string> server_env() const override { return limits_off(); }

  /// The server answers the first frame with ERR unauthorized and closes with 1008, and
  /// never sends the profile.
  void expect_refused(const std::string& token, const std::string& what) {
    SCOPED_TRACE(what);
    auto ws = connect_raw();
    ws->send_text(token_frame(token));
    const json::value frame = ws->recv_json(10s);
    EXPECT_EQ(err_code(frame), "unauthorized") << json::serialize(frame);
    EXPECT_TRUE(ws->wait_closed(10s)) << "the server kept the socket of a refused token open";
    EXPECT_EQ(ws->close_code(), 1008) << ws->close_error();
    for (const auto& f : ws->drain(0ms))
      EXPECT_EQ(f.find("\"type\":4"), std::string::npos) << "a profile after a refused token: " << f;
  }

  /// The positive control of every forgery: the token logs `id` in.
  void expect_accepted(const std::string& token, std::int64_t id) {
    auto ws = connect_raw();
    ws->send_text(token_frame(token));
    EXPECT_EQ(int_field(body_of(ws->recv_type(ev_profile_info, 10s)), "id"), id);
    ws->close();
  }

  /// `user`'s own token (issued by the server) with its claims changed by `change` and its
  /// header's alg set to `header_alg`, signed for `sign_alg` with the server's secret.
  template <class Change>
  static std::string forge(const test_user& user, const std::string& header_alg, const std::string& sign_alg,
                           Change change) {
    auto header = header_of(user.token);
    header["alg"] = header_alg;
    auto claims = claims_of(user.token);
    change(claims);
    return mint_jwt(header, claims, test_jwt_secret, sign_alg);
  }
  static std::string resigned(const test_user& user) {
    return forge(user, "HS256", "HS256", [](json::object&) {});
  }
};

// ---- JWT: each forgery differs from a token the server accepts in one property ----

class security_jwt : public security_base {};

TEST_F(security_jwt, alg_none_is_refused) {
  auto alice = make_user("alice");
  expect_accepted(resigned(alice), alice.id);
  for (const std::string alg : {"none", "None", "NONE"})
    expect_refused(forge(alice, alg, "none", [](json::object&) {}), "unsigned, alg " + alg);
  // "none" in the header over a valid HS256 signature: the header's alg is not to be trusted
  // either way.
  expect_refused(forge(alice, "none", "HS256", [](json::object&) {}), "alg none, HS256 signature");
}

TEST_F(security_jwt, hs512_signed_with_the_secret_is_refused) {
  auto alice = make_user("alice");
  expect_accepted(resigned(alice), alice.id);
  expect_refused(forge(alice, "HS512", "HS512", [](json::object&) {}), "HS512");
}

TEST_F(security_jwt, rs256_header_with_an_hmac_of_the_secret_is_refused) {
  // Algorithm confusion: a verifier that lets the header pick the algorithm would check this
  // "RS256" signature with its key material, here the HMAC secret itself.
  auto alice = make_user("alice");
  expect_accepted(resigned(alice), alice.id);
  expect_refused(forge(alice, "RS256", "HS256", [](json::object&) {}), "RS256 header, HMAC-SHA256 signature");
  expect_refused(forge(alice, "RS256", "none", [](json::object&) {}), "RS256 header, no signature");
}

TEST_F(security_jwt, expired_beyond_the_leeway_is_refused) {
  auto alice = make_user("alice");
  // Expired 2 minutes ago: past the 30 s of clock skew allowed.
  expect_refused(forge(alice, "HS256", "HS256",
                       [](json::object& c) {
                         c["iat"] = unix_now() - 3600;
                         c["nbf"] = unix_now() - 3600;
                         c["exp"] = unix_now() - 120;
                       }),
                 "exp 2 minutes ago");
  expect_accepted(resigned(alice), alice.id);
}

TEST_F(security_jwt, not_yet_valid_beyond_the_leeway_is_refused) {
  auto alice = make_user("alice");
  expect_refused(forge(alice, "HS256", "HS256", [](json::object& c) { c["nbf"] = unix_now() + 300; }),
                 "nbf in 5 minutes");
  expect_accepted(resigned(alice), alice.id);
}

TEST_F(security_jwt, wrong_issuer_is_refused) {
  auto alice = make_user("alice");
  expect_accepted(resigned(alice), alice.id);
  expect_refused(forge(alice, "HS256", "HS256", [](json::object& c) { c["iss"] = "someone-else"; }), "iss");
  expect_refused(forge(alice, "HS256", "HS256", [](json::object& c) { c.erase("iss"); }), "no iss");
}

TEST_F(security_jwt, wrong_audience_is_refused) {
  auto alice = make_user("alice");
  expect_accepted(resigned(alice), alice.id);
  expect_refused(forge(alice, "HS256", "HS256", [](json::object& c) { c["aud"] = "someone-else"; }), "aud");
  expect_refused(forge(alice, "HS256", "HS256", [](json::object& c) { c["aud"] = json::array{"someone-else"}; }),
                 "aud array without chatrix-server");
  expect_refused(forge(alice, "HS256", "HS256", [](json::object& c) { c.erase("aud"); }), "no aud");
}

TEST_F(security_jwt, tampered_payload_is_refused) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  // Alice's header and signature around claims that name Bob.
  auto claims = claims_of(alice.token);
  claims["sub"] = bob.id;
  const auto first = alice.token.find('.');
  const auto last = alice.token.rfind('.');
  expect_refused(alice.token.substr(0, first + 1) + base64url(json::serialize(claims)) + alice.token.substr(last),
                 "sub changed after signing");
  // One bit of the signature flipped: its first character, whose six bits all count (the
  // last one's lowest bits are padding a lenient decoder may ignore).
  std::string flipped = alice.token;
  flipped[last + 1] = flipped[last + 1] == 'A' ? 'B' : 'A';
  expect_refused(flipped, "signature changed");
  expect_accepted(alice.token, alice.id);
}

TEST_F(security_jwt, token_of_a_user_that_never_existed_is_refused) {
  auto alice = make_user("alice");
  // Correctly signed by the server's secret, for an id no account ever had.
  expect_refused(forge(alice, "HS256", "HS256", [&](json::object& c) { c["sub"] = alice.id + 1000; }),
                 "sub of no account");
  expect_accepted(resigned(alice), alice.id);
}

TEST_F(security_jwt, token_of_a_deleted_user_is_refused) {
  auto alice = make_user("alice");
  auto dave = make_user("dave");
  // Dave's token works, and the server has now seen (and may cache) his account.
  expect_accepted(dave.token, dave.id);
  // Removed by hand as an operator would, with the server stopped: it does not expect rows
  // to vanish under it, and a restart is what would follow such a removal.
  ASSERT_TRUE(server().stop().has_value()) << "the server did not stop on SIGTERM";
  query_database(server(), "DELETE FROM users WHERE id = " + std::to_string(dave.id));
  ASSERT_EQ(count_of(server(), "SELECT count(*) FROM users WHERE id = " + std::to_string(dave.id)), "0");
  server().start();
  expect_refused(dave.token, "the account was deleted");
  expect_accepted(alice.token, alice.id);
}

// ---- IDOR: one user's frames naming another user's messages or conversations ----

class security_idor : public security_base {
 protected:
  /// 1 when message `id` is neither delivered nor read, read straight from the database.
  std::string untouched(std::int64_t id) {
    return count_of(server(), "SELECT count(*) FROM messages WHERE id = " + std::to_string(id) +
                                  " AND delivered_at IS NULL AND read_at IS NULL");
  }
};

TEST_F(security_idor, mark_read_of_someone_elses_message_is_forbidden_and_changes_nothing) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto carol = make_user("carol");
  session a = connect_authed(alice);
  session c = connect_authed(carol, /*acks=*/true);
  // Bob is offline: both messages wait for him.
  const auto to_bob = int_field(send_and_confirm(a, text_to("bob", "alice to bob", 1)), "message_id");
  const auto carols = int_field(send_and_confirm(c, text_to("bob", "carol to bob", 2)), "message_id");
  // Someone else's message, her own sent message, both at once, and with "to" naming the sender.
  for (const auto& ids : {json::array{to_bob}, json::array{carols}, json::array{to_bob, carols}}) {
    c->send_json(ev_mark_read, json::object{{"message_ids", ids}});
    EXPECT_EQ(err_code(c->recv_json()), "forbidden") << json::serialize(ids);
  }
  c->send_json(ev_mark_read, json::object{{"to", "alice"}, {"message_ids", json::array{to_bob}}});
  EXPECT_EQ(err_code(c->recv_json()), "forbidden");
  // Nothing read, nothing delivered (read implies received): no notice to either sender,
  // both rows untouched, and Bob still gets both messages as unread on his next connection.
  a->expect_no_frame(300ms);
  c->expect_no_frame(0ms);
  EXPECT_EQ(untouched(to_bob), "1");
  EXPECT_EQ(untouched(carols), "1");
  session b = connect_authed(bob);
  std::set<std::int64_t> pushed;
  pushed.insert(int_field(body_of(b->recv_type(ev_text)), "msg_id"));
  pushed.insert(int_field(body_of(b->recv_type(ev_text)), "msg_id"));
  EXPECT_EQ(pushed, (std::set<std::int64_t>{to_bob, carols}));
  ASSERT_TRUE(b.previews.is_array()) << json::serialize(b.previews);
  for (const auto& row : b.previews.as_array()) EXPECT_EQ(int_field(row, "unread"), 1) << json::serialize(row);
}

TEST_F(security_idor, history_of_a_conversation_between_two_others_is_forbidden_and_leaks_nothing) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto carol = make_user("carol");
  session a = connect_authed(alice);
  const auto id = int_field(send_and_confirm(a, text_to("bob", "the secret of alice and bob", 1)), "message_id");
  session c = connect_authed(carol);
  const std::vector<json::object> requests = {
      {{"user1_id", alice.id}, {"user2_id", bob.id}},
      {{"user1_id", bob.id}, {"user2_id", alice.id}},
      {{"user1_id", alice.id}, {"user2_id", bob.id}, {"before_id", id + 1}, {"limit", 200}},
      {{"user1_id", alice.id}, {"user2_id", alice.id}},
  };
  for (const auto& req : requests) {
    c->send_json(ev_history_request, req);
    const auto frame = c->recv_json();
    EXPECT_EQ(err_code(frame), "forbidden") << json::serialize(req) << " -> " << json::serialize(frame);
    EXPECT_EQ(json::serialize(frame).find("secret"), std::string::npos) << json::serialize(frame);
  }
  // Her own conversations with each of them are allowed, and empty.
  for (const auto peer : {alice.id, bob.id}) {
    c->send_json(ev_history_request, json::object{{"user1_id", carol.id}, {"user2_id", peer}});
    const auto frame = c->recv_type(ev_history_response);
    EXPECT_TRUE(body_of(frame).is_null()) << json::serialize(frame);
  }
}

TEST_F(security_idor, ack_of_someone_elses_message_ids_changes_nothing) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto carol = make_user("carol");
  auto dave = make_user("dave");
  session a = connect_authed(alice);
  session c = connect_authed(carol, /*acks=*/true);
  session d = connect_authed(dave);
  // Pending for (offline) Bob: one from Alice, one Carol sent herself.
  const auto to_bob = int_field(send_and_confirm(a, text_to("bob", "alice to bob", 1)), "message_id");
  const auto carols = int_field(send_and_confirm(c, text_to("bob", "carol to bob", 2)), "message_id");
  // And one that really is Carol's to acknowledge.
  const auto to_carol = int_field(send_and_confirm(d, text_to("carol", "dave to carol", 3)), "message_id");
  EXPECT_EQ(int_field(body_of(c->recv_type(ev_text)), "msg_id"), to_carol);
  // One ACK naming all three: the receipts go to the store together, so Dave's RECEIVED
  // shows the whole frame has been handled.
  c->send_json(ev_ack, json::object{{"message_ids", json::array{to_bob, carols, to_carol}}});
  const auto received = body_of(d->recv_type(ev_received, 10s));
  EXPECT_EQ(field_of(received, "message_ids"), (json::array{to_carol}));
  a->expect_no_frame(300ms);
  c->expect_no_frame(0ms);
  EXPECT_EQ(untouched(to_bob), "1");
  EXPECT_EQ(untouched(carols), "1");
  // Bob gets both on his next connection, and only then do the senders hear RECEIVED.
  session b = connect_authed(bob);
  std::set<std::int64_t> pushed;
  pushed.insert(int_field(body_of(b->recv_type(ev_text)), "msg_id"));
  pushed.insert(int_field(body_of(b->recv_type(ev_text)), "msg_id"));
  EXPECT_EQ(pushed, (std::set<std::int64_t>{to_bob, carols}));
  EXPECT_EQ(field_of(body_of(a->recv_type(ev_received, 10s)), "message_ids"), (json::array{to_bob}));
}

TEST_F(security_idor, previews_list_only_the_users_own_conversations) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto carol = make_user("carol");
  auto dave = make_user("dave");
  auto eve = make_user("eve");
  {
    session a = connect_authed(alice);
    send_and_confirm(a, text_to("bob", "secret between alice and bob", 1));
    session c = connect_authed(carol);
    send_and_confirm(c, text_to("dave", "carol to dave", 2));
  }
  const auto peers = [](const session& s) {
    std::set<std::int64_t> ids;
    if (s.previews.is_array())
      for (const auto& row : s.previews.as_array()) ids.insert(int_field(row, "id"));
    return ids;
  };
  session c = connect_authed(carol);
  EXPECT_EQ(peers(c), std::set<std::int64_t>{dave.id}) << json::serialize(c.previews);
  EXPECT_EQ(json::serialize(c.previews).find("secret"), std::string::npos) << json::serialize(c.previews);
  session b = connect_authed(bob);
  EXPECT_EQ(peers(b), std::set<std::int64_t>{alice.id}) << json::serialize(b.previews);
  // Someone in no conversation sees none.
  session e = connect_authed(eve);
  EXPECT_TRUE(e.previews.is_null()) << json::serialize(e.previews);
}

// ---- SQL metacharacters: answered like any text, stored verbatim, nothing else touched ----

/// Strings that break a query built by concatenation or an unescaped LIKE pattern.
const std::vector<std::string>& hostile_strings() {
  static const std::vector<std::string> strings = {
      "' OR 1=1 --", "'; DROP TABLE users; --", "%", "_", "\\", "\" OR \"\"=\"", "Robert'); DROP TABLE messages;--",
      "Zoë 日本語 🎉 ∑"};
  return strings;
}

/// About 10 KB of the same, over every length limit (fragment, username, content).
std::string ten_kilobytes() {
  std::string s;
  while (s.size() < 10 * 1024) s += "' OR 1=1 -- %_\\ ";
  return s;
}

class security_sql : public security_base {};

TEST_F(security_sql, search_fragments_match_only_literally) {
  auto me = make_user("searcher", "Searcher");
  make_user("alpha", "Alpha");
  make_user("percent", "100% sure");
  make_user("under_score", "Under");
  make_user("backslash", "back\\slash");
  make_user("quoter", "' OR 1=1 --");
  make_user("dropper", "'; DROP TABLE users; --");
  make_user("unicoder", "Zoë 日本語 🎉");
  session s = connect_authed(me);
  const auto search = [&](const std::string& fragment) {
    s->send_json(ev_search_request, json::object{{"username", fragment}});
    const auto frame = s->recv_type(ev_search_response);
    std::set<std::string> names;
    for (const auto& row : body_of(frame).as_array()) names.insert(str_field(row, "username"));
    return names;
  };
  using names = std::set<std::string>;
  EXPECT_EQ(search("%"), names{"percent"});
  EXPECT_EQ(search("_"), names{"under_score"});
  EXPECT_EQ(search("\\"), names{"backslash"});
  EXPECT_EQ(search("' OR 1=1 --"), names{"quoter"});
  EXPECT_EQ(search("'; DROP TABLE users; --"), names{"dropper"});
  EXPECT_EQ(search("'"), (names{"quoter", "dropper"}));
  EXPECT_EQ(search("--"), (names{"quoter", "dropper"}));
  EXPECT_EQ(search("' OR '1'='1"), names{});
  EXPECT_EQ(search("%%"), names{});
  EXPECT_EQ(search("a%"), names{});
  EXPECT_EQ(search("_e"), names{});
  EXPECT_EQ(search("\" OR \"\"=\""), names{});
  EXPECT_EQ(search("日本"), names{"unicoder"});
  EXPECT_EQ(search("ZOë"), names{"unicoder"});  // ASCII letters fold, ë stays itself
  s->send_json(ev_search_request, json::object{{"username", ten_kilobytes()}});
  EXPECT_EQ(err_code(s->recv_json()), "invalid_field");
  // Intact: every account is there and found.
  EXPECT_EQ(search("alpha"), names{"alpha"});
  EXPECT_EQ(count_of(server(), "SELECT count(*) FROM users"), "8");
}

TEST_F(security_sql, usernames_and_passwords_are_refused_or_answered_like_any_other) {
  auto alice = make_user("alice");
  const auto post = [&](const std::string& route, const json::object& body) {
    return http_request(port(), "POST", route, json::serialize(body));
  };
  const auto unknown = post("/auth/login", {{"username", "nobody_here"}, {"password", "whatever-password"}});
  ASSERT_EQ(unknown.status, 401) << unknown.body;
  auto usernames = hostile_strings();
  usernames.push_back(ten_kilobytes());
  for (const auto& name : usernames) {
    SCOPED_TRACE(name.substr(0, 40));
    const auto reg = post("/auth/register", {{"username", name}, {"password", "long-enough-password"}, {"name", "x"}});
    EXPECT_EQ(reg.status, 400) << reg.body;  // none is a valid username (A-Z a-z 0-9 _ . -, 3-32)
    EXPECT_EQ(str_field(reg.json(), "code"), "invalid_field") << reg.body;
    const auto in = post("/auth/login", {{"username", name}, {"password", "whatever-password"}});
    EXPECT_EQ(in.status, 401) << in.body;
    EXPECT_EQ(in.body, unknown.body);
    // The same strings as Alice's password: wrong, and nothing more.
    const auto wrong = post("/auth/login", {{"username", "alice"}, {"password", name}});
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    EXPECT_EQ(wrong.body, unknown.body);
  }
  // As a password they are just bytes: accounts with them log in with them, and only them.
  int made = 0;
  for (const auto& password : hostile_strings()) {
    if (password.size() < 8) continue;  // below the minimum length
    const std::string name = "pw_user_" + std::to_string(++made);
    const auto reg = register_user(port(), name, password, password.size() <= 64 ? password : "x");
    EXPECT_EQ(login(port(), name, password).id, reg.id);
    EXPECT_EQ(post("/auth/login", {{"username", name}, {"password", "' OR '1'='1"}}).status, 401);
  }
  const auto long_password = post("/auth/register", {{"username", "long_pw"}, {"password", ten_kilobytes()}});
  EXPECT_EQ(long_password.status, 400) << long_password.body;
  // Intact: Alice and the accounts made above, nothing else, and Alice still logs in.
  EXPECT_EQ(count_of(server(), "SELECT count(*) FROM users"), std::to_string(1 + made));
  EXPECT_EQ(login(port(), "alice", alice.password).id, alice.id);
}

TEST_F(security_sql, message_content_is_stored_and_returned_verbatim) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  session a = connect_authed(alice);
  session b = connect_authed(bob);
  auto contents = hostile_strings();
  // Exactly at the content limit (8 KiB), so the longest content stored is hostile too.
  contents.push_back(ten_kilobytes().substr(0, 8 * 1024));
  int mark = 0;
  for (const auto& content : contents) {
    send_and_confirm(a, text_to("bob", content, ++mark));
    EXPECT_EQ(str_field(body_of(b->recv_type(ev_text)), "content"), content);
  }
  a->send_json(ev_text, text_to("bob", ten_kilobytes(), ++mark));
  const auto too_long = a->recv_type_skipping(ev_err, {ev_received});
  EXPECT_EQ(err_code(too_long), "content_too_long");
  EXPECT_EQ(field_of(body_of(too_long), "mark"), json::value(mark));
  // NUL is the one character PostgreSQL text cannot hold: refused on both stores alike.
  a->send_json(ev_text, text_to("bob", std::string("a\0b", 3), ++mark));
  const auto nul = a->recv_type_skipping(ev_err, {ev_received});
  EXPECT_EQ(err_code(nul), "invalid_field");
  EXPECT_EQ(field_of(body_of(nul), "mark"), json::value(mark));
  // Intact: history and the table hold exactly what was sent, in order.
  a->send_json(ev_history_request, json::object{{"user1_id", alice.id}, {"user2_id", bob.id}});
  const auto history = body_of(a->recv_type_skipping(ev_history_response, {ev_received}));
  ASSERT_TRUE(history.is_array()) << json::serialize(history);
  std::vector<std::string> got;
  for (const auto& row : history.as_array()) got.push_back(str_field(row, "content"));
  EXPECT_EQ(got, contents);
  std::vector<std::string> stored;
  for (const auto& row : query_database(server(), "SELECT content FROM messages ORDER BY id")) stored.push_back(row[0]);
  EXPECT_EQ(stored, contents);
  EXPECT_EQ(count_of(server(), "SELECT count(*) FROM users"), "2");
}

// ---- Login: an unknown user and a wrong password look the same ----

class security_login : public security_base {
 protected:
  std::map<std::string, std::string> server_env() const override {
    auto env = limits_off();
    // The harness's "min" cost makes a verification almost free, so a server that skipped
    // it for unknown users would not show in the timing. At the real cost it dominates.
    env["ARGON2_PROFILE"] = "interactive";
    return env;
  }
};

TEST_F(security_login, unknown_user_and_wrong_password_get_the_same_answer_in_the_same_time) {
  const std::string password = "the-right-password";
  register_user(port(), "known_user", password, "Known");
  std::vector<double> unknown_ms;
  std::vector<double> wrong_ms;
  // One wrong login for `username`; its time goes to `times`.
  const auto attempt = [&](const std::string& username, std::vector<double>& times) {
    const json::object body{{"username", username}, {"password", "a-wrong-password"}};
    const auto start = steady_clock::now();
    auto res = http_request(port(), "POST", "/auth/login", json::serialize(body));
    times.push_back(std::chrono::duration<double, std::milli>(steady_clock::now() - start).count());
    return res;
  };
  attempt("unknown_user", unknown_ms);  // warm-up (first connections, caches), not counted
  attempt("known_user", wrong_ms);
  unknown_ms.clear();
  wrong_ms.clear();
  // Alternating, and each pair in the other order from the last, so that a change of load
  // on the machine falls on both alike.
  constexpr int rounds = 20;
  for (int i = 0; i < rounds; ++i) {
    http_response unknown;
    http_response wrong;
    if (i % 2 == 0) {
      unknown = attempt("unknown_user", unknown_ms);
      wrong = attempt("known_user", wrong_ms);
    } else {
      wrong = attempt("known_user", wrong_ms);
      unknown = attempt("unknown_user", unknown_ms);
    }
    ASSERT_EQ(unknown.status, 401) << unknown.body;
    ASSERT_EQ(wrong.status, unknown.status);
    ASSERT_EQ(wrong.body, unknown.body);
    ASSERT_EQ(wrong.header("Content-Type"), unknown.header("Content-Type"));
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  const double u = median(unknown_ms);
  const double w = median(wrong_ms);
  // Generous bounds: on a loaded 2-core machine single logins vary a lot, but both kinds run
  // the same verification, so their medians stay together; a server that skips it for one
  // kind differs by the whole verification cost (tens of ms at least, a factor of 10 or more).
  EXPECT_LE(std::max(u, w), 3 * std::min(u, w)) << "median unknown user " << u << " ms, wrong password " << w << " ms";
  EXPECT_LE(std::abs(u - w), 50.0) << "median unknown user " << u << " ms, wrong password " << w << " ms";
  // The right password still logs in.
  EXPECT_EQ(login(port(), "known_user", password).username, "known_user");
}

// ---- Secrets never in a log line ----

class security_logs : public security_base {
 protected:
  std::map<std::string, std::string> server_env() const override {
    auto env = limits_off();
    env["LOG_LEVEL"] = "trace";
    return env;
  }
};

TEST_F(security_logs, passwords_tokens_and_the_jwt_secret_never_reach_the_log) {
  const std::string alice_password = "alice-Pa55word-in-no-log";
  const std::string bob_password = "bob-Pa55word-in-no-log";
  const std::string wrong_password = "wrong-Pa55word-in-no-log";
  const auto alice = register_user(port(), "alice", alice_password, "Alice");
  const auto bob = register_user(port(), "bob", bob_password, "Bob");
  const auto relogged = login(port(), "alice", alice_password);
  std::vector<std::string> tokens = {alice.token, bob.token, relogged.token};
  // Refused attempts are what a log is most likely to record in full.
  const json::object wrong{{"username", "alice"}, {"password", wrong_password}};
  EXPECT_EQ(http_request(port(), "POST", "/auth/login", json::serialize(wrong)).status, 401);
  const json::object unknown{{"username", "nobody_at_all"}, {"password", wrong_password}};
  EXPECT_EQ(http_request(port(), "POST", "/auth/login", json::serialize(unknown)).status, 401);
  const json::object taken{{"username", "alice"}, {"password", alice_password}, {"name", "Again"}};
  EXPECT_EQ(http_request(port(), "POST", "/auth/register", json::serialize(taken)).status, 409);
  const json::object short_password{{"username", "carol"}, {"password", "short"}, {"name", "Carol"}};
  EXPECT_EQ(http_request(port(), "POST", "/auth/register", json::serialize(short_password)).status, 400);
  const std::vector<std::string> forgeries = {
      forge(alice, "HS256", "HS256", [](json::object& c) { c["aud"] = "someone-else"; }),
      forge(alice, "none", "none", [](json::object&) {}),
      alice.token.substr(0, alice.token.rfind('.') + 1) + std::string(43, 'A'),
  };
  for (const auto& forged : forgeries) {
    tokens.push_back(forged);
    auto ws = connect_raw();
    ws->send_text(token_frame(forged));
    EXPECT_EQ(err_code(ws->recv_json(10s)), "unauthorized");
  }
  {
    session a = connect_authed(alice);
    session b = connect_authed(relogged);  // a second device of Alice
    session c = connect_authed(bob, /*acks=*/true);
    const auto id = int_field(send_and_confirm(a, text_to("bob", "hello bob", 1)), "message_id");
    c->recv_type(ev_text);
    c->send_json(ev_ack, json::object{{"message_ids", json::array{id}}});
    c->send_json(ev_mark_read, json::object{{"message_ids", json::array{id}}});
    a->recv_type_skipping(ev_mark_read, {ev_received});
  }
  // Stopped first, so that every line is in the file.
  ASSERT_TRUE(server().stop().has_value());
  std::ifstream in(server().log_path());
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_NE(log.find("listening"), std::string::npos) << "not the server's log?\n" << log;
  const auto absent = [&](const std::string& secret, const std::string& what) {
    EXPECT_EQ(log.find(secret), std::string::npos) << what << " is in the log:\n" << server().log_tail(200);
  };
  absent(test_jwt_secret, "JWT_SECRET");
  for (const auto& p : {alice_password, bob_password, wrong_password}) absent(p, "a password");
  for (const auto& t : tokens) {
    absent(t, "a token");
    const auto signature = t.substr(t.rfind('.') + 1);
    if (!signature.empty()) absent(signature, "a token's signature");
  }
}

// ---- Tokens never accepted in a URL ----

class security_url_tokens : public security_base {
 protected:
  std::map<std::string, std::string> server_env() const override {
    auto env = limits_off();
    env["AUTH_TIMEOUT"] = "1";  // a socket that is not authenticated is closed after a second
    return env;
  }
};

TEST_F(security_url_tokens, a_token_in_the_websocket_url_does_not_authenticate) {
  auto alice = make_user("alice");
  for (const std::string parameter : {"token", "access_token"}) {
    SCOPED_TRACE(parameter);
    const std::string path = "/ws?" + parameter + "=" + alice.token;
    {
      // Nothing sent: the socket is an unauthenticated one, closed at the deadline.
      auto ws = connect_raw(path);
      EXPECT_TRUE(ws->wait_closed(10s)) << "a socket with only a URL token stayed open";
      EXPECT_EQ(ws->close_code(), 1008) << ws->close_error();
      for (const auto& f : ws->drain(0ms)) EXPECT_EQ(f.find("\"type\":4"), std::string::npos) << f;
    }
    {
      // A frame other than the token: refused as an unauthenticated first frame.
      auto ws = connect_raw(path);
      ws->send_json(ev_search_request, json::object{{"username", "alice"}});
      EXPECT_EQ(err_code(ws->recv_json(10s)), "unauthorized");
      EXPECT_TRUE(ws->wait_closed(10s));
      EXPECT_EQ(ws->close_code(), 1008) << ws->close_error();
    }
  }
  // The token itself is good.
  session s = connect_authed(alice);
  EXPECT_EQ(int_field(s.profile, "id"), alice.id);
}

TEST_F(security_url_tokens, http_routes_ignore_a_token_in_the_url) {
  auto alice = make_user("alice");
  for (const std::string parameter : {"token", "access_token"}) {
    const std::string query = "?" + parameter + "=" + alice.token;
    // Routes that act for the token's user must not act on one in the URL: none answers 2xx,
    // the token stays valid and the password unchanged.
    for (const std::string route : {"/auth/logout", "/auth/logout-all"}) {
      const auto res = http_request(port(), "POST", route + query, "{}");
      EXPECT_TRUE(res.status >= 400) << route << query << " answered " << res.status << ": " << res.body;
    }
    const json::object change{{"old_password", alice.password}, {"new_password", "a-new-password-1"}};
    const auto res = http_request(port(), "POST", "/auth/password" + query, json::serialize(change));
    EXPECT_TRUE(res.status >= 400) << "/auth/password" << query << " answered " << res.status << ": " << res.body;
  }
  EXPECT_EQ(login(port(), "alice", alice.password).id, alice.id);
  session s = connect_authed(alice);
  EXPECT_EQ(int_field(s.profile, "id"), alice.id);
}

}  // namespace
}  // namespace chatrix::test
