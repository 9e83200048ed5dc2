// upload, download: files over HTTP, streamed from and to disk.
#include "cli_error.hpp"
#include "commands.hpp"
#include "file_names.hpp"
#include "http_api.hpp"
#include "session_access.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

namespace chatrix::cli {

namespace fs = std::filesystem;

namespace {

cli_error local_failure(const fs::path& path, const std::string& what) {
  return cli_error("local", path.string() + ": " + what, exit_status::local);
}

/// A download in progress: written to a ".part" file, renamed into place once whole, so that an
/// interrupted download never looks like a complete file (and the name it was served with is
/// only known once the answer begins).
class partial_file {
 public:
  explicit partial_file(fs::path path) : path_(std::move(path)) {
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_) throw local_failure(path_, std::string("cannot write: ") + std::strerror(errno));
  }
  ~partial_file() {
    if (kept_) return;
    out_.close();
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
  partial_file(const partial_file&) = delete;
  partial_file& operator=(const partial_file&) = delete;

  void write(std::string_view chunk) {
    out_.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (!out_) throw local_failure(path_, "cannot write (disk full?)");
  }

  /// Renames the whole file to `destination`; `replace` false refuses an existing one.
  void keep_as(const fs::path& destination, bool replace) {
    out_.close();
    if (!out_) throw local_failure(path_, "cannot write (disk full?)");
    if (!replace && fs::exists(destination)) throw local_failure(destination, "exists already; name the output with -o");
    std::error_code ec;
    fs::rename(path_, destination, ec);
    if (ec) throw local_failure(destination, "cannot rename into place: " + ec.message());
    kept_ = true;
  }

 private:
  fs::path path_;
  std::ofstream out_;
  bool kept_ = false;
};

}  // namespace

void run_upload(const context& ctx, const upload_options& options) {
  const saved_login login = require_login();
  const file_info file = upload_file(server_for(ctx, login), login.token, options.file, options.name, options.type);
  ctx.out.record(file_record(file), "uploaded " + file.name + " (" + std::to_string(file.size) + " bytes, " +
                                        file.type + ") as " + file.id);
}

void run_download(const context& ctx, const download_options& options) {
  const saved_login login = require_login();
  const server_url server = server_for(ctx, login);
  if (options.output == "-") {
    download_file(server, login.token, options.id, [](std::string_view chunk) {
      std::cout.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    });
    std::cout.flush();
    return;  // stdout holds the file: no record
  }
  partial_file part(fs::path(options.output.value_or(options.id)).string() + ".part");
  const downloaded file =
      download_file(server, login.token, options.id, [&](std::string_view chunk) { part.write(chunk); });
  // -o names the file (and replaces one there, as a shell redirection would); otherwise it gets
  // the name it was served with, never replacing a file.
  const fs::path saved = options.output ? fs::path(*options.output) : fs::path(local_file_name(file.name, options.id));
  part.keep_as(saved, options.output.has_value());
  ctx.out.record({{"id", options.id},
                  {"name", file.name},
                  {"type", file.type},
                  {"size", file.size},
                  {"path", saved.string()}},
                 "saved " + file.name + " (" + std::to_string(file.size) + " bytes, " + file.type + ") to " +
                     saved.string());
}

}  // namespace chatrix::cli
