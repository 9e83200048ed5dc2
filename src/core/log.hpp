// Log lines with fields: who a line is about (a connection's id and its client's address) and,
// for the access log, the facts of a request. The fields travel beside the message to the line
// format (core/log_format.hpp): "conn=1a2b addr=203.0.113.5 <message>" as text, keys of the
// line's object as JSON. Lines without fields are plain spdlog calls.
#pragma once

#include <spdlog/spdlog.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace chatrix::log {

/// One field of a log line.
struct field {
  std::string_view key;
  std::string value;
  bool number = false;  // JSON writes it bare (a count, a duration), not as a string
};

/// The fields of the line being formatted on this thread; empty outside write().
std::span<const field> current_fields() noexcept;

/// Makes `fields` the current ones for the lifetime of this object (on this thread).
class scoped_fields {
 public:
  explicit scoped_fields(std::span<const field> fields) noexcept;
  ~scoped_fields();
  scoped_fields(const scoped_fields&) = delete;
  scoped_fields& operator=(const scoped_fields&) = delete;

 private:
  std::span<const field> previous_;
};

/// Logs the message with `fields`. The formatter runs inside this call, on this thread, which
/// holds for spdlog's synchronous loggers, the only kind this server sets up.
template <class... Args>
void write(spdlog::level::level_enum level, std::span<const field> fields, spdlog::format_string_t<Args...> fmt,
           Args&&... args) {
  if (!spdlog::should_log(level)) return;
  const scoped_fields current(fields);
  spdlog::log(level, fmt, std::forward<Args>(args)...);
}

/// The fields of a line about one connection: "conn" (its id in hex, which is also the
/// WebSocket device id) and "addr" (the client's address after TRUSTED_PROXIES; "" unknown).
std::array<field, 2> connection(std::uint64_t id, std::string_view address);

}  // namespace chatrix::log
