#include "core/error.hpp"

namespace chatrix {

std::string_view code_name(errc code) noexcept {
  switch (code) {
    case errc::malformed_frame: return "malformed_frame";
    case errc::unknown_type: return "unknown_type";
    case errc::invalid_field: return "invalid_field";
    case errc::frame_too_large: return "frame_too_large";
    case errc::content_empty: return "content_empty";
    case errc::content_too_long: return "content_too_long";
    case errc::unknown_recipient: return "unknown_recipient";
    case errc::recipient_mismatch: return "recipient_mismatch";
    case errc::self_message: return "self_message";
    case errc::forbidden: return "forbidden";
    case errc::not_found: return "not_found";
    case errc::username_taken: return "username_taken";
    case errc::bad_credentials: return "bad_credentials";
    case errc::unauthorized: return "unauthorized";
    case errc::overloaded: return "overloaded";
    case errc::unavailable: return "unavailable";
    case errc::internal: return "internal";
    case errc::malformed_request: return "malformed_request";
    case errc::headers_too_large: return "headers_too_large";
    case errc::body_too_large: return "body_too_large";
    case errc::method_not_allowed: return "method_not_allowed";
    case errc::upgrade_required: return "upgrade_required";
    case errc::rate_limited: return "rate_limited";
    case errc::quota_exceeded: return "quota_exceeded";
    case errc::forbidden_origin: return "forbidden_origin";
    case errc::sync_expired: return "sync_expired";
    case errc::edit_window_closed: return "edit_window_closed";
    case errc::blocked: return "blocked";
  }
  return "internal";
}

error_exception::error_exception(const error& e)
    : std::runtime_error(std::string(code_name(e.code)) + ": " + e.message), err(e) {}

void throw_exception_from_error(const error& e, const boost::source_location&) { throw error_exception(e); }

}  // namespace chatrix
