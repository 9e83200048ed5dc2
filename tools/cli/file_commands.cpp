// upload, download: files over HTTP, streamed from and to disk.
#include "commands.hpp"
#include "file_names.hpp"
#include "http_api.hpp"
#include "partial_file.hpp"
#include "session_access.hpp"

#include <iostream>

namespace chatrix::cli {

namespace fs = std::filesystem;

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
