// PUSH_WEBHOOK_URL parsed once, at start-up, into what the client connects to. Pure.
#pragma once

#include "core/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace chatrix::push {

struct webhook_endpoint {
  bool tls = false;      // https://
  std::string host;      // a name or an address, IPv6 without brackets (for SNI and the resolver)
  std::uint16_t port = 0;
  std::string target;    // path and query, "/" at least
  std::string host_header;  // Host: as the URL names it (the port when it is not the default)
};

/// An absolute http:// or https:// URL with a host and no user info or fragment; anything
/// else is errc::invalid_field with the reason.
result<webhook_endpoint> parse_webhook_url(std::string_view url);

}  // namespace chatrix::push
