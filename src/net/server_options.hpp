// The network edge's settings (from config/, set by app/).
#pragma once

#include <chrono>
#include <cstddef>

namespace chatrix::net {

struct server_options {
  std::size_t max_frame_bytes = 64 * 1024;
  std::size_t send_queue_bytes = 4 * 1024 * 1024;
  std::chrono::seconds auth_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds http_timeout{30};
  std::size_t unauthenticated_pings = 8;  // control frames taken before authentication (0 = any number)
};

}  // namespace chatrix::net
