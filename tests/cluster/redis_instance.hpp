// A throwaway redis-server for tests: free loopback port, private temp dir, no persistence;
// start, stop, kill -9 and restart on the same port; plus a blocking command helper.
#pragma once

#include "cluster/redis/resp_reader.hpp"
#include "config/address.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace chatrix::test {

/// Not thread-safe: drive it from the test thread. The server is our child process (not
/// daemonized), so it is reaped here even where PID 1 does not reap orphans.
class redis_instance {
 public:
  /// Picks a free port and starts the server (throws std::runtime_error on failure).
  redis_instance();
  ~redis_instance();
  redis_instance(const redis_instance&) = delete;
  redis_instance& operator=(const redis_instance&) = delete;

  void start();  // on port(); waits for PONG
  void stop();   // SIGTERM and wait
  void kill();   // SIGKILL and wait (crash)
  void restart() { stop(); start(); }
  bool running() const { return pid_ > 0; }

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  /// address() as the configuration would have parsed it.
  config::redis_address parsed_address() const {
    config::redis_address a;
    a.host = "127.0.0.1";
    a.port = std::to_string(port_);
    return a;
  }
  const std::filesystem::path& dir() const { return dir_; }

  /// One command over a fresh blocking connection (tests only). Throws on I/O errors.
  cluster::redis::reply command(std::initializer_list<std::string_view> args) const;

 private:
  void wait_exit();

  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

/// Runs `io` on the calling thread until `pred()` holds or `timeout` passes.
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred&& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    if (io.run_for(std::chrono::milliseconds(5)) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// Runs `io` for `d` (lets timers and I/O progress).
inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds d) {
  run_until(io, [] { return false; }, d);
}

/// A free TCP port on 127.0.0.1 (bound and released; a small race is accepted in tests).
std::uint16_t free_loopback_port();

}  // namespace chatrix::test
