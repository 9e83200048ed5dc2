// The network edge's limits against the real server (docs/security.md, "Connections and
// HTTP"): each limit answers with its status and code, and lets the client in again once it
// is under the limit. The edge sits in front of the store and does not depend on it, so these
// run on SQLite only.
#include "support/http_client.hpp"
#include "support/metrics_probe.hpp"
#include "support/server_process.hpp"
#include "support/taken_port.hpp"
#include "support/ws_client.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace chatrix::test {
namespace {

using namespace std::chrono_literals;
using env_map = std::map<std::string, std::string>;
using clock_type = std::chrono::steady_clock;

/// One HTTP answer as read off a raw connection.
struct answer {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::string code() const { return json_string("code"); }
  std::string json_string(const char* key) const {
    const auto v = boost::json::parse(body);
    const auto* f = v.as_object().if_contains(key);
    return f && f->is_string() ? std::string(f->as_string()) : std::string();
  }
  std::int64_t retry_after_ms() const {
    const auto v = boost::json::parse(body);
    const auto* f = v.as_object().if_contains("retry_after_ms");
    return f && f->is_int64() ? f->as_int64() : -1;
  }
};

/// A TCP connection to the server on 127.0.0.1 that the test drives byte by byte: requests
/// Beast's client would not send (trickled headers, forged X-Forwarded-For) and connections
/// held open while others are refused.
class raw_connection {
 public:
  explicit raw_connection(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect failed");
    }
  }
  ~raw_connection() { ::close(fd_); }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  /// The next answer (status line, headers, Content-Length body); throws on timeout or close.
  answer read_answer(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = clock_type::now() + timeout;
    std::size_t head_end;
    while ((head_end = in_.find("\r\n\r\n")) == std::string::npos) read_more(deadline);
    answer a;
    std::istringstream head(in_.substr(0, head_end));
    std::string line;
    std::getline(head, line);
    a.status = std::stoi(line.substr(9, 3));
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      a.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    in_.erase(0, head_end + 4);
    const auto length = a.headers.count("content-length") ? std::stoul(a.headers["content-length"]) : 0ul;
    while (in_.size() < length) read_more(deadline);
    a.body = in_.substr(0, length);
    in_.erase(0, length);
    return a;
  }

  /// Whether the server closes the connection within `timeout` (what arrives meanwhile is
  /// dropped).
  bool wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = clock_type::now() + timeout;
    try {
      for (;;) read_more(deadline);
    } catch (const closed&) {
      return true;
    } catch (const std::runtime_error&) {
      return false;
    }
  }

 private:
  struct closed : std::exception {};

  void read_more(clock_type::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      throw std::runtime_error("timed out waiting for the server");
    }
    char buf[4096];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) throw closed();
    in_.append(buf, static_cast<std::size_t>(n));
  }

  int fd_ = -1;
  std::string in_;
};

std::string get_request(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers + "\r\n";
}

std::string upgrade_request(const std::string& extra_headers = "") {
  return get_request("/ws",
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
                         extra_headers);
}

/// One GET on a fresh connection, its answer read off the raw socket.
answer get_once(std::uint16_t port, const std::string& target, const std::string& extra_headers = "") {
  raw_connection c(port);
  c.send(get_request(target, extra_headers + "Connection: close\r\n"));
  return c.read_answer();
}

/// A connection held open on the server: one request answered 200, then kept alive.
std::unique_ptr<raw_connection> held_connection(std::uint16_t port, const std::string& extra_headers = "") {
  auto c = std::make_unique<raw_connection>(port);
  c->send(get_request("/health", extra_headers));
  const auto a = c->read_answer();
  if (a.status != 200) throw std::runtime_error("a held connection was answered " + std::to_string(a.status) + " " + a.body);
  return c;
}

void expect_refusal(const answer& a, int status, const std::string& code) {
  EXPECT_EQ(a.status, status) << a.body;
  EXPECT_EQ(a.code(), code) << a.body;
  EXPECT_FALSE(a.json_string("error").empty()) << a.body;
  EXPECT_GT(a.retry_after_ms(), 0) << a.body;
  ASSERT_TRUE(a.headers.count("retry-after")) << "no Retry-After";
  EXPECT_GE(std::stoll(a.headers.at("retry-after")), 1);
}

/// Retries `attempt` (which returns a status) until it gives `status` or 5 s pass: for a slot
/// that frees up when the server has seen a close, an event no client can observe directly.
int eventually(int status, const std::function<int()>& attempt) {
  const auto deadline = clock_type::now() + 5s;
  int got = attempt();
  while (got != status && clock_type::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    got = attempt();
  }
  return got;
}

/// A server whose metrics are read on a separate admin port, so that reading them does not
/// count against the limits under test.
struct limited_server {
  explicit limited_server(env_map env) : process([&] {
      env["ADMIN_PORT"] = "0";
      env["LOG_LEVEL"] = "info";
      return env;
    }()) {
    process.start();
    port = process.port();
    admin = process.admin_port_from_log();
  }
  std::int64_t metric(std::string_view name) const { return metric_value(admin, name); }

  server_process process;
  std::uint16_t port = 0;
  std::uint16_t admin = 0;
};

// ---- the defaults ----

TEST(edge_limits, the_defaults_let_two_hundred_websockets_open_at_once_from_one_address) {
  // What the message benchmark does (100 pairs): every socket connects, then every one
  // upgrades, all from 127.0.0.1.
  limited_server s(env_map{});
  std::vector<std::unique_ptr<raw_connection>> sockets;
  for (int i = 0; i < 200; ++i) sockets.push_back(std::make_unique<raw_connection>(s.port));
  for (auto& c : sockets) c->send(upgrade_request());
  for (auto& c : sockets) ASSERT_EQ(c->read_answer().status, 101);
  EXPECT_EQ(s.metric("chatrix_limited_connections_total"), 0);
}

// ---- CONNECT_LIMIT ----

TEST(edge_limits, connect_limit_answers_429_with_retry_after_then_lets_the_address_in_again) {
  limited_server s(env_map{{"CONNECT_LIMIT", "5/s"}});
  // Five attempts at once pass; the bucket refills at one per 200 ms, so quick attempts soon
  // find it empty.
  answer refused;
  for (int i = 0; i < 50 && refused.status != 429; ++i) {
    auto a = get_once(s.port, "/health");
    if (a.status != 200) refused = a;
  }
  ASSERT_EQ(refused.status, 429) << "50 quick connections, none refused";
  expect_refusal(refused, 429, "rate_limited");
  EXPECT_LE(refused.retry_after_ms(), 201);
  EXPECT_GE(s.metric("chatrix_limited_connections_total"), 1);

  std::this_thread::sleep_for(std::chrono::milliseconds(refused.retry_after_ms()));
  EXPECT_EQ(get_once(s.port, "/health").status, 200) << "not let in after the time it was told to wait";
}

// ---- ADDRESS_CONNECTIONS, HTTP_ADDRESS_CONNECTIONS ----

TEST(edge_limits, open_connections_per_address_are_capped_and_a_closed_one_frees_its_slot) {
  limited_server s(env_map{{"ADDRESS_CONNECTIONS", "3"}});
  std::vector<std::unique_ptr<raw_connection>> held;
  held.push_back(held_connection(s.port));
  held.push_back(held_connection(s.port));
  ws_client ws;  // a WebSocket counts too
  ws.connect(s.port);

  expect_refusal(get_once(s.port, "/health"), 429, "rate_limited");
  EXPECT_EQ(s.metric("chatrix_limited_connections_total"), 1);

  held.pop_back();
  EXPECT_EQ(eventually(200, [&] { return get_once(s.port, "/health").status; }), 200);
}

TEST(edge_limits, plain_http_connections_have_their_own_cap_and_an_upgraded_one_leaves_it) {
  limited_server s(env_map{{"HTTP_ADDRESS_CONNECTIONS", "2"}});
  // Sockets that have not sent a request yet may become WebSockets: not counted as HTTP.
  std::vector<std::unique_ptr<raw_connection>> silent;
  for (int i = 0; i < 4; ++i) silent.push_back(std::make_unique<raw_connection>(s.port));
  auto first = held_connection(s.port);
  auto second = held_connection(s.port);
  expect_refusal(get_once(s.port, "/health"), 429, "rate_limited");
  EXPECT_EQ(s.metric("chatrix_limited_connections_total"), 1);

  // A keep-alive connection that asks for an upgrade next is no longer plain HTTP.
  first->send(upgrade_request());
  ASSERT_EQ(first->read_answer().status, 101);
  EXPECT_EQ(get_once(s.port, "/health").status, 200);
  // Nor is one of the silent ones, once it upgrades.
  silent[0]->send(upgrade_request());
  EXPECT_EQ(silent[0]->read_answer().status, 101);
}

// ---- UNAUTHENTICATED_PER_ADDRESS, UNAUTHENTICATED_TOTAL ----

TEST(edge_limits, unauthenticated_sockets_per_address_are_capped_until_one_authenticates) {
  limited_server s(env_map{{"UNAUTHENTICATED_PER_ADDRESS", "2"}});
  const auto alice = register_user(s.port, "alice", "password-alice", "Alice");
  ws_client a, b;
  a.connect(s.port);
  b.connect(s.port);

  raw_connection refused(s.port);
  refused.send(upgrade_request());
  expect_refusal(refused.read_answer(), 429, "rate_limited");
  EXPECT_TRUE(refused.wait_closed(5s));
  EXPECT_EQ(s.metric("chatrix_limited_connections_total"), 1);

  a.send_text(boost::json::serialize(boost::json::object{{"token", alice.token}}));
  a.recv_type(4);  // PROFILE_INFO: authenticated
  raw_connection admitted(s.port);
  admitted.send(upgrade_request());
  EXPECT_EQ(admitted.read_answer().status, 101);
}

TEST(edge_limits, unauthenticated_sockets_of_the_whole_node_are_capped_with_503_overloaded) {
  limited_server s(env_map{{"UNAUTHENTICATED_TOTAL", "2"}});
  auto a = std::make_unique<ws_client>();
  ws_client b;
  a->connect(s.port);
  b.connect(s.port);

  raw_connection refused(s.port);
  refused.send(upgrade_request());
  expect_refusal(refused.read_answer(), 503, "overloaded");

  a.reset();  // a socket that leaves before authenticating frees its place
  EXPECT_EQ(eventually(101,
                       [&] {
                         raw_connection c(s.port);
                         c.send(upgrade_request());
                         return c.read_answer().status;
                       }),
            101);
}

// ---- TRUSTED_PROXIES and X-Forwarded-For ----

TEST(edge_limits, a_trusted_proxy_is_counted_per_forwarded_client_the_right_most_untrusted_one) {
  limited_server s(env_map{{"TRUSTED_PROXIES", "127.0.0.1"}, {"HTTP_ADDRESS_CONNECTIONS", "1"}});
  auto held = held_connection(s.port, "X-Forwarded-For: 203.0.113.1\r\n");
  // Another connection for the same client, which has also put a forged address in front.
  expect_refusal(get_once(s.port, "/health", "X-Forwarded-For: 198.51.100.77, 203.0.113.1\r\n"), 429,
                 "rate_limited");
  EXPECT_EQ(get_once(s.port, "/health", "X-Forwarded-For: 203.0.113.2\r\n").status, 200)
      << "another client behind the same proxy was refused";
  EXPECT_EQ(get_once(s.port, "/health").status, 200)
      << "a request without X-Forwarded-For counts for the proxy itself, which holds nothing";
}

TEST(edge_limits, x_forwarded_for_is_ignored_from_a_peer_that_is_not_a_trusted_proxy) {
  limited_server s(env_map{{"HTTP_ADDRESS_CONNECTIONS", "1"}});
  auto held = held_connection(s.port, "X-Forwarded-For: 203.0.113.1\r\n");
  expect_refusal(get_once(s.port, "/health", "X-Forwarded-For: 203.0.113.2\r\n"), 429, "rate_limited");
}

// ---- HTTP_HEADER_TIMEOUT, HTTP_REQUEST_TIMEOUT ----

TEST(edge_limits, a_client_trickling_its_headers_is_cut_off_at_the_header_timeout) {
  server_process s(env_map{{"HTTP_HEADER_TIMEOUT", "1"}});
  s.start();
  raw_connection slow(s.port());
  const auto began = clock_type::now();
  slow.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  bool closed = false;
  // One header line every 200 ms, for at most 10 s: a slowloris would go on forever.
  for (int i = 0; i < 50 && !closed; ++i) {
    try {
      slow.send("X-Slow-" + std::to_string(i) + ": a\r\n");
    } catch (const std::runtime_error&) {
      closed = true;  // reset by the server
      break;
    }
    closed = slow.wait_closed(200ms);
  }
  const auto after = clock_type::now() - began;
  ASSERT_TRUE(closed) << "still open after 10 s of trickled headers";
  EXPECT_GE(after, 900ms);
  EXPECT_EQ(metric_value(s.port(), "chatrix_http_timeouts_total"), 1);
  EXPECT_EQ(http_request(s.port(), "GET", "/health").status, 200);
}

TEST(edge_limits, a_body_that_trickles_is_cut_off_at_the_request_timeout) {
  server_process s(env_map{{"HTTP_REQUEST_TIMEOUT", "1"}});
  s.start();
  raw_connection slow(s.port());
  slow.send("POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{");
  EXPECT_TRUE(slow.wait_closed(10s)) << "a body 999 bytes short was waited for 10 s";
  EXPECT_EQ(metric_value(s.port(), "chatrix_http_timeouts_total"), 1);
}

// An upload's body has no overall deadline: each read of it has HTTP_REQUEST_TIMEOUT.
std::string chunked_upload_head(const std::string& token) {
  return "POST /v1/files?name=slow.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
         "\r\nTransfer-Encoding: chunked\r\n\r\n";
}

TEST(edge_limits, an_upload_that_keeps_sending_outlasts_the_request_timeout) {
  server_process s(env_map{{"HTTP_REQUEST_TIMEOUT", "1"}});
  s.start();
  const auto alice = register_user(s.port(), "alice", "password-alice", "");
  raw_connection slow(s.port());
  slow.send(chunked_upload_head(alice.token));
  // 2.4 s in all, a piece every 300 ms: well past the 1 s a whole request may take.
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(300ms);
    slow.send("400\r\n" + std::string(1024, 'x') + "\r\n");
  }
  slow.send("0\r\n\r\n");
  const auto answer = slow.read_answer();
  EXPECT_EQ(answer.status, 201) << answer.body;
  EXPECT_NE(answer.body.find("\"size\":8192"), std::string::npos) << answer.body;
  EXPECT_EQ(metric_value(s.port(), "chatrix_http_timeouts_total"), 0);
}

TEST(edge_limits, an_upload_that_stalls_is_cut_off_at_the_request_timeout) {
  server_process s(env_map{{"HTTP_REQUEST_TIMEOUT", "1"}});
  s.start();
  const auto alice = register_user(s.port(), "alice", "password-alice", "");
  raw_connection slow(s.port());
  slow.send(chunked_upload_head(alice.token) + "400\r\n" + std::string(1024, 'x') + "\r\n");
  EXPECT_TRUE(slow.wait_closed(10s)) << "a stalled upload was waited for 10 s";
  EXPECT_EQ(metric_value(s.port(), "chatrix_http_timeouts_total"), 1);
}

// ---- WS_ORIGINS ----

TEST(edge_limits, ws_origins_refuses_other_browser_origins_with_403_and_admits_clients_without_one) {
  server_process s(env_map{{"WS_ORIGINS", "https://chat.example.com"}});
  s.start();
  raw_connection foreign(s.port());
  foreign.send(upgrade_request("Origin: https://evil.example\r\n"));
  const auto refused = foreign.read_answer();
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.code(), "forbidden_origin") << refused.body;
  EXPECT_EQ(metric_value(s.port(), "chatrix_origin_refused_total"), 1);

  raw_connection listed(s.port());
  listed.send(upgrade_request("Origin: https://Chat.Example.com\r\n"));
  EXPECT_EQ(listed.read_answer().status, 101) << "the listed origin (any case) was refused";
  raw_connection native(s.port());
  native.send(upgrade_request());
  EXPECT_EQ(native.read_answer().status, 101) << "a client without Origin was refused";
}

// ---- ADMIN_PORT ----

TEST(edge_limits, admin_port_serves_metrics_and_cluster_on_loopback_and_the_main_port_no_longer_does) {
  limited_server s(env_map{});  // ADMIN_PORT=0: a free port on 127.0.0.1 (admin_port_from_log checks the address)
  for (const char* path : {"/metrics", "/cluster"}) {
    EXPECT_EQ(http_request(s.admin, "GET", path).status, 200) << path;
    const auto main = http_request(s.port, "GET", path);
    EXPECT_EQ(main.status, 404) << path;
  }
  EXPECT_EQ(http_request(s.admin, "GET", "/health").status, 200);
  EXPECT_EQ(http_request(s.port, "GET", "/health").status, 200);
  EXPECT_EQ(http_request(s.admin, "POST", "/auth/login", R"({"username":"a","password":"b"})").status, 404);
  raw_connection ws(s.admin);
  ws.send(upgrade_request());
  EXPECT_EQ(ws.read_answer().status, 404) << "a WebSocket on the admin port";
}

TEST(edge_limits, an_admin_port_in_use_is_refused_at_start_with_exit_status_2) {
  const taken_port held;
  const auto taken = std::to_string(held.port());

  server_process s(env_map{{"ADMIN_PORT", taken}});
  EXPECT_THROW(s.start(20s), std::runtime_error);
  const auto status = s.last_status();
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << s.log_tail();
  EXPECT_NE(s.log_text().find("chatrix: ADMIN_PORT: cannot listen on 127.0.0.1:" + taken +
                                         ": address already in use"),
            std::string::npos)
      << s.log_tail();
  EXPECT_FALSE(std::filesystem::exists(s.data_dir() / "chatrix.db")) << "the store was opened before the admin port";
}

}  // namespace
}  // namespace chatrix::test
