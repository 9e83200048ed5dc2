// RESP2 values, an incremental reply reader (over hiredis's redisReader) and the command
// formatter (over redisFormatCommandArgv). Pure: bytes in, owned values out; never does I/O.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct redisReader;  // hiredis; kept out of this header so users need not see hiredis

namespace chatrix::cluster::redis {

/// One reply, owned (no hiredis memory survives the reader call that produced it).
struct reply {
  enum class kind : std::uint8_t { status, error, integer, string, nil, array };

  kind type = kind::nil;
  std::string str;              // status, error and (bulk) string; binary-safe
  std::int64_t integer = 0;     // integer
  std::vector<reply> elements;  // array (may nest)

  bool is_error() const noexcept { return type == kind::error; }
  bool is_nil() const noexcept { return type == kind::nil; }
  bool is_array() const noexcept { return type == kind::array; }
  bool is_string() const noexcept { return type == kind::string; }

  static reply status(std::string s) { return {kind::status, std::move(s), 0, {}}; }
  static reply error(std::string s) { return {kind::error, std::move(s), 0, {}}; }
  static reply integer_value(std::int64_t v) { return {kind::integer, {}, v, {}}; }
  static reply string(std::string s) { return {kind::string, std::move(s), 0, {}}; }
  static reply nil() { return {}; }
  static reply array(std::vector<reply> e) { return {kind::array, {}, 0, std::move(e)}; }

  friend bool operator==(const reply&, const reply&) = default;
};

/// A readable rendering for logs and test failures, e.g. `[+OK, $"a\x00b", :3, (nil)]`.
std::string to_debug_string(const reply& r);

/// Parses replies out of a byte stream that arrives in arbitrary pieces.
///
/// Thread-safety: none; one reader per connection, used by one thread.
class resp_reader {
 public:
  enum class status {
    reply,           // `out` holds the next complete reply
    need_more,       // the buffered bytes end inside a reply: feed more
    protocol_error,  // the stream is not RESP; error() says why; reset() before reuse
  };

  resp_reader();
  ~resp_reader();
  resp_reader(resp_reader&&) noexcept;
  resp_reader& operator=(resp_reader&&) noexcept;

  /// Appends bytes (copied). Returns false if the reader is in the error state.
  bool feed(std::string_view bytes);

  /// Extracts the next complete reply, if any.
  status next(reply& out);

  std::string error() const;

  /// Drops buffered bytes and any error (after a reconnect).
  void reset();

 private:
  struct deleter {
    void operator()(::redisReader* r) const noexcept;
  };
  std::unique_ptr<::redisReader, deleter> r_;
};

/// Appends one command in RESP (a multi-bulk of bulk strings; arguments are binary-safe).
void append_command(std::string& out, std::span<const std::string_view> args);
inline void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

inline std::string format_command(std::span<const std::string_view> args) {
  std::string out;
  append_command(out, args);
  return out;
}
inline std::string format_command(std::initializer_list<std::string_view> args) {
  return format_command(std::span<const std::string_view>(args.begin(), args.size()));
}

}  // namespace chatrix::cluster::redis
