#include "http/static_files.hpp"

#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace chatrix::http {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("WEB_DIR: cannot read " + p.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// FNV-1a, 64 bits: the ETag only has to change when a file does.
std::string etag_of(std::string_view body) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : body) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  std::ostringstream out;
  out << '"' << std::hex << h << '-' << body.size() << '"';
  return out.str();
}

}  // namespace

std::string_view content_type_for(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> types{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
      {".ts", "text/plain; charset=utf-8"},
  }};
  for (const auto& [ext, type] : types) {
    if (file_name.ends_with(ext)) return type;
  }
  return "application/octet-stream";
}

static_files static_files::load(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw std::runtime_error("WEB_DIR: " + root.string() + " is not a directory");
  static_files out;
  out.root_ = root;
  std::size_t total = 0;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink);
       it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    const auto relative = fs::relative(it->path(), root).generic_string();
    if (relative.empty() || relative.front() == '.') continue;  // hidden files stay private
    static_file f;
    f.body = read_file(it->path());
    total += f.body.size();
    if (out.files_.size() + 1 > max_files || total > max_total_bytes) {
      throw std::runtime_error("WEB_DIR: " + root.string() + " holds more than " + std::to_string(max_files) +
                               " files or " + std::to_string(max_total_bytes >> 20) + " MiB");
    }
    f.content_type = std::string(content_type_for(relative));
    f.etag = etag_of(f.body);
    out.files_.emplace("/" + relative, std::move(f));
  }
  return out;
}

const static_file* static_files::find(std::string_view url_path) const {
  if (url_path == "/") url_path = "/index.html";
  if (url_path.find("..") != std::string_view::npos || url_path.find('\\') != std::string_view::npos ||
      url_path.find('\0') != std::string_view::npos) {
    return nullptr;
  }
  const auto it = files_.find(url_path);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace chatrix::http
