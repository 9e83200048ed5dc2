// The life cycle of a WebSocket session as one state machine. Pure (no Asio), so that the
// transition table is tested on its own (tests/unit/net/websocket_lifecycle_test.cpp).
#pragma once

#include <cstdint>

namespace chatrix::net {

/// The states of a WebSocket session and the only transitions between them:
///
///   authenticating ──token accepted──► open
///   authenticating, open ──close begun (auth refused or timed out, idle, shutdown, the
///                          peer's close echoed)──► closing
///   authenticating, open ──protocol error──► failing
///   closing, failing ──the reader ended (the peer's close, EOF) first──► flushing
///   closing, failing ──our close frame written first──► close_sent
///   every state but closed ──finish (handshake complete, close_wait passed, EOF, socket
///                            error, slow consumer)──► closed
///
/// Whether a reader or a writer is running is not a state: the writer runs while frames are
/// queued, the reader waits for readability, runs, or is held (see websocket_session).
enum class ws_state : std::uint8_t {
  authenticating,  // the token frame is awaited (auth deadline armed)
  open,            // attached to the chat service: frames are read and handled
  closing,         // our close frame (or the echo of the peer's) is queued; nothing follows it, the reader looks for the peer's close
  failing,         // the same after a protocol error: the rest of the stream is not parsed, and FIN follows our close frame
  flushing,        // close frame queued, the reader has ended: the connection finishes once the frame is written
  close_sent,      // our close frame is written: waiting for the peer's close or EOF, at most close_wait
  closed,          // the socket is shut down: nothing is read or written any more
};

/// Whether `from → to` is one of the transitions above.
constexpr bool transition_allowed(ws_state from, ws_state to) noexcept {
  using enum ws_state;
  switch (to) {
    case authenticating:
      return false;
    case open:
      return from == authenticating;
    case closing:
    case failing:
      return from == authenticating || from == open;
    case flushing:
    case close_sent:
      return from == closing || from == failing;
    case closed:
      return from != closed;
  }
  return false;
}

/// One session's current state; every change goes through advance().
class ws_lifecycle {
 public:
  ws_state state() const noexcept { return state_; }

  /// Moves to `to` when transition_allowed() permits it from the current state and returns
  /// true; otherwise changes nothing and returns false. Callers use the answer as the guard
  /// ("close unless a close has begun"), so a refused transition is not an error.
  bool advance(ws_state to) noexcept {
    if (!transition_allowed(state_, to)) return false;
    state_ = to;
    return true;
  }

  /// The socket is not shut down yet.
  bool is_open() const noexcept { return state_ != ws_state::closed; }
  /// Chat frames are still taken and sent: no close frame is queued.
  bool accepts_frames() const noexcept { return state_ == ws_state::authenticating || state_ == ws_state::open; }
  /// A close frame is queued or written and the socket is still open.
  bool closing() const noexcept { return !accepts_frames() && is_open(); }

 private:
  ws_state state_ = ws_state::authenticating;
};

}  // namespace chatrix::net
