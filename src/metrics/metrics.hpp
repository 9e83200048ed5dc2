// Process-wide counters and gauges, rendered in the Prometheus text format at GET /metrics.
// Relaxed atomics: these are statistics, not synchronisation.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace chatrix::metrics {

/// Thread-safety: every member may be updated from any thread.
struct server_metrics {
  using counter = std::atomic<std::uint64_t>;
  using gauge = std::atomic<std::int64_t>;

  gauge connections_open{0};
  counter connections_total{0};
  counter auth_failures{0};
  counter frames_received{0};
  counter errors_sent{0};
  counter messages_stored{0};
  counter messages_duplicate{0};
  counter messages_delivered{0};
  counter messages_read{0};
  counter pending_pushed{0};
  counter slow_consumer_disconnects{0};
  counter http_requests{0};
  counter store_errors{0};

  // Abuse limits (docs/security.md): each refusal counted once, by the limit that refused it.
  counter limited_login_username{0};   // LOGIN_FAILURE_LIMIT
  counter limited_login_address{0};    // LOGIN_ADDRESS_LIMIT
  counter limited_register{0};         // REGISTER_LIMIT
  counter limited_messages{0};         // MESSAGE_RATE / MESSAGE_BURST
  counter limited_reads{0};            // SEARCH_LIMIT, HISTORY_LIMIT
  counter limited_connections{0};      // CONNECT_LIMIT, ADDRESS_CONNECTIONS, HTTP_ADDRESS_CONNECTIONS, UNAUTHENTICATED_*
  counter quota_exceeded{0};           // STORAGE_QUOTA
  counter hash_queue_full{0};          // HASH_QUEUE: 503 overloaded
  counter flood_disconnects{0};        // MESSAGE_FLOOD_LIMIT: closed with 1008
  counter unauthenticated_closed{0};   // UNAUTHENTICATED_PINGS: closed with 1008 before auth
  counter login_failures{0};           // wrong password or unknown user
  counter bad_tokens{0};               // tokens refused (forged, expired, revoked...)
  counter tokens_revoked{0};           // logout, logout-all, password change
  counter sessions_closed_token{0};    // live sockets closed at expiry or revocation
  counter http_timeouts{0};            // HTTP requests cut off at HTTP_HEADER_TIMEOUT / HTTP_REQUEST_TIMEOUT
  counter origin_refused{0};           // WS_ORIGINS

  static void add(counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

std::string render_prometheus(const server_metrics& m);

}  // namespace chatrix::metrics
