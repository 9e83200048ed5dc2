// The bytes on the wire: one HTTP request, or one WebSocket connection, each with a deadline,
// over TCP or (https://) TLS.
// The only file of chatrix-cli that includes Beast (it is most of the compile time), so this
// header names none of it.
#pragma once

#include "server_url.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace chatrix::cli {

using clock = std::chrono::steady_clock;

/// How long any one exchange (connect, request, a frame awaited by a command) may take; a file
/// transfer may take as long as it keeps moving, this long at most without progress.
inline constexpr std::chrono::seconds network_timeout{10};

struct http_request {
  enum class method { get, post, patch, del };
  method verb = method::get;
  std::string target;        // path and query, already percent-encoded
  std::string bearer;        // `Authorization: Bearer <bearer>` unless empty
  std::string content_type;  // of the body (POST, PATCH, DELETE)
  std::string body;          // the body, unless body_file is set
  std::optional<std::filesystem::path> body_file;  // streamed from disk as the body
};

struct http_reply {
  unsigned status = 0;
  std::string body;  // for http_download: only when the status is not 2xx (the error)
  std::string content_type;
  std::string content_disposition;
};

/// One request, its whole answer in memory (JSON answers are small). Throws cli_error:
/// unreachable (no connection, a broken answer), tls (the handshake or the server's certificate
/// failed), timeout, or local (the --cacert file or body_file cannot be read).
http_reply http_call(const server_url& server, const http_request& request);

/// POSTs `body` (JSON) to `target`, as http_call.
http_reply post_json(const server_url& server, std::string_view target, const std::string& body,
                     std::string_view bearer);

/// A GET whose 2xx body is handed to `sink` chunk by chunk as it arrives, so a file of any size
/// passes through a fixed buffer; any other answer's body (an error) is kept in the reply. Throws
/// as http_call, and whatever `sink` throws.
http_reply http_download(const server_url& server, const http_request& request,
                         const std::function<void(std::string_view)>& sink);

/// A client WebSocket to the server's /ws. Not thread-safe; one command drives it.
class ws_connection {
 public:
  /// Connects and upgrades, or throws cli_error (as post_json, or the server's code when it
  /// refused the upgrade with a JSON error).
  explicit ws_connection(const server_url& server);
  ~ws_connection();
  ws_connection(const ws_connection&) = delete;
  ws_connection& operator=(const ws_connection&) = delete;

  /// Sends one text frame; throws cli_error (unreachable) when the connection is gone.
  void write(const std::string& text);

  /// The next text frame, or nullopt when `deadline` passed first (the connection is then
  /// unusable). Throws cli_error (unreachable) when the server closed it, naming its close reason.
  std::optional<std::string> read(clock::time_point deadline);

  /// Closing handshake, bounded by network_timeout; errors are ignored (the work is done).
  void close() noexcept;

  /// Defined in transport.cpp, once for TCP and once for TLS; named here only so that those may
  /// derive from it.
  struct state;

 private:
  std::unique_ptr<state> state_;
};

}  // namespace chatrix::cli
