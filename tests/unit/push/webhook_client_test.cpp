// The real webhook client against the test receiver on 127.0.0.1: the request as sent, the
// receiver's status, the failures that come back as status 0 (refused, timed out, TLS spoken
// to a plain HTTP port), and HTTPS: a receiver whose certificate the system does not trust is
// refused, one it trusts (SSL_CERT_FILE, which OpenSSL's default paths read) is posted to.
#include "push/webhook_client.hpp"

#include "support/taken_port.hpp"
#include "support/tls_client.hpp"
#include "support/webhook_receiver.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace chatrix::push {
namespace {

using namespace std::chrono_literals;

class webhook_client_test : public ::testing::Test {
 protected:
  webhook_answer post(const std::string& url, std::chrono::milliseconds timeout = 5s) {
    auto endpoint = parse_webhook_url(url);
    EXPECT_TRUE(endpoint) << url;
    http_webhook_client client(ioc.get_executor(), *endpoint, timeout);
    std::optional<webhook_answer> answer;
    client.post(webhook_request{R"({"event":"message"})", "1765100000", "sha256=abc"},
                [&](webhook_answer a) { answer = std::move(a); });
    EXPECT_FALSE(answer) << "answered inside post()";
    ioc.restart();
    ioc.run_for(10s);  // returns as soon as the attempt is over
    if (!answer) throw std::runtime_error("no answer");
    return *answer;
  }

  boost::asio::io_context ioc;
  test::webhook_receiver receiver;
};

/// A self-signed certificate for localhost and 127.0.0.1, in a temp dir of its own.
class webhook_client_tls_test : public webhook_client_test {
 protected:
  webhook_client_tls_test()
      : dir_(std::filesystem::temp_directory_path() /
             ("chatrix-push-tls-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::create_directories(dir_);
    test::write_self_signed_certificate(certificate(), dir_ / "key.pem", "localhost");
    tls_receiver_.emplace(certificate(), dir_ / "key.pem");
  }
  ~webhook_client_tls_test() override {
    ::unsetenv("SSL_CERT_FILE");
    tls_receiver_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path certificate() const { return dir_ / "cert.pem"; }
  test::webhook_receiver& tls_receiver() { return *tls_receiver_; }

 private:
  std::filesystem::path dir_;
  std::optional<test::webhook_receiver> tls_receiver_;
};

TEST_F(webhook_client_test, posts_the_body_and_headers) {
  const auto answer = post(receiver.url("/hooks/chat?x=1"));
  EXPECT_EQ(answer.status, 200) << answer.error;
  auto r = receiver.next(1s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->target, "/hooks/chat?x=1");
  EXPECT_EQ(r->body, R"({"event":"message"})");
  EXPECT_EQ(r->headers["Content-Type"], "application/json");
  EXPECT_EQ(r->headers["X-Chatrix-Timestamp"], "1765100000");
  EXPECT_EQ(r->headers["X-Chatrix-Signature"], "sha256=abc");
  EXPECT_EQ(r->headers["Host"], "127.0.0.1:" + std::to_string(receiver.port()));
}

TEST_F(webhook_client_test, reports_the_status) {
  receiver.fail_next(1, 503);
  EXPECT_EQ(post(receiver.url()).status, 503);
  EXPECT_EQ(post(receiver.url()).status, 200);
}

TEST_F(webhook_client_test, connection_refused_is_status_zero) {
  std::uint16_t closed_port = 0;
  {
    test::taken_port p;
    closed_port = p.port();
  }
  const auto answer = post("http://127.0.0.1:" + std::to_string(closed_port) + "/");
  EXPECT_EQ(answer.status, 0);
  EXPECT_NE(answer.error.find("connect"), std::string::npos) << answer.error;
}

TEST_F(webhook_client_test, a_receiver_that_never_answers_times_out) {
  test::taken_port silent;  // listens, never accepts: the request is never answered
  const auto answer = post("http://127.0.0.1:" + std::to_string(silent.port()) + "/", 300ms);
  EXPECT_EQ(answer.status, 0);
  EXPECT_NE(answer.error.find("timeout"), std::string::npos) << answer.error;
}

TEST_F(webhook_client_test, https_to_a_plain_http_port_fails_the_handshake) {
  const auto answer = post("https://127.0.0.1:" + std::to_string(receiver.port()) + "/");
  EXPECT_EQ(answer.status, 0);
  EXPECT_NE(answer.error.find("tls handshake"), std::string::npos) << answer.error;
}

TEST_F(webhook_client_tls_test, an_untrusted_certificate_is_refused) {
  const auto answer = post(tls_receiver().url());
  EXPECT_EQ(answer.status, 0);
  EXPECT_NE(answer.error.find("certificate verify failed"), std::string::npos) << answer.error;
  EXPECT_TRUE(tls_receiver().all().empty());
}

TEST_F(webhook_client_tls_test, a_trusted_certificate_for_the_host_is_posted_to) {
  ::setenv("SSL_CERT_FILE", certificate().c_str(), 1);
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    const auto answer = post("https://" + host + ":" + std::to_string(tls_receiver().port()) + "/tls");
    EXPECT_EQ(answer.status, 200) << answer.error;
    auto r = tls_receiver().next(1s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->target, "/tls");
    EXPECT_EQ(r->body, R"({"event":"message"})");
  }
}

}  // namespace
}  // namespace chatrix::push
