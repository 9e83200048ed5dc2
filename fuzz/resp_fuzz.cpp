// The RESP reader (cluster/redis/resp_reader) on a byte stream from Redis. The first byte
// picks how the stream is cut into reads; the rest is the stream. It is read whole and in
// those pieces, and both must give the same replies and end the same way (a protocol error
// or bytes waiting for more): the bus reads a socket, where the cuts fall anywhere. After a
// protocol error, reset() must give a reader that works again.
#include "cluster/redis/resp_reader.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace chatrix::cluster::redis;
using chatrix::fuzz::require;

struct outcome {
  std::vector<reply> replies;
  bool failed = false;
};

/// Takes every complete reply; false once the stream is broken.
bool drain(resp_reader& reader, outcome& out) {
  for (;;) {
    reply r;
    switch (reader.next(r)) {
      case resp_reader::status::reply:
        (void)to_debug_string(r);
        out.replies.push_back(std::move(r));
        break;
      case resp_reader::status::need_more:
        return true;
      case resp_reader::status::protocol_error:
        require(!reader.error().empty(), "a protocol error says why");
        out.failed = true;
        return false;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  outcome whole;
  resp_reader reader;
  if (reader.feed(stream)) drain(reader, whole);

  outcome pieces;
  resp_reader cut_reader;
  std::uint32_t state = data[0] * 2654435761u + 1;  // a small LCG: the piece sizes, 1..32
  for (std::size_t pos = 0; pos < stream.size();) {
    state = state * 1664525u + 1013904223u;
    const std::size_t n = std::min<std::size_t>(1 + (state >> 27), stream.size() - pos);
    if (!cut_reader.feed(stream.substr(pos, n)) || !drain(cut_reader, pieces)) break;
    pos += n;
  }
  require(pieces.replies == whole.replies, "the replies do not depend on how the stream was cut");
  require(pieces.failed == whole.failed, "a broken stream is broken however it was cut");

  if (whole.failed) {
    reader.reset();
    require(reader.feed("+OK\r\n"), "a reset reader takes bytes again");
    reply r;
    require(reader.next(r) == resp_reader::status::reply && r == reply::status("OK"), "a reset reader reads again");
  }
  return 0;
}
