// A push webhook receiver for the tests: an HTTP/1.1 server on 127.0.0.1 (its own thread), over
// TLS when given a certificate, that records every request and answers 200, or a chosen status
// to the first N. No Beast in this header.
#pragma once

#include "support/http_client.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace chatrix::test {

struct received_request {
  std::string method;
  std::string target;
  header_map headers;
  std::string body;
  std::chrono::steady_clock::time_point at;  // when it was read
};

/// Thread-safety: every member may be called from the test thread while the server runs.
class webhook_receiver {
 public:
  /// Plain HTTP.
  webhook_receiver();
  /// HTTPS with this certificate (PEM chain) and key.
  webhook_receiver(const std::filesystem::path& certificate, const std::filesystem::path& key);
  ~webhook_receiver();
  webhook_receiver(const webhook_receiver&) = delete;
  webhook_receiver& operator=(const webhook_receiver&) = delete;

  std::uint16_t port() const;
  /// http(s)://127.0.0.1:<port><path>
  std::string url(const std::string& path = "/push") const;

  /// The next `count` requests are answered `status` (then 200 again).
  void fail_next(int count, int status = 500);

  /// The next request not yet taken, waiting up to `timeout`; nullopt when none came.
  std::optional<received_request> next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Every request received so far (taken or not).
  std::vector<received_request> all() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace chatrix::test
