// Shared by typing_test.cpp and presence_test.cpp: sessions that keep TYPING (17) and
// PRESENCE (18), which connect_authed drops for the other suites, and waiting for one frame
// type among the others a busy session gets (TEXT, SENT, RECEIVED, the other kind).
#pragma once

#include "support/chat_fixture.hpp"

#include <chrono>
#include <string>

namespace chatrix::test {

class people_test : public chat_test {
 protected:
  /// Like connect_authed, but typing and presence frames are kept, and it returns once the
  /// device is in sync (SYNCED): from then on it is announced online and gets typing, which
  /// a device still catching up does not.
  session connect_watching(const test_user& user, ws_options options = {}) {
    session s;
    s.ws = connect_raw("/ws", options);
    s.ws->set_label("ws of " + user.username);
    s.ws->send_text(json::serialize(json::object{{"token", user.token}}));
    s.profile = body_of(s.ws->recv_type(ev_profile_info, std::chrono::seconds(10)));
    s.previews = body_of(s.ws->recv_type(ev_chat_previews, std::chrono::seconds(10)));
    next_of(s, ev_synced, std::chrono::seconds(10));
    return s;
  }

  /// The next frame of `type`, dropping frames of any other type meanwhile.
  static json::value next_of(const session& s, int type, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("no frame of type " + std::to_string(type) + " in time");
      auto frame = s->recv_json(left);
      if (int_field(frame, "type") == type) return frame;
    }
  }

  /// Fails when a frame of `type` arrives within `window` (others are dropped).
  static void expect_none_of(const session& s, int type, std::chrono::milliseconds window) {
    for (const auto& text : s->drain(window)) {
      const auto frame = json::parse(text);
      EXPECT_NE(int_field(frame, "type"), type) << "unexpected: " << text;
    }
  }

  /// POST /v1/blocks {"username"} as `who`; false when this server has no such route.
  bool block(const test_user& who, const std::string& username) {
    const auto r = http_request(port(), "POST", "/v1/blocks", json::serialize(json::object{{"username", username}}),
                                {{"Authorization", "Bearer " + who.token}});
    if (r.status == 404 && r.body.find("no route for") != std::string::npos) return false;
    EXPECT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body;
    return true;
  }

  /// A conversation of `from` with `to`: its chat_id.
  std::int64_t converse(const session& from, const test_user& to, const std::string& content = "hi") {
    from->send_json(ev_text, text_to(to.username, content));
    return int_field(body_of(next_of(from, ev_delivered)), "chat_id");
  }
};

}  // namespace chatrix::test
