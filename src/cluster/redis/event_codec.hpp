// The wire form of user events between nodes: one PUBLISH payload carries a batch of events
// (and control records) for one node, compact and binary-safe.
#pragma once

#include "cluster/bus.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::cluster::redis {

/// Payload layout: a version byte (1), then records. A record is a tag byte, then for events
/// LEB128 varints `to`, `msg`, `skip_device`, the frame length, and the frame bytes. Tags:
/// - 0 = message, 1 = notice (user_event::kind);
/// - 2 = resync (the receiver re-checks the database: the sender may have dropped events for it);
/// - 3 = origin: varint length and the sending node's id, for the records after it;
/// - 4 = replayed notice: varint `seq` (the origin's number for it, increasing), then as an
///   event: a notice whose routing failed earlier, sent again (receivers drop repeats by seq);
/// - 5 = hello: the origin is back after losing Redis and asks for the notices it may have missed.
/// - 6 = revocation, only on the revocations channel (bus_keys::revocations), after an origin:
///   varints `user` and `cutoff_s`, a varint count of jtis, each a varint length and its
///   bytes, then a varint count of expiries, each a length, the jti's bytes and a varint
///   expiry (unix ms).
/// - 7 = position: varint `pos` (user_event::pos), for the event record (tag 0, 1 or 4) that
///   follows at once; an event without one has pos 0. Written only for stream events.
/// - 8 = ephemeral event (user_event::kind::ephemeral), laid out as tag 1.
/// Nodes that predate tags 3-5, 7 and 8 treat them as a malformed payload, i.e. resync. Tag 6
/// never goes to a node's own channel, so decode_payload takes it for a malformed payload too;
/// so are the broadcast tags (9-14, below).
inline constexpr std::uint8_t payload_version = 1;

/// Starts an empty payload.
void begin_payload(std::string& out);
void append_event(std::string& out, const user_event& ev);
void append_resync(std::string& out);
void append_origin(std::string& out, std::string_view node_id);
void append_replayed(std::string& out, std::uint64_t seq, const user_event& ev);
void append_hello(std::string& out);

/// A whole revocations-channel payload: version, origin, one revocation record.
std::string encode_revocation(std::string_view origin, const revocation& r);

struct decoded_revocation {
  std::string origin;  // the node that published it
  revocation r;
};
/// nullopt when `in` is not exactly what encode_revocation writes.
std::optional<decoded_revocation> decode_revocation(std::string_view in);

/// The broadcast channel (bus_keys::broadcast): presence and user changes, which every node
/// hears. A payload is the version, an origin record (tag 3), then records:
/// - 9 = online, 10 = offline: varints `user` and `at` (presence_update);
/// - 11 = user changed: varint `user`;
/// - 12 = snapshot begin, 13 = snapshot end: the online records between them are every user
///   the origin holds (a snapshot may span several payloads, published back to back);
/// - 14 = ask: every node that hears it publishes its snapshot.
/// Tags are shared with the node channels' so that a payload on the wrong channel is refused.
struct broadcast_record {
  enum class kind : std::uint8_t { presence, user_changed, snapshot_begin, snapshot_end, ask };
  kind type = kind::presence;
  presence_update update;  // kind::presence
  user_id user = 0;        // kind::user_changed
};

/// Builds broadcast payloads from `origin`, starting a new one past `max_payload_bytes` (a
/// record never spans two).
class broadcast_encoder {
 public:
  broadcast_encoder(std::string_view origin, std::size_t max_payload_bytes)
      : origin_(origin), max_bytes_(max_payload_bytes) {}
  void presence(const presence_update& u);
  void user_changed(user_id id);
  void snapshot_begin();
  void snapshot_end();
  void ask();
  bool empty() const noexcept { return payloads_.empty(); }
  /// The payloads built so far, in order; the encoder starts over empty.
  std::vector<std::string> take();

 private:
  std::string& current();

  std::string origin_;
  std::size_t max_bytes_;
  std::vector<std::string> payloads_;
};

struct decoded_broadcast {
  std::string origin;
  std::vector<broadcast_record> records;
};
/// nullopt when `in` is not a whole broadcast payload (no origin, an unknown tag, cut short).
std::optional<decoded_broadcast> decode_broadcast(std::string_view in);

/// What decode_payload found.
struct decode_result {
  std::size_t events = 0;
  std::size_t resyncs = 0;
  bool ok = true;  // false: malformed; the records before the fault were still handed over
};

/// The default for the optional handlers of decode_payload.
struct ignore_records {
  template <class... Args>
  void operator()(Args&&...) const {}
};

namespace detail {
bool read_varint(std::string_view& in, std::uint64_t& v);
}

/// Calls on_event(user_event&&), on_resync(), on_replayed(origin, seq, user_event&&) and
/// on_hello(origin) for each record, in order (origin: std::string_view, empty if none came).
template <class OnEvent, class OnResync, class OnReplayed = ignore_records, class OnHello = ignore_records>
decode_result decode_payload(std::string_view in, OnEvent&& on_event, OnResync&& on_resync,
                             OnReplayed&& on_replayed = {}, OnHello&& on_hello = {}) {
  decode_result res;
  if (in.empty() || static_cast<std::uint8_t>(in[0]) != payload_version) {
    res.ok = false;
    return res;
  }
  in.remove_prefix(1);
  std::string_view origin;
  while (!in.empty()) {
    auto tag = static_cast<std::uint8_t>(in[0]);
    in.remove_prefix(1);
    std::uint64_t pos = 0;
    if (tag == 7) {
      // A position belongs to the event record right after it, and to nothing else.
      if (!detail::read_varint(in, pos) || in.empty()) {
        res.ok = false;
        return res;
      }
      tag = static_cast<std::uint8_t>(in[0]);
      if (tag != 0 && tag != 1 && tag != 4 && tag != 8) {
        res.ok = false;
        return res;
      }
      in.remove_prefix(1);
    }
    if (tag == 2) {
      ++res.resyncs;
      on_resync();
      continue;
    }
    if (tag == 3) {
      std::uint64_t len = 0;
      if (!detail::read_varint(in, len) || len > in.size()) {
        res.ok = false;
        return res;
      }
      origin = in.substr(0, len);
      in.remove_prefix(len);
      continue;
    }
    if (tag == 5) {
      on_hello(origin);
      continue;
    }
    if (tag > 4 && tag != 8) {
      res.ok = false;
      return res;
    }
    std::uint64_t seq = 0;
    if (tag == 4 && !detail::read_varint(in, seq)) {
      res.ok = false;
      return res;
    }
    std::uint64_t to = 0, msg = 0, skip = 0, len = 0;
    if (!detail::read_varint(in, to) || !detail::read_varint(in, msg) || !detail::read_varint(in, skip) ||
        !detail::read_varint(in, len) || len > in.size()) {
      res.ok = false;
      return res;
    }
    user_event ev;
    ev.type = tag == 0   ? user_event::kind::message
              : tag == 8 ? user_event::kind::ephemeral
                         : user_event::kind::notice;
    ev.to = static_cast<user_id>(to);
    ev.msg = static_cast<message_id>(msg);
    ev.skip_device = skip;
    ev.pos = static_cast<stream_pos>(pos);
    ev.frame = std::make_shared<const std::string>(in.substr(0, len));
    in.remove_prefix(len);
    ++res.events;
    if (tag == 4)
      on_replayed(origin, seq, std::move(ev));
    else
      on_event(std::move(ev));
  }
  return res;
}

}  // namespace chatrix::cluster::redis
