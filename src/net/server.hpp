// The network edge: accepts TCP connections, serves HTTP through http::router and upgrades
// /ws to WebSocket sessions that feed chat::chat_service. All Beast code lives in server.cpp,
// because its template instantiation dominates build time.
#pragma once

#include "chat/chat_service.hpp"
#include "http/router.hpp"
#include "metrics/metrics.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace chatrix::net {

struct server_options {
  std::string address = "0.0.0.0";
  std::uint16_t port = 6969;
  std::size_t max_frame_bytes = 64 * 1024;
  std::size_t send_queue_bytes = 4 * 1024 * 1024;
  std::chrono::seconds auth_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds http_timeout{30};
};

/// Binds `address`:`port` and listens without serving yet, so that the composition root can
/// refuse a port in use before it writes anything. Throws boost::system::system_error.
boost::asio::ip::tcp::acceptor listen(boost::asio::io_context& ioc, const std::string& address, std::uint16_t port);

/// Thread-safety: construct, start and stop on the thread that runs `ioc`.
class server {
 public:
  server(boost::asio::io_context& ioc, server_options options, chat::chat_service& chat, http::router& routes,
         metrics::server_metrics& metrics);
  ~server();

  /// Binds and listens; returns the bound port. Throws std::system_error when it can't bind.
  std::uint16_t start();
  /// Serves on `listening`, an acceptor from listen(); returns its port.
  std::uint16_t start(boost::asio::ip::tcp::acceptor listening);
  /// Shutdown: stops accepting and reading new frames, waits until the sends already taken
  /// are stored and answered, then closes every WebSocket session with 1001 (going away)
  /// after its queued frames. `done` runs once every session has ended or `grace` has passed.
  void stop(std::chrono::milliseconds grace, std::function<void()> done);

  struct impl;  // public only so that server.cpp's session classes can name it

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace chatrix::net
