// Error vocabulary shared by every layer: a stable machine code plus a readable reason.
// Depends on nothing of ours; the codes are part of the wire protocol (docs/protocol.md).
#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace chatrix {

/// Stable error codes. The string form (code_name) is sent to clients and must never change.
enum class errc {
  malformed_frame,     // not JSON, or not {"type","body"}
  unknown_type,        // a frame type the server does not accept from clients
  invalid_field,       // a field is missing, of the wrong type or out of range
  frame_too_large,     // over the per-frame byte limit
  content_empty,       // TEXT with empty content
  content_too_long,    // TEXT over the content limit
  unknown_recipient,   // no such user
  recipient_mismatch,  // TEXT names a username and an id that are different users
  self_message,        // TEXT to oneself
  forbidden,           // the user may not do this (not a participant, not the recipient)
  not_found,           // a referenced object does not exist
  username_taken,      // registration: username already exists (case-insensitive)
  bad_credentials,     // login: unknown user or wrong password (deliberately the same)
  unauthorized,        // missing, malformed, expired or forged token
  overloaded,          // a bounded queue is full; retry later
  unavailable,         // the database is unreachable; retry later
  internal,            // a bug or an unexpected failure
  // HTTP only: the request itself, before any route sees it.
  malformed_request,   // not parseable as HTTP/1.x (request line, header syntax, framing)
  headers_too_large,   // the request line and headers exceed 16 KiB
  body_too_large,      // the request body exceeds 16 KiB
  method_not_allowed,  // the route exists but not for this method
  upgrade_required,    // a plain HTTP request to the WebSocket endpoint
  // Abuse limits (docs/security.md).
  rate_limited,        // too many requests of one kind; retry after retry_after_ms
  quota_exceeded,      // the user's daily storage quota is used up
  forbidden_origin,    // WebSocket upgrade from a browser origin not in WS_ORIGINS
  // Sync and message changes (issue "every device in step").
  sync_expired,        // "since" is older than SYNC_RETENTION or was never issued
  edit_window_closed,  // EDIT_WINDOW has passed since the message was sent
  // People (issue "typing, presence, blocking, account control, push").
  blocked,             // the sender has blocked the recipient: unblock them to write to them
};

/// The stable snake_case name of a code, e.g. "unknown_recipient".
std::string_view code_name(errc code) noexcept;

/// An error as it travels through the domain: a code and a reason fit for a client.
struct error {
  errc code = errc::internal;
  std::string message;
  /// rate_limited, quota_exceeded: when trying again may succeed (0 = not said). Sent as
  /// retry_after_ms in ERR frames and as Retry-After (whole seconds, rounded up) over HTTP.
  std::int64_t retry_after_ms = 0;
};

/// Raised by result<T>::value() on an error; only meant for startup paths and tests.
struct error_exception : std::runtime_error {
  explicit error_exception(const error& e);
  chatrix::error err;
};

[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

template <class T>
using result = boost::system::result<T, error>;

inline error make_error(errc code, std::string message) { return error{code, std::move(message)}; }
inline error make_limited(errc code, std::string message, std::int64_t retry_after_ms) {
  return error{code, std::move(message), retry_after_ms};
}

}  // namespace chatrix
