// The pieces every frame encoder writes JSON text with, shared by the encoders' files. Internal
// to the protocol library: callers outside it use the encoders (codec.hpp).
#pragma once

#include "core/types.hpp"
#include "protocol/event.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

namespace chatrix::protocol::detail {

inline void append_int(std::string& out, std::int64_t v) {
  std::array<char, 24> buf;
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
}

/// Unix seconds of a time in ms, rounded down (also before 1970).
inline std::int64_t seconds(unix_ms t) { return t >= 0 ? t / 1000 : -((-t + 999) / 1000); }

/// A JSON array of ids: `[1,2,3]`.
inline void append_ids(std::string& out, const std::vector<message_id>& ids) {
  out += '[';
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    append_int(out, ids[i]);
  }
  out += ']';
}

/// Opens a user object: `{"id":1,"username":"ann","name":"Ann"`, or for a deleted account
/// `{"id":42,"username":"","name":"Deleted account","deleted":true`; the caller closes it.
void append_user_fields(std::string& out, const user& u);

/// `{"type":N,` then `"pos":P,` for a stream event (pos > 0), then `"body":`; the caller
/// appends the body and the closing brace.
inline void open_frame(std::string& out, event type, stream_pos pos = 0) {
  out += "{\"type\":";
  append_int(out, static_cast<int>(type));
  if (pos > 0) {
    out += ",\"pos\":";
    append_int(out, pos);
  }
  out += ",\"body\":";
}

}  // namespace chatrix::protocol::detail
