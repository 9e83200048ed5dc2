// Who may open a connection, and how many each client address holds: CONNECT_LIMIT,
// ADDRESS_CONNECTIONS, HTTP_ADDRESS_CONNECTIONS, UNAUTHENTICATED_PER_ADDRESS and
// UNAUTHENTICATED_TOTAL. Counting only: the server decides when to ask, and answers refusals.
#pragma once

#include "config/address.hpp"
#include "core/error.hpp"
#include "limits/keyed_limiter.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chatrix::net {

struct admission_limits {
  limits::rate connect_limit{300, std::chrono::seconds(1)};  // connection attempts per address
  std::size_t address_connections = 1000;                   // open, WebSocket and plain HTTP (0 = off)
  std::size_t http_address_connections = 64;                 // open plain HTTP ones (0 = off)
  std::size_t unauthenticated_per_address = 256;             // WebSockets before authentication (0 = off)
  std::size_t unauthenticated_total = 8192;                  // the same on the whole node (0 = off)
};

/// A connection refused: the error for the client (rate_limited for a per-address limit,
/// overloaded for the node-wide one, both with a retry hint) and the setting that refused it.
struct refusal {
  error reason;
  std::string_view limit;  // "CONNECT_LIMIT", "ADDRESS_CONNECTIONS", ...
};

/// The counts of one server. Every connection holds a ticket; what the ticket holds is
/// counted until the ticket lets go of it or is destroyed, so nothing leaks when a
/// connection ends in any way. Memory: one entry per address with a connection open (at
/// most one per socket) plus the CONNECT_LIMIT buckets (bounded by keyed_limiter).
///
/// Thread-safety: I/O thread only, tickets included. Held by shared_ptr, because a session
/// (and its ticket) can outlive the server that admitted it at process exit.
class admission : public std::enable_shared_from_this<admission> {
 public:
  class ticket;

  explicit admission(admission_limits limits);

  /// A ticket for a new socket: it counts as open (open_sockets) and holds no address yet.
  ticket open_socket();

  /// A connection from `address`: an attempt under CONNECT_LIMIT and an open connection under
  /// ADDRESS_CONNECTIONS. A ticket already held for `address` passes unchanged (the next
  /// request of a keep-alive connection); one held for another address (a proxy's connection
  /// now carrying another client) moves to `address`, and no longer counts as plain HTTP or
  /// unauthenticated there. Refused: the ticket keeps what it held.
  std::optional<refusal> admit_http(ticket& t, const config::ip_bytes& address, limits::steady_time now);

  /// The ticket's connection carries a plain HTTP request (not an upgrade): from now on it
  /// counts under HTTP_ADDRESS_CONNECTIONS, until it upgrades or ends. A connection that has
  /// not sent its first request's headers yet is not counted here, since it may turn out to
  /// be a WebSocket: a client opening 200 sockets at once must not be refused for them.
  /// Refused: the ticket is unchanged. A ticket without an address passes.
  std::optional<refusal> serve_plain_http(ticket& t);

  /// The ticket's connection becomes a WebSocket: it stops counting as plain HTTP and counts
  /// as unauthenticated (per address and in total) until ticket::authenticated(). Refused:
  /// the ticket is unchanged.
  std::optional<refusal> upgrade(ticket& t);

  std::size_t open_sockets() const noexcept { return open_sockets_; }
  std::size_t unauthenticated() const noexcept { return unauthenticated_; }
  /// Addresses with something counted (for tests: entries go once their counts are zero).
  std::size_t tracked_addresses() const noexcept { return counts_.size(); }

 private:
  struct counts {
    std::uint32_t open = 0;
    std::uint32_t http = 0;
    std::uint32_t unauthenticated = 0;
  };
  struct address_hash {
    std::size_t operator()(const config::ip_bytes& a) const noexcept;
  };
  enum held : std::uint8_t { socket_held = 1, open_held = 2, http_held = 4, unauthenticated_held = 8 };

  void release(ticket& t, std::uint8_t what);

  admission_limits limits_;
  limits::keyed_limiter attempts_;
  std::unordered_map<config::ip_bytes, counts, address_hash> counts_;
  std::size_t open_sockets_ = 0;
  std::size_t unauthenticated_ = 0;
};

/// What one connection holds. Move-only; the destructor gives everything back.
class admission::ticket {
 public:
  ticket() = default;  // holds nothing (a session built outside a server, in tests)
  ticket(ticket&& other) noexcept;
  ticket& operator=(ticket&& other) noexcept;
  ~ticket();

  /// The session authenticated: it no longer counts as unauthenticated.
  void authenticated();

  /// The client address the ticket counts for, if it has one yet.
  const std::optional<config::ip_bytes>& address() const noexcept { return address_; }

 private:
  friend class admission;
  explicit ticket(std::shared_ptr<admission> owner) : owner_(std::move(owner)) {}
  void reset() noexcept;

  std::shared_ptr<admission> owner_;
  std::optional<config::ip_bytes> address_;
  std::uint8_t held_ = 0;
};

}  // namespace chatrix::net
