// The cluster interface: how an event for a user reaches that user's devices, wherever they
// are connected. In-process on a single node; Redis pub/sub across nodes.
#pragma once

#include "core/types.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace chatrix::cluster {

/// One encoded frame, shared by every device it goes to.
using shared_frame = std::shared_ptr<const std::string>;

/// An event addressed to every device of one user.
struct user_event {
  enum class kind : std::uint8_t {
    message,  // a TEXT: devices report receipt of `msg` (delivery tracking)
    notice,   // anything else (DELIVERED/RECEIVED/MARK_READ/SENT): fire and forget
    // Typing (17): worthless a few seconds later. Dropped rather than queued behind anything
    // (a device with a backlog, a syncing device, a full routing queue); never held for
    // replay, and its loss is no reason to resync.
    ephemeral,
  };
  user_id to = 0;
  kind type = kind::notice;
  message_id msg = 0;  // kind::message: the message; a notice about one message (SENT): it
                       // too, so that devices drop a repeat; other notices: 0
  std::uint64_t skip_device = 0;  // a local device not to send to (the one that caused it)
  shared_frame frame;
  // kind::message: when the chat service took the TEXT, for chatrix_send_delivered_seconds.
  // Only meaningful on the node that took it: never sent to other nodes (their clocks differ),
  // so an event from another node carries the epoch ("not measured").
  std::chrono::steady_clock::time_point taken{};
  stream_pos pos = 0;  // the event's position in `to`'s stream (0: not a stream event); sent to other nodes
};

/// Tokens revoked on some node; every node must stop honouring them (docs/security.md).
struct revocation {
  user_id user = 0;
  std::vector<std::string> jtis;  // the revoked tokens' ids
  std::int64_t cutoff_s = 0;      // tokens of `user` without a jti issued at or before (0 = none)
  std::vector<std::pair<std::string, unix_ms>> expiries;  // jti -> token expiry, for forgetting it
};

/// A node's own view of one user's presence: whether it holds a device of theirs.
struct presence_update {
  user_id user = 0;
  bool online = false;  // the node holds at least one device of `user`
  unix_ms at = 0;       // when that changed (offline: when the user's last device there went away)
};

/// Receives the events that this node's devices must get, and the revocations every node must
/// apply.
class event_sink {
 public:
  virtual ~event_sink() = default;
  /// Tokens were revoked (on this node or another): close the sockets using them, refuse them.
  /// A revocation the bus may have lost is made up for by resync(), in which the sink
  /// re-reads store::revocations() as well as what its devices are owed. Idempotent: the
  /// same revocation may come twice (published, then found again by a resync).
  virtual void revoked(const revocation& r) { (void)r; }
  virtual void deliver_local(const user_event& ev) = 0;
  /// Presence as node `node` (this one included) holds it changed for these users (in the
  /// order the node published them).
  virtual void presence_changed(const std::string& node, const std::vector<presence_update>& updates) {
    (void)node;
    (void)updates;
  }
  /// Node `node` left the cluster (deregistered, or its lease ran out): every user it held
  /// is offline there, as of `at`.
  virtual void node_gone(const std::string& node, unix_ms at) {
    (void)node;
    (void)at;
  }
  /// Every user this node holds a device of (online, at = when they came online here): asked
  /// when another node joins or this one rejoins after a link loss, so that every node's view
  /// of who is online where is whole again.
  virtual std::vector<presence_update> local_presence() { return {}; }
  /// The profile, settings or blocks of `id` changed (or the account was deleted), on some
  /// node: drop what is cached of them. A resync() drops every such cache, since these may
  /// have been lost on the way.
  virtual void user_changed(user_id id) { (void)id; }
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
/// Thread-safety: none. Construct, call, and destroy on the one I/O thread that owns the chat
/// service (or before that thread runs); every callback (the sink's deliver_local and
/// resync, `visible`, `done`) runs on that thread too, never concurrently with a call.
///
/// Delivery: between start() and stop(), an event published for a user with a device
/// connected on this node is handed to the sink's deliver_local exactly once, before
/// publish() returns; a bus may also hand over events for users with no device here (the
/// sink drops them). Events for users with devices on other nodes reach those nodes' sinks
/// (spans_nodes()). Events for one recipient are handed over in the order they were
/// published, on every node. Before start() and after stop(), publish() does nothing.
///
/// Callbacks: `done` (shutdown) runs exactly once, even if the bus is destroyed first;
/// `visible` (device_connected) exactly once unless the bus is stopped first (then maybe
/// never), and never after the bus was destroyed. Either may run before the call returns
/// (in_process_bus) or later (redis_bus). Nothing is handed to the sink after stop() or
/// after `done`.
///
/// Errors: no method throws (constructors may, on bad options). A bus that may have lost
/// events on their way (its backend was unreachable, a node died) does not report an error:
/// it calls the sink's resync() once it can deliver again, and the sink re-reads what the
/// database still owes; events that are not in the database (notices) may be lost.
///
/// Every implementation runs the bus contract suite (tests/cluster/bus_contract.*).
class bus {
 public:
  virtual ~bus() = default;
  /// Starts routing to `sink` (the local chat service).
  virtual void start(event_sink& sink) = 0;
  virtual void publish(user_event ev) = 0;
  /// Hands `r` to the sink of every live node, this one included (before returning, here).
  /// The caller has stored the revocation first: a node that may have missed it (its link to
  /// the cluster was down, or it started meanwhile) gets resync() instead, and re-reads
  /// store::revocations() then. Before start() and after stop(), does nothing.
  virtual void publish_revocation(const revocation& r) = 0;
  /// Presence: the node holds (or no longer holds) a session of `id`. `visible` runs once
  /// other nodes route `id`'s events here (at once when they cannot: a resync follows when
  /// the bus recovers), so that a pending-message query made after it cannot miss a message
  /// routed nowhere. Each device_disconnected matches an earlier device_connected.
  virtual void device_connected(user_id id, std::function<void()> visible) = 0;
  virtual void device_disconnected(user_id id) = 0;
  /// Hands `updates` (this node's presence changes, coalesced by the caller) to the sink of
  /// every live node, this one included (before returning, here): presence_changed(node_id()).
  /// A node that joins later learns the current state from local_presence(). Best effort:
  /// lost on a link loss, healed by the local_presence() exchange when the link is back.
  virtual void publish_presence(std::vector<presence_update> updates) = 0;
  /// Hands user_changed(id) to the sink of every live node, this one included (before
  /// returning, here). The caller has stored the change first; a node that may have missed
  /// it resyncs.
  virtual void publish_user_changed(user_id id) = 0;
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
  /// Whether routing works both ways right now (readiness): always for a bus within one
  /// process; a bus over a backend says whether it has it.
  virtual bool connected() const noexcept { return true; }

  virtual std::string node_id() const = 0;
  /// Live nodes as last seen by this node: itself always, with its current count of
  /// connected devices.
  virtual std::vector<node_info> nodes() const = 0;
};

}  // namespace chatrix::cluster
