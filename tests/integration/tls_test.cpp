// TLS_CERT / TLS_KEY: the real binary serving https:// and wss:// on its port with a
// certificate made at test time; plain HTTP on that port, SIGHUP reloads (good and bad), a
// key that does not match, and a handshake that never finishes.
#include "support/events.hpp"
#include "support/file_text.hpp"
#include "support/server_process.hpp"
#include "support/tls_client.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/wait.h>

namespace chatrix::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

/// A server with TLS_CERT and TLS_KEY set to a certificate made for the test ("first").
class tls_server : public ::testing::Test {
 protected:
  void SetUp() override {
    write_self_signed_certificate(cert(), key(), "first");
    server_ = std::make_unique<server_process>(extra_env());
    server_->start();
  }

  virtual std::map<std::string, std::string> extra_env() const {
    return {{"TLS_CERT", cert().string()}, {"TLS_KEY", key().string()}, {"WEB_DIR", "off"}};
  }

  /// In a directory of the test's own that outlives the server process's restarts.
  fs::path cert() const { return dir_.path / "cert.pem"; }
  fs::path key() const { return dir_.path / "key.pem"; }
  std::uint16_t port() const { return server_->port(); }

  /// Registers over HTTPS; returns the token.
  std::string register_user(const std::string& name) {
    const auto res =
        https_request(port(), "POST", "/auth/register",
                      R"({"username":")" + name + R"(","password":"correct horse battery","name":")" + name + R"("})");
    EXPECT_EQ(res.status, 200) << res.body;
    return std::string(res.json().at("token").as_string());
  }

  /// A wss session logged in with `token`, past PROFILE_INFO, CHATPREVIEWS and SYNCED.
  std::unique_ptr<wss_client> log_in(const std::string& token) {
    auto ws = std::make_unique<wss_client>();
    ws->connect(port());
    ws->send_text(json::serialize(json::object{{"token", token}}));
    ws->recv_type(ev_profile_info);
    ws->recv_type(ev_chat_previews);
    ws->recv_type(ev_synced);
    return ws;
  }

  /// Until the server's log contains `needle` (it logs at warn and above in tests).
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (read_file_text(server_->log_path()).find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  struct temp_dir {
    temp_dir() {
      std::string templ = (fs::temp_directory_path() / "chatrix-tls-XXXXXX").string();
      if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
      path = templ;
    }
    ~temp_dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
    fs::path path;
  };

  temp_dir dir_;
  std::unique_ptr<server_process> server_;
};

TEST_F(tls_server, https_serves_health_and_registration_with_alpn_http11) {
  const auto health = https_request(port(), "GET", "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json().at("status"), "ok");
  EXPECT_EQ(health.alpn, "http/1.1");
  EXPECT_EQ(health.fingerprint, certificate_fingerprint(cert()));

  const auto token = register_user("alice");
  EXPECT_FALSE(token.empty());
}

TEST_F(tls_server, two_wss_clients_log_in_and_exchange_a_message) {
  const auto alice_token = register_user("alice");
  const auto bob_token = register_user("bob");
  auto alice = log_in(alice_token);
  auto bob = log_in(bob_token);

  alice->send_text(R"({"type":0,"body":{"to":"bob","content":"over TLS","mark":7}})");
  const auto delivered = alice->recv_type(ev_delivered, {ev_received});
  EXPECT_EQ(delivered.at("body").at("mark"), 7);
  const auto text = bob->recv_type(ev_text);
  EXPECT_EQ(text.at("body").at("content"), "over TLS");
  EXPECT_EQ(text.at("body").at("from"), "alice");

  // And back, so both directions of both bridges carry a frame.
  bob->send_text(R"({"type":0,"body":{"to":"alice","content":"and back","mark":8}})");
  EXPECT_EQ(alice->recv_type(ev_text, {ev_received}).at("body").at("content"), "and back");

  // A burst larger than one TLS record each way (about 100 KiB), in order.
  const std::string filler(1000, 'x');
  for (int i = 0; i < 100; ++i) {
    alice->send_text(R"({"type":0,"body":{"to":"bob","content":")" + std::to_string(i) + filler + R"(","mark":)" +
                     std::to_string(100 + i) + "}}");
  }
  for (int i = 0; i < 100; ++i) {
    const auto burst = bob->recv_type(ev_text, {ev_delivered, ev_received});
    ASSERT_EQ(burst.at("body").at("content").as_string(), std::to_string(i) + filler);
  }
}

TEST_F(tls_server, plain_http_on_the_tls_port_is_answered_400_and_closed_and_the_server_carries_on) {
  const auto answer = read_until_closed(port(), "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n", 5s);
  ASSERT_TRUE(answer.has_value()) << "the connection stayed open";
  EXPECT_TRUE(answer->starts_with("HTTP/1.1 400 ")) << *answer;
  EXPECT_NE(answer->find("use https://"), std::string::npos) << *answer;

  // Bytes that are neither TLS nor HTTP: dropped.
  const auto garbage = read_until_closed(port(), std::string(64, '\x01'), 5s);
  ASSERT_TRUE(garbage.has_value()) << "the connection stayed open";
  EXPECT_TRUE(garbage->empty()) << *garbage;

  EXPECT_EQ(https_request(port(), "GET", "/health").status, 200);
  EXPECT_TRUE(server_->alive());
}

TEST_F(tls_server, sighup_gives_new_connections_the_new_certificate_and_open_ones_keep_theirs) {
  const auto first = certificate_fingerprint(cert());
  const auto alice_token = register_user("alice");
  register_user("bob");
  auto before = log_in(alice_token);
  EXPECT_EQ(before->fingerprint(), first);

  // A renewal writes both files, then signals (as certbot's deploy hook does).
  write_self_signed_certificate(cert(), key(), "second");
  const auto second = certificate_fingerprint(cert());
  ASSERT_NE(first, second);
  ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
  // The reload happens on the server's I/O thread some moments after the signal.
  std::string seen;
  for (const auto deadline = std::chrono::steady_clock::now() + 5s;
       seen != second && std::chrono::steady_clock::now() < deadline;) {
    seen = https_request(port(), "GET", "/health").fingerprint;
  }
  EXPECT_EQ(seen, second);
  EXPECT_EQ(log_in(alice_token)->fingerprint(), second);

  // The session opened before still works, on its old certificate.
  before->send_text(R"({"type":0,"body":{"to":"bob","content":"still here","mark":1}})");
  EXPECT_EQ(before->recv_type(ev_delivered).at("body").at("mark"), 1);
  EXPECT_EQ(before->fingerprint(), first);

  // A reload that fails (a damaged key) keeps the certificate already loaded, and says why.
  {
    std::ofstream(key(), std::ios::trunc) << "not a key\n";
  }
  ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_log("TLS: reload on SIGHUP failed")) << server_->log_tail();
  EXPECT_NE(server_->log_tail().find("TLS_KEY: cannot read " + key().string() + ": no PEM private key in it"),
            std::string::npos)
      << server_->log_tail();
  EXPECT_EQ(https_request(port(), "GET", "/health").fingerprint, second);
  EXPECT_TRUE(server_->alive());
}

/// Files it cannot use (another certificate's key, a missing file, no certificate, an encrypted
/// key): the server refuses to start with one line naming the setting, before writing anything.
TEST(tls_start, unusable_files_refuse_to_start_with_one_line_naming_the_setting) {
  server_process probe;
  const auto cert = probe.dir() / "cert.pem";
  const auto key = probe.dir() / "key.pem";
  const auto other_key = probe.dir() / "other-key.pem";
  write_self_signed_certificate(cert, key, "mine");
  write_self_signed_certificate(probe.dir() / "other-cert.pem", other_key, "other");
  const auto encrypted_key = probe.dir() / "encrypted-key.pem";
  write_encrypted_key(key, encrypted_key, "a passphrase");

  struct start_case {
    std::string cert, key, line;
  };
  const std::vector<start_case> cases{
      {cert.string(), other_key.string(),
       "chatrix: TLS_KEY: cannot use " + other_key.string() + ": it is not the key of the certificate in TLS_CERT (" +
           cert.string() + ")\n"},
      {(probe.dir() / "missing.pem").string(), key.string(),
       "chatrix: TLS_CERT: cannot read " + (probe.dir() / "missing.pem").string() + ": no such file or directory\n"},
      {key.string(), key.string(),
       "chatrix: TLS_CERT: cannot read " + key.string() +
           ": no PEM certificate in it (-----BEGIN CERTIFICATE-----)\n"},
      {cert.string(), encrypted_key.string(),
       "chatrix: TLS_KEY: cannot read " + encrypted_key.string() +
           ": the key is encrypted; store it without a passphrase, readable only by the server's user\n"},
  };
  for (const auto& c : cases) {
    server_process s({{"TLS_CERT", c.cert}, {"TLS_KEY", c.key}});
    const auto data = s.dir() / "fresh-data";
    s.set_env("CHATRIX_DATA_DIR", data.string());
    EXPECT_THROW(s.start(20s), std::runtime_error) << "the server started with " << c.cert << " " << c.key;
    const auto status = s.last_status();
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 2)
        << "exit status " << status.value_or(-1) << "\n" << s.log_tail();
    EXPECT_EQ(read_file_text(s.log_path()), c.line);
    // Refused before anything was written.
    EXPECT_FALSE(fs::exists(data)) << c.line;
    EXPECT_FALSE(fs::exists(s.dir() / "port.tmp")) << c.line;
  }
}

class tls_server_with_connect_limit : public tls_server {
 protected:
  std::map<std::string, std::string> extra_env() const override {
    auto env = tls_server::extra_env();
    env["CONNECT_LIMIT"] = "3/h";
    return env;
  }
};

TEST_F(tls_server_with_connect_limit, connect_limit_counts_tls_clients_before_their_handshake) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(https_request(port(), "GET", "/health").status, 200);
  // The fourth attempt is closed before any handshake: no certificate, no answer.
  EXPECT_THROW(https_request(port(), "GET", "/health"), std::runtime_error);
  EXPECT_TRUE(wait_for_log("addr=127.0.0.1 rate-limited: CONNECT_LIMIT refused a connection")) << server_->log_tail();
  EXPECT_TRUE(server_->alive());
}

class tls_server_with_short_header_timeout : public tls_server {
 protected:
  std::map<std::string, std::string> extra_env() const override {
    auto env = tls_server::extra_env();
    env["HTTP_HEADER_TIMEOUT"] = "1s";
    return env;
  }
};

TEST_F(tls_server_with_short_header_timeout, a_client_that_never_finishes_its_handshake_is_cut_off) {
  // The first bytes of a ClientHello's record header, then nothing.
  const auto started = std::chrono::steady_clock::now();
  const auto answer = read_until_closed(port(), std::string("\x16\x03\x01", 3), 10s);
  ASSERT_TRUE(answer.has_value()) << "still open after 10 s";
  EXPECT_TRUE(answer->empty());
  // Cut off by the timeout, not at once (a lower bound only: the server waits at least that).
  EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms);

  const auto metrics = https_request(port(), "GET", "/metrics");
  EXPECT_NE(metrics.body.find("chatrix_http_timeouts_total 1\n"), std::string::npos) << metrics.body;
  EXPECT_TRUE(wait_for_log("addr=127.0.0.1 rate-limited: HTTP_HEADER_TIMEOUT cut off a TLS handshake")) << server_->log_tail();
  EXPECT_EQ(https_request(port(), "GET", "/health").status, 200);
}

}  // namespace
}  // namespace chatrix::test
