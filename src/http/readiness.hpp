// Readiness (/ready): whether a load balancer should send this node traffic. Liveness
// (/health) only says the process answers; readiness also asks the store for a round trip,
// the cluster bus whether it is connected, and says no while the node drains for shutdown.
#pragma once

#include "cluster/bus.hpp"
#include "storage/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace chatrix::http {

/// One answer: ready, or not with the reason ("database: ...", "redis: disconnected",
/// "draining").
struct readiness_state {
  bool ready = false;
  std::string reason;
};

/// Thread-safety: I/O thread only (the executor given), like the router. Must outlive the
/// I/O thread's run: a store answer arriving late is posted back to it.
class readiness {
 public:
  /// How long an answer is reused. A load balancer (or several) polling many times a
  /// second then costs the database one trivial query a second, whatever the poll rate.
  static constexpr std::chrono::seconds answer_ttl{1};
  /// A store that has not answered within this is not ready. Under the shortest usual probe
  /// timeout (Kubernetes: 1 s), so that the prober reads a 503 with the reason instead of
  /// timing out; hundreds of times a healthy round trip (under a millisecond on a LAN).
  static constexpr std::chrono::milliseconds ping_deadline{800};

  readiness(boost::asio::any_io_executor io, storage::store& store, const cluster::bus& bus);

  /// The current answer; pings the store unless an answer younger than answer_ttl exists.
  /// Concurrent checks share one ping.
  boost::asio::awaitable<readiness_state> check();

  /// From now on every answer is "draining" (SIGTERM began the shutdown).
  void begin_draining() noexcept { draining_ = true; }

 private:
  void start_ping();
  void settle(readiness_state answer);

  boost::asio::any_io_executor io_;
  storage::store& store_;
  const cluster::bus& bus_;
  /// Woken (cancelled) when the ping in flight settles; expires at its deadline.
  boost::asio::steady_timer ping_done_;
  bool pinging_ = false;
  std::uint64_t ping_generation_ = 0;  // a late answer of an abandoned ping is ignored
  readiness_state last_;
  std::chrono::steady_clock::time_point last_until_{};
  bool draining_ = false;
};

}  // namespace chatrix::http
