// Sends one signed POST to PUSH_WEBHOOK_URL and reports what came of it. The push service sees
// only webhook_sender (tests give it a fake); http_webhook_client is the real one.
#pragma once

#include "push/webhook_endpoint.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace chatrix::push {

/// One attempt: the body and its two headers.
struct webhook_request {
  std::string body;
  std::string timestamp;  // X-Chatrix-Timestamp
  std::string signature;  // X-Chatrix-Signature
};

/// What the receiver answered: its status, or 0 and why no answer came (network error,
/// TLS failure, timeout).
struct webhook_answer {
  int status = 0;
  std::string error;
};

class webhook_sender {
 public:
  virtual ~webhook_sender() = default;
  /// Starts one POST; `done` runs exactly once, on the sender's I/O thread, never inside
  /// this call.
  virtual void post(webhook_request request, std::function<void(webhook_answer)> done) = 0;
};

/// HTTP/1.1 over TCP, or TLS for https:// (the peer verified against the system's trusted
/// certificates, for the URL's host name, which is also sent as SNI). A fresh connection per
/// attempt: pushes are seconds apart per user and few in flight, so a pool would save little
/// and a connection that sits idle at the receiver is one more way to fail. Only the
/// answer's status line and headers are read.
///
/// Thread-safety: post() on the I/O thread given as `io`. Attempts still running when the
/// client is destroyed end with the io_context (they hold nothing of the client's).
class http_webhook_client final : public webhook_sender {
 public:
  http_webhook_client(boost::asio::any_io_executor io, webhook_endpoint endpoint,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~http_webhook_client() override;

  void post(webhook_request request, std::function<void(webhook_answer)> done) override;

 private:
  boost::asio::any_io_executor io_;
  std::shared_ptr<const webhook_endpoint> endpoint_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // null for http://
  std::chrono::milliseconds timeout_;
};

}  // namespace chatrix::push
