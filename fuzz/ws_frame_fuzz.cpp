// The RFC 6455 frame reader on a client's byte stream. The input's first byte picks the
// message size limit and how the stream is cut into reads; the rest is the stream. The same
// stream is read twice, whole and in those pieces (through prepare/commit, as the session
// reads a socket, and through feed), and both must give the same events: a reader whose
// answer depends on where the reads fall would misframe real traffic. Also checked: text
// is valid UTF-8, no message passes the limit, a control payload fits 125 bytes, a failed
// stream stays failed, and a reader with nothing pending frees its buffer.
#include "fuzz_check.hpp"
#include "net/ws_frame.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace chatrix::net::ws;
using chatrix::fuzz::require;

struct seen {
  event_kind kind;
  std::uint16_t code;
  std::string payload;
  bool operator==(const seen&) const = default;
};

/// Takes every event the buffered bytes complete; true once the stream failed.
bool drain(frame_reader& reader, std::size_t max_message, std::vector<seen>& out) {
  for (;;) {
    const auto ev = reader.next();
    if (ev.kind == event_kind::none) return false;
    out.push_back({ev.kind, ev.code, std::string(ev.payload)});
    switch (ev.kind) {
      case event_kind::text:
        require(valid_utf8(ev.payload), "a text message is valid UTF-8");
        [[fallthrough]];
      case event_kind::binary:
        require(ev.payload.size() <= max_message, "a message is at most max_message_bytes");
        break;
      case event_kind::ping:
      case event_kind::pong:
        require(ev.payload.size() <= 125, "a control payload is at most 125 bytes");
        break;
      case event_kind::close:
        require(ev.payload.size() <= 123, "a close reason is at most 123 bytes");
        break;
      case event_kind::error: {
        const auto again = reader.next();
        require(again.kind == event_kind::error && again.code == ev.code, "a failed stream stays failed");
        return true;
      }
      case event_kind::none:
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // Low bits: the limit (small ones are reached by short inputs); high bits: the cut pattern.
  static constexpr std::size_t limits[] = {0, 1, 125, 126, 1024, 65536, 1 << 20, 16 << 20};
  const std::size_t max_message = limits[data[0] & 7];
  const unsigned cut = data[0] >> 3;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  std::vector<seen> whole;
  {
    frame_reader reader(max_message);
    reader.feed(stream);
    drain(reader, max_message, whole);
  }

  std::vector<seen> pieces;
  frame_reader reader(max_message);
  std::uint32_t state = cut * 2654435761u + 1;  // a small LCG: the piece sizes, 1..64
  bool failed = false;
  for (std::size_t pos = 0; pos < stream.size() && !failed;) {
    state = state * 1664525u + 1013904223u;
    const std::size_t n = std::min<std::size_t>(1 + (state >> 26), stream.size() - pos);
    if (state & 0x100) {
      auto space = reader.prepare(n);
      require(space.size() >= n, "prepare gives the room asked for");
      std::memcpy(space.data(), stream.data() + pos, n);
      reader.commit(n);
    } else {
      reader.feed(stream.substr(pos, n));
    }
    pos += n;
    failed = drain(reader, max_message, pieces);
    if (!failed && reader.idle()) {
      require(reader.release(), "an idle reader releases its buffer");
      require(reader.capacity() == 0, "a released reader holds no buffer");
    }
  }
  require(pieces == whole, "the events do not depend on how the stream was cut into reads");
  return 0;
}
