// A synchronous HTTP/1.1 test client for 127.0.0.1 (Beast stays in the .cpp), the register/login
// helpers built on it, and a raw TCP helper for sending arbitrary bytes.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace chatrix::test {

/// Case-insensitive header map (header names are case-insensitive in HTTP).
struct ci_less {
  bool operator()(const std::string& a, const std::string& b) const;
};
using header_map = std::map<std::string, std::string, ci_less>;

struct http_response {
  int status = 0;
  header_map headers;
  std::string body;

  /// The body as JSON; throws std::runtime_error if it is not JSON.
  boost::json::value json() const;
  /// The header's value or "" when absent.
  std::string header(const std::string& name) const;
  bool has_header(const std::string& name) const { return headers.count(name) != 0; }
};

/// One request on a fresh connection. Adds Host, Content-Length and, when `body` is
/// non-empty and no Content-Type is given, Content-Type: application/json. Throws on I/O errors.
http_response http_request(std::uint16_t port, const std::string& method, const std::string& target,
                           const std::string& body = "", const header_map& headers = {});

/// The user part of a register/login answer.
struct registered_user {
  std::int64_t id = 0;
  std::string username;
  std::string name;
  std::string token;
  std::string password;
};

/// POST /auth/register; throws unless the answer is 200 with a token and a user.
registered_user register_user(std::uint16_t port, const std::string& username, const std::string& password,
                              const std::string& name);
/// POST /auth/login; throws unless the answer is 200 with a token and a user.
registered_user login(std::uint16_t port, const std::string& username, const std::string& password);

/// Connects, writes `bytes`, then reads until the peer closes or `timeout`; returns what was
/// read. For requests Beast would refuse to produce.
std::string raw_tcp_exchange(std::uint16_t port, const std::string& bytes,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace chatrix::test
