// A device as the chat domain sees it. Implemented by the WebSocket session in net/; the
// domain never sees a socket.
#pragma once

#include "cluster/bus.hpp"
#include "core/error.hpp"
#include "core/types.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace chatrix::chat {

using cluster::shared_frame;

/// Thread-safety: call only on the I/O thread.
class connection {
 public:
  virtual ~connection() = default;

  /// Unique across nodes and restarts (random high bits), so it can name a device in events.
  virtual std::uint64_t device_id() const noexcept = 0;
  /// The client's address for log lines (after TRUSTED_PROXIES), "" when unknown.
  virtual std::string client_address() const { return {}; }
  virtual const user& account() const noexcept = 0;
  /// The device confirms receipts with ACK frames instead of relying on socket writes.
  virtual bool explicit_acks() const noexcept = 0;
  virtual bool is_open() const noexcept = 0;
  /// Bytes queued for writing and not yet written.
  virtual std::size_t queued_bytes() const noexcept = 0;

  /// Queues one frame. A non-zero `receipt` is reported back to the chat service
  /// (chat_service::on_written) once the frame has been written to the socket. A
  /// connection whose queue would exceed its limit is cut off instead (slow consumer).
  virtual void send(shared_frame frame, message_id receipt = 0) = 0;

  /// Runs `ready` once the queue holds at most `bytes`, or once the connection has closed,
  /// whichever comes first: at once (inside this call) when that is already so, otherwise
  /// when the write that drains it completes. `ready` runs exactly once, on the I/O thread.
  virtual void when_queue_at_most(std::size_t bytes, std::function<void()> ready) = 0;

  /// chat_service::may_read turned true again: a transport that stopped reading because of
  /// it reads on.
  virtual void may_read_again() = 0;

  /// Ends the connection with an error close: the service can no longer serve this device in
  /// order (a failure while bringing it back in sync). The device reconnects and reads what
  /// is pending from the store.
  virtual void close_for_error() = 0;

  /// Ends the connection for a policy reason the client must hear about: sends ERR with
  /// `reason` (its code, message and retry_after_ms) behind what is queued, then closes as a
  /// policy violation (WebSocket 1008). Used for an expired or revoked token and for a client
  /// that keeps flooding past its limit. Nothing it sends afterwards is handled.
  virtual void end_session(const error& reason) = 0;
};

}  // namespace chatrix::chat
