// The network edge: accepts TCP connections, serves HTTP through http::router and upgrades
// /ws to WebSocket sessions (websocket_session.hpp) that feed chat::chat_service. All Beast
// code lives in server.cpp, because its template instantiation dominates build time.
#pragma once

#include "chat/chat_service.hpp"
#include "http/router.hpp"
#include "metrics/metrics.hpp"
#include "net/server_options.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace chatrix::net {

/// Binds `address`:`port` and listens without serving yet, so that the composition root can
/// refuse a port in use before it writes anything. Throws boost::system::system_error.
boost::asio::ip::tcp::acceptor listen(boost::asio::io_context& ioc, const std::string& address, std::uint16_t port);

/// Thread-safety: construct, start and stop on the thread that runs `ioc`.
class server {
 public:
  server(boost::asio::io_context& ioc, server_options options, chat::chat_service& chat, http::router& routes,
         metrics::server_metrics& metrics);
  ~server();

  /// Serves on `listening`, an acceptor from listen(); returns its port. With `admin`
  /// (ADMIN_PORT), the operator's routes are served there and no longer on `listening`.
  std::uint16_t start(boost::asio::ip::tcp::acceptor listening,
                      std::optional<boost::asio::ip::tcp::acceptor> admin = std::nullopt);
  /// Shutdown: stops taking upgrades and reading new frames, waits until the sends already
  /// taken are stored and answered, then closes every WebSocket session with 1001 (going
  /// away) after its queued frames. `done` runs once every session has ended or `grace` has
  /// passed. Until then the listeners still answer HTTP (without keep-alive), so that a load
  /// balancer's probe reads /ready's "draining" instead of a refused connection.
  void stop(std::chrono::milliseconds grace, std::function<void()> done);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace chatrix::net
