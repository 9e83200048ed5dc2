// Implementation of the integration-test fixtures and JSON helpers. See chat_fixture.hpp.
#include "support/chat_fixture.hpp"

#include <atomic>
#include <csignal>
#include <iostream>
#include <regex>
#include <stdexcept>

#include <sys/wait.h>

namespace chatrix::test {

namespace {

const json::object& as_obj(const json::value& v, std::string_view what) {
  if (!v.is_object()) throw std::runtime_error(std::string(what) + " is not an object: " + json::serialize(v));
  return v.as_object();
}

void ignore_sigpipe() {
  // A write to a socket the server already closed must fail, not kill the test runner.
  static const bool done = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}

}  // namespace

const json::value& field_of(const json::value& obj, std::string_view key) {
  const auto* f = as_obj(obj, "value").if_contains(key);
  if (f == nullptr)
    throw std::runtime_error("field '" + std::string(key) + "' missing in " + json::serialize(obj));
  return *f;
}

const json::value& body_of(const json::value& frame) { return field_of(frame, "body"); }

std::int64_t to_i64(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v.as_uint64());
  throw std::runtime_error("not an integer: " + json::serialize(v));
}

std::int64_t int_field(const json::value& obj, std::string_view key) {
  const auto& f = field_of(obj, key);
  if (!f.is_int64() && !f.is_uint64())
    throw std::runtime_error("field '" + std::string(key) + "' is not an integer in " + json::serialize(obj));
  return to_i64(f);
}

std::string str_field(const json::value& obj, std::string_view key) {
  const auto& f = field_of(obj, key);
  if (!f.is_string())
    throw std::runtime_error("field '" + std::string(key) + "' is not a string in " + json::serialize(obj));
  return std::string(f.as_string());
}

bool bool_field(const json::value& obj, std::string_view key) {
  const auto& f = field_of(obj, key);
  if (!f.is_bool()) throw std::runtime_error("field '" + std::string(key) + "' is not a bool in " + json::serialize(obj));
  return f.as_bool();
}

bool has_field(const json::value& obj, std::string_view key) {
  return obj.is_object() && obj.as_object().contains(key);
}

std::string err_code(const json::value& frame) {
  if (!frame.is_object() || !frame.as_object().contains("type") || frame.at("type") != json::value(3))
    throw std::runtime_error("expected an ERR frame (type 3), got " + json::serialize(frame));
  const auto& body = body_of(frame);
  // The original server's defect was {"error": {}}: the reason must be a readable string.
  EXPECT_TRUE(has_field(body, "error") && body.at("error").is_string() && !body.at("error").as_string().empty())
      << "ERR body needs a non-empty string \"error\": " << json::serialize(frame);
  if (!has_field(body, "code") || !body.at("code").is_string())
    throw std::runtime_error("ERR body has no string \"code\": " + json::serialize(frame));
  return std::string(body.at("code").as_string());
}

json::object text_to(const std::string& username, const std::string& content, json::value mark) {
  json::object o{{"to", username}, {"content", content}};
  if (!mark.is_null()) o["mark"] = std::move(mark);
  return o;
}

json::object text_to_id(std::int64_t id, const std::string& content, json::value mark) {
  json::object o{{"to_id", id}, {"content", content}};
  if (!mark.is_null()) o["mark"] = std::move(mark);
  return o;
}

bool is_rfc3339(const std::string& s) {
  static const std::regex re(R"(^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$)");
  return std::regex_match(s, re);
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "_" + std::to_string(++counter);
}

// ---- chat_test_base ----

void chat_test_base::TearDown() {
  if (HasFailure()) {
    try {
      std::cerr << "---- chatrix server log (tail) ----\n" << server().log_tail() << "----\n";
    } catch (...) {
    }
  }
}

test_user chat_test_base::make_user(const std::string& username, const std::string& name) {
  test_user u = register_user(port(), username, "password-" + username, name.empty() ? username + " Test" : name);
  if (u.id <= 0) throw std::runtime_error("register answer for " + username + " has no user.id");
  return u;
}

std::unique_ptr<ws_client> chat_test_base::connect_raw(const std::string& path, ws_options options) {
  auto ws = std::make_unique<ws_client>();
  ws->connect(port(), path, options);
  return ws;
}

session chat_test_base::connect_authed(const test_user& user, bool acks, const std::string& path, ws_options options) {
  session s;
  bool paused = options.start_paused;
  options.start_paused = false;  // the login frames must be read; pause afterwards if asked
  s.ws = connect_raw(path, options);
  s.ws->set_label("ws of " + user.username);
  // Tests of the other features do not look for SYNCED, which follows the pending messages
  // (tests/integration/sync_test.cpp does).
  s.ws->ignore_type(ev_synced);
  // Nor for typing and presence, which come whenever people connect (typing_test.cpp and
  // presence_test.cpp do).
  s.ws->ignore_type(ev_typing);
  s.ws->ignore_type(ev_presence);
  json::object hello{{"token", user.token}};
  if (acks) hello["acks"] = true;
  s.ws->send_text(json::serialize(hello));
  s.profile = body_of(s.ws->recv_type(ev_profile_info, 10s));
  s.previews = body_of(s.ws->recv_type(ev_chat_previews, 10s));
  if (paused) s.ws->pause_reading();
  return s;
}

json::value chat_test_base::send_and_confirm(const session& s, const json::object& text_body) {
  s->send_json(ev_text, text_body);
  return body_of(s->recv_type_skipping(ev_delivered, {ev_received}, 10s));
}

// ---- chat_test ----

void chat_test::SetUp() {
  ignore_sigpipe();
  server_ = std::make_unique<server_process>(server_env());
  server_->start();
}

void chat_test::TearDown() {
  if (server_) {
    // Every test ends with a graceful stop, so a hang on SIGTERM or a crash during the test
    // (one no client happened to notice) fails the test too.
    if (server_->alive()) {
      if (!server_->stop(10s)) ADD_FAILURE() << "the server did not exit within 10 s of SIGTERM (killed)";
    } else if (auto st = server_->last_status(); st && WIFSIGNALED(*st) && WTERMSIG(*st) != SIGKILL) {
      ADD_FAILURE() << "the server died during the test with signal " << WTERMSIG(*st);
    } else if (st && WIFEXITED(*st) && WEXITSTATUS(*st) != 0) {
      ADD_FAILURE() << "the server exited during the test with status " << WEXITSTATUS(*st);
    }
  }
  chat_test_base::TearDown();
  server_.reset();
}

// ---- shared_server_test ----

std::unique_ptr<server_process> shared_server_test::shared_;

void shared_server_test::SetUpTestSuite() {
  ignore_sigpipe();
  shared_ = std::make_unique<server_process>();
  shared_->start();
}

void shared_server_test::TearDownTestSuite() { shared_.reset(); }

void shared_server_test::SetUp() {
  if (!shared_ || !shared_->alive()) FAIL() << "the suite's server is not running (it crashed or did not start)";
}

}  // namespace chatrix::test
