// How a file is named and typed between the disk and the server: the type an upload declares,
// the name a download is served with, and the name it may be saved under here. Pure functions.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace chatrix::cli {

/// The media type of a file by its extension (any case), for the common kinds people send;
/// application/octet-stream for the rest (the server serves every file as an attachment).
std::string media_type_for(const std::filesystem::path& path);

/// The file name of a Content-Disposition header: filename* (RFC 5987, UTF-8 percent-encoded)
/// when present, else filename (quoted or not); empty when it names none.
std::string attachment_file_name(std::string_view content_disposition);

/// A name the server gave that is safe to create in the current directory: its last path
/// component, without control characters; `fallback` when nothing usable is left ("", ".", "..").
std::string local_file_name(std::string_view served_name, std::string_view fallback);

}  // namespace chatrix::cli
