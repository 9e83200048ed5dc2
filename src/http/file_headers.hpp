// The pure rules of file uploads and downloads: which names and types an upload may carry,
// and the headers that make a browser save a download instead of showing or running it
// (docs/security.md, "Files").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace chatrix::http {

inline constexpr std::size_t max_file_name_bytes = 255;
inline constexpr std::size_t max_file_type_bytes = 128;

/// 1..255 bytes of UTF-8 without control characters or '/'.
bool valid_file_name(std::string_view name);

/// The type an upload is stored with: its Content-Type when that is a media type
/// (type "/" subtype, parameters allowed) of printable ASCII within max_file_type_bytes,
/// else application/octet-stream.
std::string upload_type(std::string_view content_type);

/// Content-Disposition: attachment, with the name as RFC 6266 asks: an ASCII fallback
/// `filename="..."` and the exact name as `filename*=UTF-8''<percent-encoded>` (RFC 8187).
std::string attachment_disposition(std::string_view name);

}  // namespace chatrix::http
