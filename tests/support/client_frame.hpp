// One WebSocket frame as a client writes it (RFC 6455: FIN set, masked), for tests that talk
// to the server over a raw socket below ws_client. Payloads up to 64 KiB.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chatrix::test {

inline std::string client_frame(std::uint8_t opcode, std::string_view payload) {
  std::string out{static_cast<char>(0x80 | opcode)};
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xFF));
  }
  constexpr std::array<char, 4> mask{0x5A, 0x3C, 0x7E, 0x11};
  out.append(mask.data(), mask.size());
  for (std::size_t i = 0; i < payload.size(); ++i) out.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return out;
}

}  // namespace chatrix::test
