// The cluster interface: how an event for a user reaches that user's devices, wherever they
// are connected. In-process on a single node; Redis pub/sub across nodes.
#pragma once

#include "core/types.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace chatrix::cluster {

/// One encoded frame, shared by every device it goes to.
using shared_frame = std::shared_ptr<const std::string>;

/// An event addressed to every device of one user.
struct user_event {
  enum class kind : std::uint8_t {
    message,  // a TEXT: devices report receipt of `msg` (delivery tracking)
    notice,   // anything else (DELIVERED/RECEIVED/MARK_READ/SENT): fire and forget
  };
  user_id to = 0;
  kind type = kind::notice;
  message_id msg = 0;  // kind::message: the message; a notice about one message (SENT): it
                       // too, so that devices drop a repeat; other notices: 0
  std::uint64_t skip_device = 0;  // a local device not to send to (the one that caused it)
  shared_frame frame;
};

/// Receives the events that this node's devices must get.
class event_sink {
 public:
  virtual ~event_sink() = default;
  virtual void deliver_local(const user_event& ev) = 0;
  /// The bus may have dropped events for local devices (it lost Redis and has it back, another
  /// node dropped routing or died). Called at the point of the event stream where the loss is
  /// known, before any later event: from here on the sink holds live events back, re-checks in
  /// the database what every local device is still owed, sends that, then the held events, so
  /// that events do not overtake older lost ones.
  virtual void resync() = 0;
};

/// A live node as the registry sees it.
struct node_info {
  std::string id;
  std::string address;  // SERVER_HOST: how other nodes and operators reach it
  unix_ms started_at = 0;
  std::int64_t connections = 0;
  unix_ms expires_at = 0;  // lease end; renewed by heartbeat
};

/// Routes user events to the nodes holding the users' sessions.
///
/// Thread-safety: call only from the I/O thread that owns the chat service; deliver_local is
/// called on that thread too.
class bus {
 public:
  virtual ~bus() = default;
  /// Starts routing to `sink` (the local chat service).
  virtual void start(event_sink& sink) = 0;
  virtual void publish(user_event ev) = 0;
  /// Presence: the node holds (or no longer holds) a session of `id`. `visible` runs on the
  /// I/O thread once other nodes route `id`'s events here (at once when they cannot: a
  /// resync follows when the bus recovers), so that a pending-message query made after it
  /// cannot miss a message routed nowhere.
  virtual void device_connected(user_id id, std::function<void()> visible) = 0;
  virtual void device_disconnected(user_id id) = 0;
  /// Deregisters the node and stops at once. Idempotent.
  virtual void stop() = 0;
  /// Shutdown: routes what was published so far (bounded wait), then deregisters and stops;
  /// `done` runs on the I/O thread when that is over (at once when there is nothing to wait for).
  virtual void shutdown(std::function<void()> done) {
    stop();
    if (done) done();
  }

  /// False when every session is on this node (a single node): an event for a user with no
  /// session here then reaches nobody, so the caller need not even build it.
  virtual bool spans_nodes() const noexcept = 0;

  virtual std::string node_id() const = 0;
  /// Live nodes as last seen by this node (itself included).
  virtual std::vector<node_info> nodes() const = 0;
};

}  // namespace chatrix::cluster
