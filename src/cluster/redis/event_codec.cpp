// Encoding of user events for PUBLISH payloads (see event_codec.hpp for the layout).
#include "cluster/redis/event_codec.hpp"

namespace chatrix::cluster::redis {
namespace {

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

}  // namespace

namespace detail {
bool read_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto b = static_cast<std::uint8_t>(in[0]);
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;  // over 10 bytes: not ours
}
}  // namespace detail

void begin_payload(std::string& out) { out += static_cast<char>(payload_version); }

namespace {

void put_event_body(std::string& out, const user_event& ev) {
  put_varint(out, static_cast<std::uint64_t>(ev.to));
  put_varint(out, static_cast<std::uint64_t>(ev.msg));
  put_varint(out, ev.skip_device);
  const std::string_view frame = ev.frame ? std::string_view(*ev.frame) : std::string_view();
  put_varint(out, frame.size());
  out.append(frame);
}

}  // namespace

void append_event(std::string& out, const user_event& ev) {
  out += static_cast<char>(ev.type == user_event::kind::message ? 0 : 1);
  put_event_body(out, ev);
}

void append_resync(std::string& out) { out += static_cast<char>(2); }

void append_origin(std::string& out, std::string_view node_id) {
  out += static_cast<char>(3);
  put_varint(out, node_id.size());
  out.append(node_id);
}

void append_replayed(std::string& out, std::uint64_t seq, const user_event& ev) {
  out += static_cast<char>(4);
  put_varint(out, seq);
  put_event_body(out, ev);
}

void append_hello(std::string& out) { out += static_cast<char>(5); }

}  // namespace chatrix::cluster::redis
