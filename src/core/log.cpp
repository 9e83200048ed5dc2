#include "core/log.hpp"

#include <spdlog/fmt/fmt.h>

namespace chatrix::log {

namespace {
thread_local std::span<const field> current;
}  // namespace

std::span<const field> current_fields() noexcept { return current; }

scoped_fields::scoped_fields(std::span<const field> fields) noexcept : previous_(current) { current = fields; }

scoped_fields::~scoped_fields() { current = previous_; }

std::array<field, 2> connection(std::uint64_t id, std::string_view address) {
  return {field{"conn", fmt::format("{:x}", id)}, field{"addr", std::string(address)}};
}

}  // namespace chatrix::log
