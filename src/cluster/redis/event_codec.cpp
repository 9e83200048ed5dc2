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

void put_position(std::string& out, const user_event& ev) {
  if (ev.pos <= 0) return;
  out += static_cast<char>(7);
  put_varint(out, static_cast<std::uint64_t>(ev.pos));
}

}  // namespace

void append_event(std::string& out, const user_event& ev) {
  put_position(out, ev);
  out += static_cast<char>(ev.type == user_event::kind::message     ? 0
                           : ev.type == user_event::kind::ephemeral ? 8
                                                                    : 1);
  put_event_body(out, ev);
}

void append_resync(std::string& out) { out += static_cast<char>(2); }

void append_origin(std::string& out, std::string_view node_id) {
  out += static_cast<char>(3);
  put_varint(out, node_id.size());
  out.append(node_id);
}

void append_replayed(std::string& out, std::uint64_t seq, const user_event& ev) {
  put_position(out, ev);
  out += static_cast<char>(4);
  put_varint(out, seq);
  put_event_body(out, ev);
}

void append_hello(std::string& out) { out += static_cast<char>(5); }

// ---- revocations ----

namespace {

constexpr std::uint8_t origin_tag = 3;
constexpr std::uint8_t revocation_tag = 6;

void put_bytes(std::string& out, std::string_view bytes) {
  put_varint(out, bytes.size());
  out.append(bytes);
}

bool read_bytes(std::string_view& in, std::string& out) {
  std::uint64_t len = 0;
  if (!detail::read_varint(in, len) || len > in.size()) return false;
  out.assign(in.substr(0, len));
  in.remove_prefix(len);
  return true;
}

bool read_tag(std::string_view& in, std::uint8_t tag) {
  if (in.empty() || static_cast<std::uint8_t>(in[0]) != tag) return false;
  in.remove_prefix(1);
  return true;
}

/// A count of entries of at least one byte each: never more than the bytes left, so a
/// forged count cannot make the reader reserve memory the payload does not back.
bool read_count(std::string_view& in, std::uint64_t& n) { return detail::read_varint(in, n) && n <= in.size(); }

}  // namespace

std::string encode_revocation(std::string_view origin, const revocation& r) {
  std::string out;
  begin_payload(out);
  append_origin(out, origin);
  out += static_cast<char>(revocation_tag);
  put_varint(out, static_cast<std::uint64_t>(r.user));
  put_varint(out, static_cast<std::uint64_t>(r.cutoff_s));
  put_varint(out, r.jtis.size());
  for (const auto& jti : r.jtis) put_bytes(out, jti);
  put_varint(out, r.expiries.size());
  for (const auto& [jti, expiry] : r.expiries) {
    put_bytes(out, jti);
    put_varint(out, static_cast<std::uint64_t>(expiry));
  }
  return out;
}

std::optional<decoded_revocation> decode_revocation(std::string_view in) {
  decoded_revocation d;
  std::uint64_t user = 0, cutoff = 0, count = 0;
  if (!read_tag(in, payload_version) || !read_tag(in, origin_tag) || !read_bytes(in, d.origin) ||
      !read_tag(in, revocation_tag) || !detail::read_varint(in, user) || !detail::read_varint(in, cutoff) ||
      !read_count(in, count)) {
    return std::nullopt;
  }
  d.r.user = static_cast<user_id>(user);
  d.r.cutoff_s = static_cast<std::int64_t>(cutoff);
  d.r.jtis.resize(count);
  for (auto& jti : d.r.jtis)
    if (!read_bytes(in, jti)) return std::nullopt;
  if (!read_count(in, count)) return std::nullopt;
  d.r.expiries.resize(count);
  for (auto& [jti, expiry] : d.r.expiries) {
    std::uint64_t v = 0;
    if (!read_bytes(in, jti) || !detail::read_varint(in, v)) return std::nullopt;
    expiry = static_cast<unix_ms>(v);
  }
  if (!in.empty()) return std::nullopt;
  return d;
}

// ---- the broadcast channel ----

namespace {

constexpr std::uint8_t online_tag = 9;
constexpr std::uint8_t offline_tag = 10;
constexpr std::uint8_t user_changed_tag = 11;
constexpr std::uint8_t snapshot_begin_tag = 12;
constexpr std::uint8_t snapshot_end_tag = 13;
constexpr std::uint8_t ask_tag = 14;

}  // namespace

std::string& broadcast_encoder::current() {
  if (payloads_.empty() || payloads_.back().size() >= max_bytes_) {
    auto& p = payloads_.emplace_back();
    begin_payload(p);
    append_origin(p, origin_);
  }
  return payloads_.back();
}

void broadcast_encoder::presence(const presence_update& u) {
  auto& p = current();
  p += static_cast<char>(u.online ? online_tag : offline_tag);
  put_varint(p, static_cast<std::uint64_t>(u.user));
  put_varint(p, static_cast<std::uint64_t>(u.at));
}

void broadcast_encoder::user_changed(user_id id) {
  auto& p = current();
  p += static_cast<char>(user_changed_tag);
  put_varint(p, static_cast<std::uint64_t>(id));
}

void broadcast_encoder::snapshot_begin() { current() += static_cast<char>(snapshot_begin_tag); }
void broadcast_encoder::snapshot_end() { current() += static_cast<char>(snapshot_end_tag); }
void broadcast_encoder::ask() { current() += static_cast<char>(ask_tag); }

std::vector<std::string> broadcast_encoder::take() {
  auto out = std::move(payloads_);
  payloads_.clear();
  return out;
}

std::optional<decoded_broadcast> decode_broadcast(std::string_view in) {
  decoded_broadcast d;
  if (!read_tag(in, payload_version) || !read_tag(in, origin_tag) || !read_bytes(in, d.origin)) return std::nullopt;
  while (!in.empty()) {
    const auto tag = static_cast<std::uint8_t>(in[0]);
    in.remove_prefix(1);
    broadcast_record rec;
    std::uint64_t user = 0, at = 0;
    switch (tag) {
      case online_tag:
      case offline_tag:
        if (!detail::read_varint(in, user) || !detail::read_varint(in, at)) return std::nullopt;
        rec.update = presence_update{static_cast<user_id>(user), tag == online_tag, static_cast<unix_ms>(at)};
        break;
      case user_changed_tag:
        if (!detail::read_varint(in, user)) return std::nullopt;
        rec.type = broadcast_record::kind::user_changed;
        rec.user = static_cast<user_id>(user);
        break;
      case snapshot_begin_tag: rec.type = broadcast_record::kind::snapshot_begin; break;
      case snapshot_end_tag: rec.type = broadcast_record::kind::snapshot_end; break;
      case ask_tag: rec.type = broadcast_record::kind::ask; break;
      default: return std::nullopt;
    }
    d.records.push_back(rec);
  }
  return d;
}

}  // namespace chatrix::cluster::redis
