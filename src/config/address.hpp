// The addresses a setting can hold (listen address, PostgreSQL, SQLite, Redis, a WebSocket
// URL), parsed once into typed values that the server and its backends use as they are. URL
// forms go through Boost.URL (RFC 3986: schemes are case-insensitive, user info and paths
// percent-decoded). Pure: no sockets, no name resolution.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatrix::config {

/// Why a text is not an address of the kind asked for: one short phrase (no variable name),
/// which never quotes a password; callers put it after the setting's name.
struct address_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// Where the server listens: an IP address (a name would need resolving; "localhost" is
/// read as 127.0.0.1) and a port, 0 for any free one.
struct listen_address {
  std::string host = "0.0.0.0";
  std::uint16_t port = 6969;

  std::string to_string() const;  // "0.0.0.0:6969", "[::1]:0"
};

/// PORT, :PORT, IPV4:PORT or [IPV6]:PORT.
listen_address parse_listen_address(std::string_view text);

/// A PostgreSQL server and how to log in. An empty field is left to libpq's defaults (PGHOST,
/// PGUSER..., then the local socket), as in a connection string that does not name it.
struct postgres_address {
  std::string host;      // a name, an address, a socket directory, or a comma list of them
  std::string port;      // a port or a comma list of them, one per host
  std::string user;
  std::string password;
  std::string dbname;
  /// Every other libpq keyword given, in order: sslmode, application_name, options...
  std::vector<std::pair<std::string, std::string>> options;

  /// For logs: a postgres:// URL with the password shown as "***".
  std::string to_string() const;
};

/// postgres://... or postgresql://... (any case; the libpq URI syntax with one host, query
/// parameters being libpq keywords), or a libpq key=value string (values in single quotes
/// with \' and \\ escapes).
postgres_address parse_postgres_address(std::string_view text);

/// Whether `text` is meant as a PostgreSQL address (a postgres URL, or key=value words) rather
/// than something else, so that a malformed one is reported as such.
bool is_postgres_address(std::string_view text);

/// The SQLite file of sqlite:PATH, sqlite://PATH or sqlite:///ABSOLUTE (scheme in any case).
std::filesystem::path parse_sqlite_address(std::string_view text);

/// Whether `text` starts with the sqlite: scheme (in any case).
bool is_sqlite_address(std::string_view text);

/// Where Redis is and how to log in.
struct redis_address {
  std::string host = "127.0.0.1";
  std::string port = "6379";
  std::string username;  // ACL user (Redis 6+); empty: the default user
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECT; pub/sub ignores it

  std::string to_string() const;  // for logs: the password is never shown
};

/// HOST:PORT, [IPV6]:PORT, or redis://[[user]:password@]host[:port][/db] (any case of the
/// scheme; a bare user info is the password, as Redis clients read it). rediss:// (TLS) is
/// refused: TLS to Redis is not supported.
redis_address parse_redis_address(std::string_view text);

/// A WebSocket URL: the HTTP API is at the same host and port.
struct websocket_address {
  std::string host;
  std::string port = "80";
  std::string target = "/ws";  // path and query as written
};

/// ws://host[:port][/path] (any case of the scheme; port 80 and path /ws by default).
websocket_address parse_websocket_address(std::string_view text);

/// An IP address as 16 bytes, IPv4 in its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so that
/// either spelling of one client compares equal.
using ip_bytes = std::array<std::uint8_t, 16>;

/// A literal IPv4 or IPv6 address (an IPv6 zone is ignored); nullopt if `text` is not one.
std::optional<ip_bytes> parse_ip(std::string_view text);

/// A CIDR block such as 10.0.0.0/8 or fd00::/8; a bare address is a block of one.
struct ip_network {
  ip_bytes base{};
  unsigned prefix = 128;  // bits of `base` that must match, in the 128-bit space

  bool contains(const ip_bytes& address) const noexcept;
  bool contains(std::string_view address) const;  // false for anything that is not an address
  std::string to_string() const;                  // "10.0.0.0/8", "fd00::/8"
};

/// ADDRESS[/BITS] with IPv4 or IPv6; host bits set below the prefix are refused (a typo
/// such as 10.0.0.1/8 is more likely than the intent).
ip_network parse_ip_network(std::string_view text);

}  // namespace chatrix::config
