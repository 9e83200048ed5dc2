// GoogleTest fixtures for the black-box integration tests: a real chatrix server per test
// (chat_test) or per suite (shared_server_test), users registered over HTTP, authenticated
// WebSocket sessions, and small JSON helpers for the wire format of docs/protocol.md.
#pragma once

#include "support/events.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::test {

namespace json = boost::json;

using test_user = registered_user;

/// An authenticated WebSocket connection and what the server said on login.
struct session {
  std::unique_ptr<ws_client> ws;
  json::value profile;   // PROFILE_INFO body
  json::value previews;  // CHATPREVIEWS body (null or an array)
  ws_client* operator->() const { return ws.get(); }
  ws_client& operator*() const { return *ws; }
};

// ---- JSON helpers: all throw std::runtime_error (a test failure) on a missing/mistyped field ----

/// The "body" of a frame.
const json::value& body_of(const json::value& frame);
/// Any field of an object (for comparing JSON values as they are, e.g. a mark).
const json::value& field_of(const json::value& obj, std::string_view key);
/// An integer JSON number (int64 or uint64 in range) as int64.
std::int64_t to_i64(const json::value& v);
std::int64_t int_field(const json::value& obj, std::string_view key);
std::string str_field(const json::value& obj, std::string_view key);
bool bool_field(const json::value& obj, std::string_view key);
bool has_field(const json::value& obj, std::string_view key);
/// The "code" of an ERR frame (type 3), failing the test if the frame is not a well-formed ERR
/// ({"error": non-empty string, "code": string}).
std::string err_code(const json::value& frame);
/// A TEXT body addressed by username ("to") only.
json::object text_to(const std::string& username, const std::string& content, json::value mark = nullptr);
/// A TEXT body addressed by "to_id" only.
json::object text_to_id(std::int64_t id, const std::string& content, json::value mark = nullptr);
/// True when `s` is an RFC 3339 date-time.
bool is_rfc3339(const std::string& s);
/// A username unique within this test process (for servers shared by several tests).
std::string unique_name(const std::string& prefix);

/// Helpers shared by both fixtures; the server is whatever server() returns.
class chat_test_base : public ::testing::Test {
 protected:
  virtual server_process& server() = 0;
  std::uint16_t port() { return server().port(); }

  void TearDown() override;

  /// Registers `username` (password "password-<username>") and returns id/username/token.
  test_user make_user(const std::string& username, const std::string& name = "");
  /// Connects to `path` without authenticating.
  std::unique_ptr<ws_client> connect_raw(const std::string& path = "/ws", ws_options options = {});
  /// Connects, sends {"token": ...} (with "acks": true when asked), and consumes PROFILE_INFO
  /// and CHATPREVIEWS, which are returned for inspection.
  session connect_authed(const test_user& user, bool acks = false, const std::string& path = "/ws",
                         ws_options options = {});
  /// Sends a TEXT body and returns the DELIVERED frame's body (skipping RECEIVED frames).
  json::value send_and_confirm(const session& s, const json::object& text_body);
};

/// A fresh server (and data dir) for every test. Override server_env() for extra settings.
class chat_test : public chat_test_base {
 protected:
  virtual std::map<std::string, std::string> server_env() const { return {}; }
  void SetUp() override;
  void TearDown() override;
  server_process& server() override { return *server_; }

  std::unique_ptr<server_process> server_;
};

/// One server for all tests of a suite (cheap tests that don't depend on a clean database).
class shared_server_test : public chat_test_base {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  server_process& server() override { return *shared_; }

  static std::unique_ptr<server_process> shared_;
};

}  // namespace chatrix::test
