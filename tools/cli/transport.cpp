// Beast, driven by C++20 coroutines on a private io_context that runs only while a call waits:
// chatrix-cli does one thing at a time, so a blocking facade over async operations is all it
// needs, and async operations are what lets every wait have a deadline. Each exchange is a
// template over the stream under HTTP or the WebSocket: a TCP socket, or TLS over one.
#include "transport.hpp"

#include "cli_error.hpp"
#include "wire.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <exception>
#include <functional>
#include <type_traits>
#include <vector>

namespace chatrix::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using tls_stream = beast::ssl_stream<tcp::socket>;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

cli_error unreachable(const server_url& server, const std::string& what) {
  return cli_error("unreachable", server.text + ": " + what, exit_status::unreachable);
}

cli_error timed_out(const server_url& server) {
  return cli_error("timeout", server.text + ": no answer within " + std::to_string(network_timeout.count()) + " s",
                   exit_status::timeout);
}

/// Runs `operation` on `io` until it finishes or `deadline` passes. The operation may move the
/// deadline on while it makes progress (a transfer): it is read again after every handler. On
/// the deadline `abort` closes the socket, so the operation ends (with operation_aborted) before
/// this returns and nothing on the stack is used after it; the result is then nullopt.
/// Operations with nothing to return yield `true`, so that one completion signature serves
/// them all.
template <class T>
std::optional<T> run_until(asio::io_context& io, asio::awaitable<T> operation, const clock::time_point& deadline,
                           const std::function<void()>& abort) {
  std::optional<T> result;
  std::exception_ptr failure;
  bool finished = false;
  asio::co_spawn(io, std::move(operation), [&](std::exception_ptr e, T value) {
    finished = true;
    if (e) failure = e;
    else result = std::move(value);
  });
  io.restart();
  while (!finished && io.run_one_until(deadline) > 0) {
  }
  if (!finished) {
    abort();
    io.restart();
    io.run();
    return std::nullopt;
  }
  if (failure) std::rethrow_exception(failure);
  return result;
}

/// What TLS trusts: the system's certificates and --cacert; the peer must present a certificate
/// that chains to them and names the URL's host.
ssl::context tls_context(const server_url& server) {
  ssl::context context(ssl::context::tls_client);
  boost::system::error_code ec;
  // A machine without a system store can still trust --cacert.
  context.set_default_verify_paths(ec);
  if (!server.ca_file.empty()) {
    context.load_verify_file(server.ca_file, ec);
    if (ec)
      throw cli_error("local", server.ca_file + ": cannot load certificates: " + ec.message(), exit_status::local);
  }
  context.set_verify_mode(ssl::verify_peer);
  return context;
}

asio::awaitable<bool> connect(tcp::resolver& resolver, tcp::socket& socket, const server_url& server) {
  auto [resolve_error, endpoints] = co_await resolver.async_resolve(server.host, server.port, use_tuple);
  if (resolve_error) throw unreachable(server, "cannot resolve " + server.host + ": " + resolve_error.message());
  auto [connect_error, endpoint] = co_await asio::async_connect(socket, endpoints, use_tuple);
  if (connect_error) throw unreachable(server, "cannot connect: " + connect_error.message());
  socket.set_option(tcp::no_delay(true));
  co_return true;
}

/// TCP: connected is open.
asio::awaitable<bool> open(tcp::resolver& resolver, tcp::socket& socket, const server_url& server) {
  co_return co_await connect(resolver, socket, server);
}

/// TLS: the handshake, with SNI for a host name (RFC 6066 allows no literal address there).
asio::awaitable<bool> open(tcp::resolver& resolver, tls_stream& stream, const server_url& server) {
  co_await connect(resolver, beast::get_lowest_layer(stream), server);
  boost::system::error_code not_an_address;
  asio::ip::make_address(server.host, not_an_address);
  if (not_an_address && !SSL_set_tlsext_host_name(stream.native_handle(), server.host.c_str()))
    throw cli_error("tls", server.text + ": cannot set the TLS server name", exit_status::unreachable);
  stream.set_verify_callback(ssl::host_name_verification(server.host));
  auto [error] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  if (error)
    throw cli_error("tls", server.text + ": TLS handshake failed: " + error.message(), exit_status::unreachable);
  co_return true;
}

std::string host_header(const server_url& server) {
  const bool ipv6 = server.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + server.host + "]" : server.host) + ":" + server.port;
}

void close_socket(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.close(ignored);
}

// ---- HTTP ----

cli_error unreadable(const std::filesystem::path& path, const std::string& why) {
  return cli_error("local", path.string() + ": " + why, exit_status::local);
}

http::verb verb_of(http_request::method method) {
  switch (method) {
    case http_request::method::post: return http::verb::post;
    case http_request::method::patch: return http::verb::patch;
    case http_request::method::del: return http::verb::delete_;
    case http_request::method::get: break;
  }
  return http::verb::get;
}

template <class Body>
void set_common_fields(http::request<Body>& message, const server_url& server, const http_request& request) {
  message.set(http::field::host, host_header(server));
  message.set(http::field::user_agent, "chatrix-cli");
  if (!request.bearer.empty()) message.set(http::field::authorization, "Bearer " + request.bearer);
  if (!request.content_type.empty()) message.set(http::field::content_type, request.content_type);
  message.keep_alive(false);
}

/// Writes the request: the body from memory, or streamed from body_file (Beast reads it in
/// chunks), moving the deadline on with each chunk written.
template <class Stream>
asio::awaitable<void> write_request(Stream& stream, const server_url& server, const http_request& request,
                                    clock::time_point& deadline) {
  const auto verb = verb_of(request.verb);
  if (!request.body_file) {
    http::request<http::string_body> message{verb, request.target, 11};
    set_common_fields(message, server, request);
    message.body() = request.body;
    message.prepare_payload();
    auto [error, written] = co_await http::async_write(stream, message, use_tuple);
    if (error) throw unreachable(server, "cannot send the request: " + error.message());
    co_return;
  }
  http::request<http::file_body> message{verb, request.target, 11};
  set_common_fields(message, server, request);
  boost::system::error_code open_error;
  message.body().open(request.body_file->c_str(), beast::file_mode::scan, open_error);
  if (open_error) throw unreadable(*request.body_file, "cannot read: " + open_error.message());
  message.prepare_payload();
  http::request_serializer<http::file_body> serializer{message};
  while (!serializer.is_done()) {
    auto [error, written] = co_await http::async_write_some(stream, serializer, use_tuple);
    if (error) throw unreachable(server, "cannot send the request: " + error.message());
    deadline = clock::now() + network_timeout;
  }
}

void keep_headers(http_reply& reply, const http::fields& fields) {
  reply.content_type = std::string(fields[http::field::content_type]);
  reply.content_disposition = std::string(fields[http::field::content_disposition]);
}

/// Reads the answer into memory.
template <class Stream>
asio::awaitable<http_reply> read_reply(Stream& stream, const server_url& server) {
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  auto [error, read] = co_await http::async_read(stream, buffer, response, use_tuple);
  if (error) throw unreachable(server, "no HTTP answer: " + error.message());
  // Connection: close, so no TLS close_notify is awaited: the answer is complete as framed.
  http_reply reply{response.result_int(), std::move(response.body()), {}, {}};
  keep_headers(reply, response);
  co_return reply;
}

/// An error body is a short JSON object; more than this of one is not read.
constexpr std::size_t max_error_body = 64 * 1024;
constexpr std::size_t download_chunk = 64 * 1024;

/// Reads the answer's header, then its body a chunk at a time: to `sink` when it is a 2xx, into
/// the reply (bounded) otherwise. The deadline moves on with each chunk.
template <class Stream>
asio::awaitable<http_reply> read_into(Stream& stream, const server_url& server,
                                      const std::function<void(std::string_view)>& sink, clock::time_point& deadline) {
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // the server bounds what it serves (FILE_MAX_BYTES)
  auto [header_error, header_size] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
  if (header_error) throw unreachable(server, "no HTTP answer: " + header_error.message());
  http_reply reply{parser.get().result_int(), {}, {}, {}};
  keep_headers(reply, parser.get());
  const bool success = reply.status / 100 == 2;
  std::vector<char> chunk(download_chunk);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    auto [error, size] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (error && error != http::error::need_buffer) throw unreachable(server, "the answer broke off: " + error.message());
    const std::string_view got(chunk.data(), chunk.size() - parser.get().body().size);
    if (success) sink(got);
    else reply.body.append(got.substr(0, max_error_body - std::min(max_error_body, reply.body.size())));
    deadline = clock::now() + network_timeout;
  }
  co_return reply;
}

template <class Stream, class Exchange>
http_reply exchange_over(asio::io_context& io, Stream& stream, const server_url& server, Exchange exchange) {
  tcp::resolver resolver(io);
  clock::time_point deadline = clock::now() + network_timeout;
  auto reply = run_until(io, exchange(resolver, deadline), deadline, [&] {
    resolver.cancel();
    close_socket(beast::get_lowest_layer(stream));
  });
  if (!reply) throw timed_out(server);
  return std::move(*reply);
}

/// Runs `exchange(stream, resolver, deadline)` over TCP or TLS, as the URL says.
template <class Exchange>
http_reply over_stream(const server_url& server, Exchange exchange) {
  asio::io_context io;
  auto run = [&](auto& stream) {
    return exchange_over(io, stream, server, [&](tcp::resolver& resolver, clock::time_point& deadline) {
      return exchange(stream, resolver, deadline);
    });
  };
  if (server.tls) {
    ssl::context context = tls_context(server);
    tls_stream stream(io, context);
    return run(stream);
  }
  tcp::socket socket(io);
  return run(socket);
}

}  // namespace

http_reply http_call(const server_url& server, const http_request& request) {
  return over_stream(server, [&](auto& stream, tcp::resolver& resolver,
                                 clock::time_point& deadline) -> asio::awaitable<http_reply> {
    co_await open(resolver, stream, server);
    co_await write_request(stream, server, request, deadline);
    co_return co_await read_reply(stream, server);
  });
}

http_reply post_json(const server_url& server, std::string_view target, const std::string& body,
                     std::string_view bearer) {
  http_request request{http_request::method::post, std::string(target), std::string(bearer), "application/json",
                       body, std::nullopt};
  return http_call(server, request);
}

http_reply http_download(const server_url& server, const http_request& request,
                         const std::function<void(std::string_view)>& sink) {
  return over_stream(server, [&](auto& stream, tcp::resolver& resolver,
                                 clock::time_point& deadline) -> asio::awaitable<http_reply> {
    co_await open(resolver, stream, server);
    co_await write_request(stream, server, request, deadline);
    co_return co_await read_into(stream, server, sink, deadline);
  });
}

// ---- WebSocket ----

struct ws_connection::state {
  virtual ~state() = default;
  virtual void write(const std::string& text) = 0;
  virtual std::optional<std::string> read(clock::time_point deadline) = 0;
  virtual void close() noexcept = 0;
};

namespace {

/// One WebSocket over `Next` (tcp::socket or tls_stream).
template <class Next>
class ws_link final : public ws_connection::state {
 public:
  explicit ws_link(const server_url& server)
      : server_(server), tls_(make_tls_context(server)), ws_(make_stream()) {}

  void open_and_upgrade() {
    auto upgrade = [this]() -> asio::awaitable<bool> {
      co_await open(resolver_, ws_.next_layer(), server_);
      ws_.set_option(websocket::stream_base::decorator(
          [](websocket::request_type& request) { request.set(http::field::user_agent, "chatrix-cli"); }));
      websocket::response_type response;
      auto [error] = co_await ws_.async_handshake(response, host_header(server_), "/ws", use_tuple);
      if (error == websocket::error::upgrade_declined) {
        auto refusal = http_error_of(response.result_int(), response.body());
        if (refusal.code.starts_with("http_"))  // no Chatrix error body
          refusal.reason = "HTTP " + std::to_string(response.result_int()) +
                           " instead of a WebSocket upgrade at /ws (is this a Chatrix server?)";
        throw server_error(refusal.code, refusal.reason);
      }
      if (error) throw unreachable(server_, "WebSocket handshake failed: " + error.message());
      co_return true;
    };
    if (!run_until(io_, upgrade(), clock::now() + network_timeout, [this] { abort(); })) throw timed_out(server_);
  }

  void write(const std::string& text) override {
    auto send = [this, &text]() -> asio::awaitable<bool> {
      ws_.text(true);
      auto [error, written] = co_await ws_.async_write(asio::buffer(text), use_tuple);
      if (error) throw unreachable(server_, "cannot send: " + error.message());
      co_return true;
    };
    if (!run_until(io_, send(), clock::now() + network_timeout, [this] { abort(); })) throw timed_out(server_);
  }

  std::optional<std::string> read(clock::time_point deadline) override {
    auto receive = [this]() -> asio::awaitable<std::string> {
      for (;;) {
        buffer_.clear();
        auto [error, size] = co_await ws_.async_read(buffer_, use_tuple);
        if (error == websocket::error::closed) {
          const auto& why = ws_.reason();
          const std::string reason(why.reason.data(), why.reason.size());
          throw unreachable(server_, "the server closed the connection (" + std::to_string(why.code) +
                                         (reason.empty() ? "" : " " + reason) + ")");
        }
        if (error) throw unreachable(server_, "connection lost: " + error.message());
        if (ws_.got_text()) co_return beast::buffers_to_string(buffer_.data());
        // The server sends only text frames; a binary one is skipped rather than misread.
      }
    };
    return run_until(io_, receive(), deadline, [this] { abort(); });
  }

  void close() noexcept override {
    if (!beast::get_lowest_layer(ws_).is_open()) return;
    auto goodbye = [this]() -> asio::awaitable<bool> {
      auto [error] = co_await ws_.async_close(websocket::close_code::normal, use_tuple);
      co_return !error;
    };
    try {
      run_until(io_, goodbye(), clock::now() + network_timeout, [this] { abort(); });
    } catch (...) {
      // Closing is a courtesy: the command already has its answer.
    }
  }

 private:
  static constexpr bool secure = std::is_same_v<Next, tls_stream>;

  static std::optional<ssl::context> make_tls_context(const server_url& server) {
    if constexpr (secure) return tls_context(server);
    else return std::nullopt;
  }

  websocket::stream<Next> make_stream() {
    if constexpr (secure) return websocket::stream<Next>(io_, *tls_);
    else return websocket::stream<Next>(io_);
  }

  void abort() {
    resolver_.cancel();
    close_socket(beast::get_lowest_layer(ws_));
  }

  server_url server_;
  asio::io_context io_;
  tcp::resolver resolver_{io_};
  std::optional<ssl::context> tls_;  // before ws_, which uses it
  websocket::stream<Next> ws_;
  beast::flat_buffer buffer_;
};

template <class Next>
std::unique_ptr<ws_connection::state> open_link(const server_url& server) {
  auto link = std::make_unique<ws_link<Next>>(server);
  link->open_and_upgrade();
  return link;
}

}  // namespace

ws_connection::ws_connection(const server_url& server)
    : state_(server.tls ? open_link<tls_stream>(server) : open_link<tcp::socket>(server)) {}

ws_connection::~ws_connection() = default;

void ws_connection::write(const std::string& text) { state_->write(text); }

std::optional<std::string> ws_connection::read(clock::time_point deadline) { return state_->read(deadline); }

void ws_connection::close() noexcept { state_->close(); }

}  // namespace chatrix::cli
