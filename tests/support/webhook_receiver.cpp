// The test webhook receiver on Beast. See webhook_receiver.hpp.
#include "support/webhook_receiver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace chatrix::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct webhook_receiver::impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::thread thread;
  std::unique_ptr<asio::ssl::context> tls;  // null: plain HTTP

  mutable std::mutex mutex;
  std::condition_variable arrived;
  std::vector<received_request> requests;
  std::size_t taken = 0;
  int failures_left = 0;
  int failure_status = 500;

  int status_for_next() {
    std::lock_guard lock(mutex);
    if (failures_left == 0) return 200;
    --failures_left;
    return failure_status;
  }

  void record(received_request r) {
    {
      std::lock_guard lock(mutex);
      requests.push_back(std::move(r));
    }
    arrived.notify_all();
  }

  asio::awaitable<void> serve_tls(tcp::socket socket) {
    asio::ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (!ec) co_await serve(stream);
  }

  asio::awaitable<void> serve_plain(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve(stream);
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream) {
    constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      if (auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple); ec) co_return;
      received_request r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& field : req) r.headers[std::string(field.name_string())] = std::string(field.value());
      r.body = req.body();
      r.at = std::chrono::steady_clock::now();
      const bool keep_alive = req.keep_alive();
      const int status = status_for_next();
      // Recorded before the answer: a test that saw the answer's effect finds the request.
      record(std::move(r));
      http::response<http::string_body> res{static_cast<http::status>(status), 11};
      res.set(http::field::content_type, "text/plain");
      res.body() = status == 200 ? "ok" : "failing on purpose";
      res.keep_alive(keep_alive);
      res.prepare_payload();
      if (auto [ec, n] = co_await http::async_write(stream, res, use_tuple); ec || !keep_alive) co_return;
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      if (tls) {
        asio::co_spawn(ioc, serve_tls(std::move(socket)), asio::detached);
      } else {
        asio::co_spawn(ioc, serve_plain(std::move(socket)), asio::detached);
      }
    }
  }
};

webhook_receiver::webhook_receiver() : impl_(std::make_shared<impl>()) {
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([i = impl_] { i->ioc.run(); });
}

webhook_receiver::webhook_receiver(const std::filesystem::path& certificate, const std::filesystem::path& key)
    : impl_(std::make_shared<impl>()) {
  impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  impl_->tls->use_certificate_chain_file(certificate.string());
  impl_->tls->use_private_key_file(key.string(), asio::ssl::context::pem);
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([i = impl_] { i->ioc.run(); });
}

webhook_receiver::~webhook_receiver() {
  impl_->ioc.stop();
  impl_->thread.join();
}

std::uint16_t webhook_receiver::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string webhook_receiver::url(const std::string& path) const {
  return (impl_->tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port()) + path;
}

void webhook_receiver::fail_next(int count, int status) {
  std::lock_guard lock(impl_->mutex);
  impl_->failures_left = count;
  impl_->failure_status = status;
}

std::optional<received_request> webhook_receiver::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  if (!impl_->arrived.wait_for(lock, timeout, [&] { return impl_->requests.size() > impl_->taken; }))
    return std::nullopt;
  return impl_->requests[impl_->taken++];
}

std::vector<received_request> webhook_receiver::all() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

}  // namespace chatrix::test
