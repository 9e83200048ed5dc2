// The server chatrix-cli talks to: --server, CHATRIX_SERVER or the saved login's, as an http://
// or https:// URL whose WebSocket is at /ws on the same host and port.
#pragma once

#include <string>
#include <string_view>

namespace chatrix::cli {

inline constexpr std::string_view default_server = "http://127.0.0.1:6969";

struct server_url {
  bool tls = false;  // https:// (and wss://)
  std::string host;  // an IPv6 address without brackets
  std::string port;
  std::string text;  // as saved and shown: http(s)://host:port, without a trailing path
  /// With TLS: a PEM file of certificates to trust besides the system's (--cacert). Not part of
  /// the URL, but of how to reach the server, so it travels with it.
  std::string ca_file;
};

/// http(s)://host[:port][/] (scheme in any case; port 80 or 443 by default); a bare
/// host[:port] means http://. Throws cli_error (usage) for anything else.
server_url parse_server_url(std::string_view text);

}  // namespace chatrix::cli
