// What an operator relies on, against the real server (docs/operations.md, "Health,
// readiness and logs"): /health and /ready (GET and HEAD, on the admin listener too), 503
// with the reason when the database or Redis is away and while draining on SIGTERM, every
// route of the route table dispatched, the web client at / with its CSP and 304, JSON log
// lines with the connection's id and address, and the access log only when asked for.
#include "support/chat_fixture.hpp"
#include "support/client_frame.hpp"
#include "support/file_text.hpp"
#include "support/pg_instance.hpp"
#include "support/taken_port.hpp"
#include "support/test_store.hpp"

#include "http/router.hpp"

#include <csignal>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include <signal.h>

namespace chatrix::test {
namespace {

using namespace std::chrono_literals;
using env_map = std::map<std::string, std::string>;

/// The lines of the server's log once `predicate` holds for the whole text; polled only while
/// the server's last writes reach the file (up to `within`).
std::string log_once(const server_process& s, const std::function<bool(const std::string&)>& predicate,
                     std::chrono::milliseconds within = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  auto text = s.log_text();
  while (!predicate(text) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    text = s.log_text();
  }
  return text;
}

/// /ready's answer once it has status `status`, or the last answer after `within`. Readiness
/// changes with events outside the request (a link coming up, a database going away) that
/// only the server sees, so the test asks until the answer turns.
http_response ready_once(std::uint16_t port, int status, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    auto res = http_request(port, "GET", "/ready");
    if (res.status == status || std::chrono::steady_clock::now() >= deadline) return res;
    std::this_thread::sleep_for(50ms);
  }
}

void expect_not_ready(const http_response& res, const std::string& reason_prefix) {
  EXPECT_EQ(res.status, 503) << res.body;
  const auto body = res.json();
  EXPECT_EQ(str_field(body, "status"), "not_ready");
  EXPECT_EQ(str_field(body, "code"), "unavailable");
  EXPECT_EQ(str_field(body, "reason").rfind(reason_prefix, 0), 0u) << str_field(body, "reason");
}

class ops : public chat_test {
 protected:
  void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
  void start(env_map env = {}) {
    server_ = std::make_unique<server_process>(std::move(env));
    server_->start();
  }
};

// ---- probes ----

TEST_F(ops, health_and_ready_answer_get_and_head) {
  start();
  const auto ready = ready_once(port(), 200, 10s);
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(str_field(ready.json(), "status"), "ready");
  EXPECT_EQ(ready.header("Cache-Control"), "no-store");
  const auto health = http_request(port(), "GET", "/health");
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(str_field(health.json(), "status"), "ok");
  for (const std::string path : {"/health", "/ready"}) {
    const auto head = http_request(port(), "HEAD", path);
    EXPECT_EQ(head.status, 200) << path;
    EXPECT_TRUE(head.body.empty()) << path;
    EXPECT_EQ(head.header("Content-Length"), path == "/health" ? "15" : "18") << path;
  }
  const auto post = http_request(port(), "POST", "/ready", "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("Allow"), "GET, HEAD, OPTIONS");
}

TEST_F(ops, probes_are_served_on_the_admin_port_too) {
  start({{"ADMIN_PORT", "0"}, {"LOG_LEVEL", "info"}});
  const auto admin = server_->admin_port_from_log();
  ASSERT_EQ(ready_once(admin, 200, 10s).status, 200);
  EXPECT_EQ(http_request(admin, "GET", "/health").status, 200);
  EXPECT_EQ(http_request(admin, "HEAD", "/ready").status, 200);
  EXPECT_EQ(http_request(port(), "GET", "/ready").status, 200) << "and on the main port";
  // The admin listener serves the operator's routes and the probes, nothing else.
  EXPECT_EQ(http_request(admin, "GET", "/").status, 404);
  EXPECT_EQ(http_request(admin, "POST", "/auth/login", "{}").status, 404);
}

TEST_F(ops, ready_says_draining_from_sigterm_until_the_sessions_have_closed) {
  start();
  ASSERT_EQ(ready_once(port(), 200, 10s).status, 200);
  // A client that does not read: the server's close (1001) goes unanswered, so the drain
  // lasts until the close handshake's wait (5 s) ends it.
  auto stuck = connect_raw("/ws", ws_options{.start_paused = true});
  ASSERT_EQ(::kill(server_->pid(), SIGTERM), 0);
  const auto draining = ready_once(port(), 503, 5s);
  expect_not_ready(draining, "draining");
  EXPECT_EQ(str_field(draining.json(), "reason"), "draining");
  EXPECT_EQ(draining.header("Connection"), "close") << "no keep-alive while draining";
  // New WebSockets are not taken meanwhile.
  ws_client late;
  EXPECT_THROW(late.connect(port()), std::runtime_error);
  const auto status = server_->stop(15s);
  ASSERT_TRUE(status.has_value()) << "did not exit after the drain";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << server_->log_tail();
}

TEST_F(ops, sighup_without_tls_is_logged_and_the_node_carries_on) {
  // The package's unit reloads with SIGHUP; without TLS the signal's default would end the node.
  start({{"LOG_LEVEL", "info"}});
  ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
  const auto text = log_once(*server_, [](const std::string& t) { return t.find("SIGHUP: nothing to reload") != std::string::npos; });
  EXPECT_NE(text.find("SIGHUP: nothing to reload"), std::string::npos) << text;
  EXPECT_EQ(http_request(port(), "GET", "/health").status, 200);
  const auto status = server_->stop(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST_F(ops, ready_is_503_while_postgres_is_down_and_200_once_it_is_back) {
  if (!testing_postgres()) GTEST_SKIP() << "PostgreSQL runs only (pg. and cluster. prefixes)";
  chatrix::testing::pg_instance pg;
  start({{"DB_CONNECTION_URL", pg.create_database()}, {"DB_CONNECT_TIMEOUT", "2s"}});
  ASSERT_EQ(ready_once(port(), 200, 10s).status, 200);
  pg.stop();
  expect_not_ready(ready_once(port(), 503, 10s), "database: ");
  EXPECT_EQ(http_request(port(), "GET", "/health").status, 200) << "alive all the same";
  pg.start();
  // The store reconnects with backoff (up to 5 s between attempts).
  const auto back = ready_once(port(), 200, 20s);
  EXPECT_EQ(back.status, 200) << back.body;
  server_->stop();
}

TEST_F(ops, ready_is_503_while_redis_does_not_answer) {
  if (!testing_postgres()) GTEST_SKIP() << "cluster mode needs the shared database (pg. and cluster. prefixes)";
  // A port that accepts connections and never answers: the bus cannot sync.
  const taken_port silent;
  start({{"REDISADDR", "127.0.0.1:" + std::to_string(silent.port())}});
  const auto res = http_request(port(), "GET", "/ready");
  expect_not_ready(res, "redis: ");
  EXPECT_EQ(str_field(res.json(), "reason"), "redis: disconnected");
  EXPECT_EQ(http_request(port(), "GET", "/health").status, 200);
}

// ---- the route table ----

TEST_F(ops, every_route_of_the_table_is_dispatched) {
  start();
  for (const auto& route : http::router::routes()) {
    std::string path(route.path);
    if (path == http::router::web_file_path) path = "/index.html";
    const std::string method(route.method);
    const auto res = http_request(port(), method, path, method == "POST" ? "{}" : "");
    SCOPED_TRACE(method + " " + path);
    EXPECT_NE(res.status, 404) << res.body;
    EXPECT_NE(res.status, 405) << res.body;
  }
}

TEST_F(ops, the_web_client_is_served_at_the_root_with_its_csp_and_revalidated) {
  start();
  const auto index = http_request(port(), "GET", "/");
  ASSERT_EQ(index.status, 200) << index.body;
  EXPECT_EQ(index.header("Content-Type").rfind("text/html", 0), 0u) << index.header("Content-Type");
  EXPECT_EQ(index.body, read_file_text(std::filesystem::path(CHATRIX_SOURCE_DIR) / "web" / "index.html"));
  EXPECT_NE(index.header("Content-Security-Policy").find("default-src 'self'"), std::string::npos)
      << index.header("Content-Security-Policy");
  const auto etag = index.header("ETag");
  ASSERT_FALSE(etag.empty());
  const auto again = http_request(port(), "GET", "/", "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(http_request(port(), "GET", "/index.html", "", {{"If-None-Match", etag}}).status, 304);
  const auto head = http_request(port(), "HEAD", "/");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("Content-Length"), std::to_string(index.body.size()));
  EXPECT_EQ(head.header("ETag"), etag);
}

// ---- logs ----

TEST_F(ops, json_log_lines_parse_and_name_the_connection) {
  start({{"LOG_FORMAT", "json"}, {"LOG_LEVEL", "info"}, {"ACCESS_LOG", "on"}, {"UNAUTHENTICATED_PINGS", "2"}});
  // A WebSocket that pings past UNAUTHENTICATED_PINGS before authenticating: the session logs
  // the close (a warning), after the access log's 101 for its upgrade.
  std::string bytes =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nUser-Agent: ops-test\r\n\r\n";
  for (int i = 0; i < 4; ++i) bytes += client_frame(0x9, "");
  bytes += client_frame(0x8, "");  // answers the server's close at once, ending the exchange
  raw_tcp_exchange(port(), bytes);
  const auto text = log_once(*server_, [](const std::string& t) { return t.find("control frames") != std::string::npos; });
  std::istringstream lines(text);
  std::string line;
  std::string session_conn, upgrade_conn;
  int parsed = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    const auto v = json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    ASSERT_TRUE(v.is_object()) << line;
    ++parsed;
    EXPECT_TRUE(is_rfc3339(str_field(v, "ts"))) << line;
    EXPECT_FALSE(str_field(v, "level").empty()) << line;
    const auto msg = str_field(v, "msg");
    if (msg.find("control frames before authentication") != std::string::npos) {
      session_conn = str_field(v, "conn");
      EXPECT_EQ(str_field(v, "addr"), "127.0.0.1") << line;
      EXPECT_EQ(str_field(v, "level"), "warning") << line;
    }
    if (msg == "request" && str_field(v, "path") == "/ws") {
      upgrade_conn = str_field(v, "conn");
      EXPECT_EQ(int_field(v, "status"), 101) << line;
      EXPECT_EQ(str_field(v, "user_agent"), "ops-test") << line;
      EXPECT_EQ(str_field(v, "addr"), "127.0.0.1") << line;
    }
  }
  EXPECT_GE(parsed, 3) << text;
  ASSERT_FALSE(session_conn.empty()) << "no session line with conn:\n" << text;
  EXPECT_TRUE(std::regex_match(session_conn, std::regex("[0-9a-f]+"))) << session_conn;
  EXPECT_EQ(upgrade_conn, session_conn) << "the connection keeps its id through the upgrade";
}

TEST_F(ops, access_log_lines_appear_only_when_it_is_on) {
  start({{"LOG_LEVEL", "info"}});
  ASSERT_EQ(http_request(port(), "GET", "/health").status, 200);
  ASSERT_TRUE(server_->stop().has_value());
  EXPECT_EQ(server_->log_text().find("path=/health"), std::string::npos) << server_->log_tail();

  server_->set_env("ACCESS_LOG", "on");
  server_->start();
  ASSERT_EQ(http_request(port(), "GET", "/health?token=sekrit", "", {{"User-Agent", "probe/1.0 (ops)"}}).status, 200);
  ASSERT_EQ(http_request(port(), "GET", "/no-such-file").status, 404);
  const auto text = log_once(*server_, [](const std::string& t) { return t.find("path=/no-such-file") != std::string::npos; });
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(conn=[0-9a-f]+ addr=127\.0\.0\.1 method=GET path=/health status=200 )"
                                                 R"re(bytes=15 duration_ms=[0-9.]+ user_agent="probe/1\.0 \(ops\)" request)re")))
      << text;
  EXPECT_NE(text.find("method=GET path=/no-such-file status=404"), std::string::npos) << text;
  EXPECT_EQ(text.find("sekrit"), std::string::npos) << "the query string stays out of the log";
}

}  // namespace
}  // namespace chatrix::test
