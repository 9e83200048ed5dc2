// The Chatrix API as chatrix-cli uses it: the /auth routes, and one authenticated WebSocket
// session that sends requests and awaits their answers (docs/protocol.md).
#pragma once

#include "transport.hpp"
#include "wire.hpp"

#include <functional>
#include <string>

namespace chatrix::cli {

struct signed_in {
  std::string token;
  user who;
};

/// POST /auth/register and /auth/login; a refusal throws cli_error with the server's code.
signed_in register_account(const server_url& server, const std::string& username, const std::string& password,
                           const std::string& name);
signed_in log_in(const server_url& server, const std::string& username, const std::string& password);

/// POST /auth/logout: revokes `token`; returns how many tokens the server revoked.
std::int64_t log_out(const server_url& server, const std::string& token);

/// One WebSocket session, authenticated with `"acks": true`: this device confirms each message
/// with ACK itself, so a command that only searches or sends never marks a pending message
/// received without showing it (for devices without acks the completed write is the receipt).
class chat_session {
 public:
  /// Connects and authenticates; reads PROFILE_INFO and CHATPREVIEWS. A refused token throws
  /// cli_error unauthorized. With `since`, the server then sends every event of the user's stream
  /// after that position instead of the pending messages, and SYNCED after them.
  chat_session(const server_url& server, const std::string& token, std::optional<std::int64_t> since = std::nullopt);
  ~chat_session() { connection_.close(); }

  const user& me() const { return me_; }
  /// CHATPREVIEWS as sent on connect (null when there is no conversation).
  const boost::json::value& previews() const { return previews_; }

  void send(event type, boost::json::value body);

  /// The next frame, or nullopt when `deadline` passed first.
  std::optional<frame> next(clock::time_point deadline);

  /// Reads until `answers(frame)` is true and returns that frame; an ERR that `refuses(frame)`
  /// throws the server's code. Other frames (a pending TEXT, a receipt) are skipped. At the
  /// deadline throws cli_error timeout, saying "gave up waiting for <awaited>".
  frame await(const std::function<bool(const frame&)>& answers, const std::function<bool(const frame&)>& refuses,
              clock::time_point deadline, const std::string& awaited);
  /// The answer of type `answer` to a request of type `request` (ERR with that ref_type).
  frame request(event request, boost::json::value body, event answer);

  /// The user called `username` (any case), found with a search; throws cli_error
  /// unknown_recipient when there is none.
  user find_user(const std::string& username);

  /// Sends `body` as a `type` frame that has no answer of its own when it succeeds (MARK_READ,
  /// DELETE), and returns once the server has handled it: the server handles a connection's
  /// frames one after the other, so the answer to an empty search sent next means it is done.
  /// An ERR naming `type` before that answer throws the server's code; other frames in between
  /// (events) are skipped.
  void send_and_confirm(event type, boost::json::value body);

 private:
  ws_connection connection_;
  user me_;
  boost::json::value previews_;
};

}  // namespace chatrix::cli
