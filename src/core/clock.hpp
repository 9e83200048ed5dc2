// Injected time, so that token expiry, retry windows and timestamps are testable.
#pragma once

#include "core/types.hpp"

#include <chrono>

namespace chatrix {

/// Thread-safety: implementations must be safe to call from any thread.
class clock {
 public:
  virtual ~clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;

  unix_ms now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
  }
};

class system_clock final : public clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace chatrix
