#include "net/client_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>

namespace chatrix::net {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_v4_mapped(const config::ip_bytes& b) {
  return std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) && b[10] == 0xFF &&
         b[11] == 0xFF;
}

}  // namespace

bool is_trusted(const config::ip_bytes& address, std::span<const config::ip_network> networks) {
  return std::any_of(networks.begin(), networks.end(),
                     [&](const config::ip_network& n) { return n.contains(address); });
}

config::ip_bytes forwarded_client(const config::ip_bytes& peer, std::string_view x_forwarded_for,
                                  std::span<const config::ip_network> trusted_proxies) {
  if (!is_trusted(peer, trusted_proxies)) return peer;
  std::optional<config::ip_bytes> leftmost;
  std::string_view rest = x_forwarded_for;
  while (!trim(rest).empty()) {
    const auto comma = rest.rfind(',');
    const auto entry = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    // parse_ip forgives an IPv6 zone ("%eth0"); no proxy writes one, so it is refused here.
    const auto ip = entry.find('%') == std::string_view::npos ? config::parse_ip(entry) : std::nullopt;
    if (!ip) return peer;
    if (!is_trusted(*ip, trusted_proxies)) return *ip;
    leftmost = *ip;
  }
  return leftmost.value_or(peer);
}

std::string address_text(const config::ip_bytes& address) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4_mapped(address)) {
    ::inet_ntop(AF_INET, address.data() + 12, buf, sizeof buf);
  } else {
    ::inet_ntop(AF_INET6, address.data(), buf, sizeof buf);
  }
  return buf;
}

}  // namespace chatrix::net
