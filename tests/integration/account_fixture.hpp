// What the account and blocking suites share: Bearer requests on /v1/ and the code of a
// refusal. Sockets ignore typing and presence frames, which these suites do not test
// (typing_test.cpp, presence_test.cpp do).
#pragma once

#include "support/chat_fixture.hpp"

#include <string>

namespace chatrix::test {

class account_fixture : public chat_test {
 protected:
  http_response call(const std::string& method, const std::string& target, const test_user& as,
                     const std::string& body = "") {
    return http_request(port(), method, target, body, {{"Authorization", "Bearer " + as.token}});
  }
  http_response call(const std::string& method, const std::string& target, const test_user& as,
                     const json::object& body) {
    return call(method, target, as, json::serialize(body));
  }
  /// The error code of a JSON error answer, which must have `status`.
  static std::string refused(const http_response& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return str_field(r.json(), "code");
  }
  /// A session that skips typing (17) and presence (18) frames.
  session connect_quiet(const test_user& u) {
    auto s = connect_authed(u);
    s->ignore_type(ev_typing);
    s->ignore_type(ev_presence);
    return s;
  }
  /// The conversation rows of GET /v1/conversations.
  json::array conversations_of(const test_user& u) {
    const auto r = call("GET", "/v1/conversations", u);
    EXPECT_EQ(r.status, 200) << r.body;
    return field_of(r.json(), "conversations").as_array();
  }
  /// The messages of one conversation (GET /v1/conversations/{chat}/messages), oldest first.
  json::array messages_of(const test_user& u, std::int64_t chat) {
    const auto r = call("GET", "/v1/conversations/" + std::to_string(chat) + "/messages?limit=200", u);
    EXPECT_EQ(r.status, 200) << r.body;
    return field_of(r.json(), "messages").as_array();
  }
  /// Sends over POST /v1/messages; the answer's body, which must be 201.
  json::value sent(const test_user& from, const json::object& text) {
    const auto r = call("POST", "/v1/messages", from, text);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }
};

}  // namespace chatrix::test
