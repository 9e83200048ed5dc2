// Synchronous HTTP/1.1 client on Beast for the integration tests. See http_client.hpp.
#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <cctype>
#include <stdexcept>

namespace chatrix::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

bool ci_less::operator()(const std::string& a, const std::string& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
  });
}

json::value http_response::json() const {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) throw std::runtime_error("HTTP " + std::to_string(status) + " body is not JSON: '" + body + "'");
  return v;
}

std::string http_response::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

http_response do_request(std::uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body, const header_map& headers) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(15));  // a guard against a hung server, not a speed check
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));

  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  req.set(http::field::connection, "close");
  bool has_content_type = false;
  for (const auto& [k, v] : headers) {
    req.set(k, v);
    if (ci_less{}(k, "content-type") == false && ci_less{}("content-type", k) == false) has_content_type = true;
  }
  if (!body.empty() && !has_content_type) req.set(http::field::content_type, "application/json");
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();

  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (method == "HEAD") parser.skip(true);
  http::read(stream, buffer, parser);
  auto& res = parser.get();

  http_response out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    std::string name(field.name_string());
    auto it = out.headers.find(name);
    if (it == out.headers.end()) out.headers.emplace(name, std::string(field.value()));
    else it->second += ", " + std::string(field.value());
  }
  out.body = std::move(res.body());
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

}  // namespace

http_response http_request(std::uint16_t port, const std::string& method, const std::string& target,
                           const std::string& body, const header_map& headers) {
  try {
    return do_request(port, method, target, body, headers);
  } catch (const std::exception& e) {
    // Name the request: "end of stream" alone does not say which call the server dropped.
    throw std::runtime_error("HTTP " + method + " " + target + " on port " + std::to_string(port) +
                             " failed (no complete answer; did the server crash?): " + e.what());
  }
}

namespace {

registered_user parse_auth_answer(const http_response& res, const std::string& what, const std::string& password) {
  if (res.status != 200)
    throw std::runtime_error(what + " answered " + std::to_string(res.status) + ": " + res.body);
  const json::value v = res.json();
  const auto* o = v.if_object();
  const auto* token = o == nullptr ? nullptr : o->if_contains("token");
  const auto* user = o == nullptr ? nullptr : o->if_contains("user");
  const auto* uo = user == nullptr ? nullptr : user->if_object();
  const auto* id = uo == nullptr ? nullptr : uo->if_contains("id");
  const auto* username = uo == nullptr ? nullptr : uo->if_contains("username");
  const auto* name = uo == nullptr ? nullptr : uo->if_contains("name");
  if (token == nullptr || !token->is_string() || id == nullptr || !(id->is_int64() || id->is_uint64()) ||
      username == nullptr || !username->is_string() || name == nullptr || !name->is_string()) {
    throw std::runtime_error(what + " answer is not {\"token\": string, \"user\": {\"id\", \"username\", \"name\"}}: " +
                             res.body);
  }
  registered_user u;
  u.token = std::string(token->get_string());
  u.id = id->to_number<std::int64_t>();
  u.username = std::string(username->get_string());
  u.name = std::string(name->get_string());
  u.password = password;
  return u;
}

}  // namespace

registered_user register_user(std::uint16_t port, const std::string& username, const std::string& password,
                              const std::string& name) {
  json::object body{{"username", username}, {"password", password}, {"name", name}};
  auto res = http_request(port, "POST", "/auth/register", json::serialize(body));
  return parse_auth_answer(res, "POST /auth/register (" + username + ")", password);
}

registered_user login(std::uint16_t port, const std::string& username, const std::string& password) {
  json::object body{{"username", username}, {"password", password}};
  auto res = http_request(port, "POST", "/auth/login", json::serialize(body));
  return parse_auth_answer(res, "POST /auth/login (" + username + ")", password);
}

std::string raw_tcp_exchange(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(stream, asio::buffer(bytes));
  std::string out;
  char buf[4096];
  for (;;) {
    beast::error_code ec;
    std::size_t n = stream.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;  // EOF, reset or the timeout: all end the exchange
  }
  return out;
}

}  // namespace chatrix::test
