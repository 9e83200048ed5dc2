// The logging half of spawn_logged, out of line so that core's headers need no spdlog.
#include "core/spawn.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace chatrix {

void log_coroutine_failure(const char* name, std::exception_ptr failure) noexcept {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    spdlog::error("{} failed: {}", name, e.what());
  } catch (...) {
    spdlog::error("{} failed with an exception that is not a std::exception", name);
  }
}

}  // namespace chatrix
