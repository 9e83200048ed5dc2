// The server address chatrix-cli talks to: --server, CHATRIX_SERVER or the saved login's, as an
// http:// URL whose WebSocket is at /ws on the same host and port.
#pragma once

#include <string>
#include <string_view>

namespace chatrix::cli {

inline constexpr std::string_view default_server = "http://127.0.0.1:6969";

struct server_url {
  std::string host;
  std::string port;
  std::string text;  // as saved and shown: http://host:port, without a trailing path
};

/// http://host[:port][/] (scheme in any case, port 80 by default); a bare host[:port] means
/// http://. Throws cli_error (usage) for anything else, https:// included (not supported yet).
server_url parse_server_url(std::string_view text);

}  // namespace chatrix::cli
