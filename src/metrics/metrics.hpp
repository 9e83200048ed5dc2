// Process-wide counters, gauges and histograms, rendered in the Prometheus text format at
// GET /metrics (every series is listed in docs/operations.md). Relaxed atomics: these are
// statistics, not synchronisation.
#pragma once

#include "core/error.hpp"
#include "metrics/histogram.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace chatrix::metrics {

using counter = std::atomic<std::uint64_t>;
using gauge = std::atomic<std::int64_t>;

/// What the store's writers report (SQLite's writer thread, PostgreSQL's writer connections).
/// The store holds a pointer to it (nullptr: not measured, as in tests that build a store on
/// its own). Its own cache lines: the writer threads update it, not the I/O thread.
struct alignas(64) store_metrics {
  latency_histogram commit_seconds;  // BEGIN to COMMIT returned, per committed transaction
  batch_histogram commit_writes;     // writes in that transaction
  alignas(64) gauge queued_writes{0};  // in the write queue(s), not yet taken by a writer
};

/// What the Redis bus reports (the in-process bus reports nothing: it has no link to lose
/// and publishes by a direct call). I/O thread only.
struct cluster_metrics {
  latency_histogram publish_seconds;  // PUBLISH written to the Redis link, to its reply
  counter reconnects{0};              // a Redis link (commands or subscription) up again after a loss
  counter resyncs{0};                 // sink resyncs: local devices re-read from the store
  gauge nodes{0};                     // live nodes as last read from the registry, this one included
  gauge queued_events{0};             // events awaiting their routing round (queued + in flight)
  counter ephemeral_dropped{0};       // ephemeral events (typing) not routed: queue half full, no Redis
};

/// A WebSocket session's phase, as chatrix_websocket_connections{state} groups them.
enum class connection_state : std::uint8_t { authenticating, open, closing };
inline constexpr std::size_t connection_state_count = 3;

/// The codes chatrix_errors_total{code} lists: errc 0 up to the last one declared in
/// core/error.hpp (tests/unit/metrics checks that no code follows it).
inline constexpr errc last_error_code = errc::blocked;
inline constexpr std::size_t error_code_count = static_cast<std::size_t>(last_error_code) + 1;
/// Room for codes added later without moving the series' storage.
inline constexpr std::size_t max_error_codes = 32;
static_assert(error_code_count <= max_error_codes, "chatrix_errors_total needs room for every errc");

/// Thread-safety: every member may be updated from any thread.
struct server_metrics {
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
  counter typing_dropped{0};  // TYPING frames not sent to a device that was syncing or backed up
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

  // Push webhooks (src/push): attempts that reached the receiver, failed, and pushes dropped.
  counter push_sent{0};
  counter push_failed{0};
  counter push_dropped{0};
  gauge push_queue{0};  // pushes waiting for their delay, being sent or awaiting a retry (PUSH_QUEUE)

  // Every ERR frame and every HTTP error answer, by its code.
  std::array<counter, max_error_codes> errors_by_code{};
  // WebSocket sessions by phase (src/net/websocket_session.cpp keeps them current).
  std::array<gauge, connection_state_count> websocket_connections{};
  gauge socket_queued_bytes{0};  // bytes queued to WebSocket sockets and not yet written
  gauge hash_queue{0};           // password hashes in flight (bounded by HASH_QUEUE)

  // Latency of a TEXT (docs/operations.md, "Metrics"): from the moment the chat service takes
  // it, to its DELIVERED being queued to the sender (stored), and to the frame being queued to
  // a recipient's device on this node (delivered).
  latency_histogram send_stored;
  latency_histogram send_delivered;

  store_metrics store;
  cluster_metrics cluster;

  static void add(counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  void error_sent(errc code) noexcept {
    const auto i = static_cast<std::size_t>(code);
    if (i < max_error_codes) add(errors_by_code[i]);
  }
  gauge& connections_in(connection_state state) noexcept {
    return websocket_connections[static_cast<std::size_t>(state)];
  }
};

std::string render_prometheus(const server_metrics& m);

}  // namespace chatrix::metrics
