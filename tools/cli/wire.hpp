// The parts of docs/protocol.md that chatrix-cli speaks: event codes, frames and the error body,
// parsed once here so that the commands read typed values.
#pragma once

#include "protocol/event.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatrix::cli {

using event = protocol::event;

struct frame {
  int type = -1;
  boost::json::value body;
  /// The stream position of the event the frame carries (docs/protocol.md, Sync), if any.
  std::optional<std::int64_t> pos;
};

/// `{"type":N,"body":...}`; throws cli_error (unreachable) for a frame that is not one.
frame parse_frame(std::string_view text);
std::string encode_frame(event type, boost::json::value body);

struct error_reply {
  std::string code;
  std::string reason;
};

/// The `{"error","code"}` body of an HTTP error (or of an ERR frame); a body without them (a
/// proxy's HTML page) becomes code "http_<status>" with the status line as the reason.
error_reply http_error_of(unsigned status, std::string_view body);
error_reply error_of(const boost::json::value& body);

struct user {
  std::int64_t id = 0;
  std::string username;
  std::string name;
};

/// `{"id","username","name"}`; throws cli_error (unreachable) when a field is missing.
user user_of(const boost::json::value& value);

/// Field readers that treat a missing or mistyped field as the server breaking the protocol.
const boost::json::object& as_object(const boost::json::value& value, std::string_view what);
std::int64_t int_field(const boost::json::object& object, std::string_view key);
std::string string_field(const boost::json::object& object, std::string_view key);
/// Optional fields: the value, or `fallback` when absent or null.
std::int64_t int_field_or(const boost::json::object& object, std::string_view key, std::int64_t fallback);
bool bool_field_or(const boost::json::object& object, std::string_view key, bool fallback);

}  // namespace chatrix::cli
