#include "partial_file.hpp"

#include "cli_error.hpp"

#include <cerrno>
#include <cstring>

namespace chatrix::cli {

namespace fs = std::filesystem;

namespace {

cli_error local_failure(const fs::path& path, const std::string& what) {
  return cli_error("local", path.string() + ": " + what, exit_status::local);
}

}  // namespace

partial_file::partial_file(fs::path path) : path_(std::move(path)) {
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) throw local_failure(path_, std::string("cannot write: ") + std::strerror(errno));
}

partial_file::~partial_file() {
  if (kept_) return;
  out_.close();
  std::error_code ignored;
  fs::remove(path_, ignored);
}

void partial_file::write(std::string_view chunk) {
  out_.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  if (!out_) throw local_failure(path_, "cannot write (disk full?)");
}

void partial_file::keep_as(const fs::path& destination, bool replace) {
  out_.close();
  if (!out_) throw local_failure(path_, "cannot write (disk full?)");
  if (!replace && fs::exists(destination)) throw local_failure(destination, "exists already; name the output with -o");
  std::error_code ec;
  fs::rename(path_, destination, ec);
  if (ec) throw local_failure(destination, "cannot rename into place: " + ec.message());
  kept_ = true;
}

}  // namespace chatrix::cli
