// Configuration loading (config::load) from an environment and a .env file, both taken from
// the input: "<environment>\0<.env text>", the environment one KEY=VALUE per line (no NUL:
// the rest is all .env). Only config_error may come out of load(): the server turns it into
// a one-line message and exit status 2, and any other exception would end the process with
// no reason given. The message must be one line, as the README promises.
#include "config/config.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace {

using chatrix::fuzz::require;

std::filesystem::path dotenv_path;

void remove_work_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(dotenv_path.parent_path(), ignored);
}

std::map<std::string, std::string> parse_environment(std::string_view text) {
  std::map<std::string, std::string> env;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto line = text.substr(0, end);
    text = end == text.npos ? std::string_view() : text.substr(end + 1);
    const auto eq = line.find('=');
    if (eq != line.npos) env.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  return env;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string dir = (std::filesystem::temp_directory_path() / "chatrix-fuzz-config-XXXXXX").string();
  require(mkdtemp(dir.data()) != nullptr, "a private temp dir for the .env file");
  dotenv_path = std::filesystem::path(dir) / ".env";
  std::atexit(remove_work_dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find('\0');
  const auto env = parse_environment(input.substr(0, split));
  const auto dotenv = split == input.npos ? std::string_view() : input.substr(split + 1);

  FILE* f = std::fopen(dotenv_path.c_str(), "wb");
  require(f != nullptr, "the .env file can be written");
  if (!dotenv.empty()) require(std::fwrite(dotenv.data(), 1, dotenv.size(), f) == dotenv.size(), "the .env file is written");
  std::fclose(f);

  const char* argv[] = {"chatrix"};
  try {
    (void)chatrix::config::load(1, argv, env, dotenv_path);
  } catch (const chatrix::config::config_error& e) {
    require(std::string_view(e.what()).find('\n') == std::string_view::npos, "a config error is one line");
  }
  return 0;
}
