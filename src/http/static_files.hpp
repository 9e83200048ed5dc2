// The web client's files (WEB_DIR), read into memory once at start-up: serving them then never
// touches the disk from the I/O thread, and the whole client is a few hundred kilobytes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace chatrix::http {

struct static_file {
  std::string body;
  std::string content_type;
  std::string etag;  // a strong validator: a hash of the body, quoted
};

/// Thread-safety: immutable after load(); any thread may read.
class static_files {
 public:
  /// The largest directory it takes: a web client, not a file server.
  static constexpr std::size_t max_total_bytes = 32 * 1024 * 1024;
  static constexpr std::size_t max_files = 4096;

  /// Reads every regular file under `root` (recursively). Throws std::runtime_error naming the
  /// problem when `root` is missing or holds more than the limits above.
  static static_files load(const std::filesystem::path& root);

  /// The file for a URL path ("/" is "/index.html"); nullopt for anything not loaded, including
  /// any path with "..", a backslash or a NUL in it.
  const static_file* find(std::string_view url_path) const;

  std::size_t size() const noexcept { return files_.size(); }
  const std::filesystem::path& root() const noexcept { return root_; }

 private:
  std::filesystem::path root_;
  std::map<std::string, static_file, std::less<>> files_;  // by URL path, "/index.html"
};

/// The MIME type for a file name's extension ("application/octet-stream" when unknown).
std::string_view content_type_for(std::string_view file_name);

}  // namespace chatrix::http
