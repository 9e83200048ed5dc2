// Who a request comes from: the TCP peer, or, when the peer is a trusted proxy, the client it
// names in X-Forwarded-For. Pure functions on addresses: no sockets, tested by fragments.
#pragma once

#include "config/address.hpp"

#include <span>
#include <string>
#include <string_view>

namespace chatrix::net {

/// Whether `address` is inside one of `networks`.
bool is_trusted(const config::ip_bytes& address, std::span<const config::ip_network> networks);

/// The client behind `peer`. Only a peer inside `trusted_proxies` is believed: then the
/// X-Forwarded-For list (every header line joined with commas, as received) is walked from
/// the right, skipping addresses that are trusted proxies themselves, and the first other
/// address is the client. Each proxy appends the address it saw, so everything left of that
/// one was written by the client and could be forged. A list whose every entry is a trusted
/// proxy names its left-most. An empty or malformed list (an entry that is not a plain IPv4
/// or IPv6 address) gives `peer`: a proxy we trust never writes one, so it was not a proxy's.
config::ip_bytes forwarded_client(const config::ip_bytes& peer, std::string_view x_forwarded_for,
                                  std::span<const config::ip_network> trusted_proxies);

/// "203.0.113.7" for an IPv4 (also IPv4-mapped) address, "2001:db8::1" for IPv6.
std::string address_text(const config::ip_bytes& address);

}  // namespace chatrix::net
