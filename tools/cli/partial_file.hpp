// A file being received (a download, an export): written to a ".part" file and renamed into
// place once whole, so that an interrupted transfer never looks like a complete file.
#pragma once

#include <filesystem>
#include <fstream>
#include <string_view>

namespace chatrix::cli {

class partial_file {
 public:
  /// Opens `path` (the ".part" name) for writing; cli_error local when it cannot.
  explicit partial_file(std::filesystem::path path);
  /// Removes the part file unless it was kept.
  ~partial_file();
  partial_file(const partial_file&) = delete;
  partial_file& operator=(const partial_file&) = delete;

  void write(std::string_view chunk);

  /// Renames the whole file to `destination`; `replace` false refuses an existing one.
  void keep_as(const std::filesystem::path& destination, bool replace);

 private:
  std::filesystem::path path_;
  std::ofstream out_;
  bool kept_ = false;
};

}  // namespace chatrix::cli
