#include "saved_login.hpp"

#include "cli_error.hpp"
#include "wire.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace chatrix::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

cli_error local_failure(const fs::path& path, const std::string& what) {
  return cli_error("local", path.string() + ": " + what, exit_status::local);
}

/// Writes all of `text` to `fd`, retrying short writes.
bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

fs::path saved_login_path() {
  // XDG Base Directory: an empty or relative XDG_CONFIG_HOME is to be ignored.
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && xdg[0] == '/') return fs::path(xdg) / "chatrix" / "login.json";
  const char* home = std::getenv("HOME");
  if (!home || home[0] == '\0')
    throw cli_error("local", "neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the login", exit_status::local);
  return fs::path(home) / ".config" / "chatrix" / "login.json";
}

std::optional<saved_login> load_login() {
  const fs::path path = saved_login_path();
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (ec) throw local_failure(path, ec.message());
    return std::nullopt;
  }
  std::ifstream in(path);
  if (!in) throw local_failure(path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code parse_error;
  const json::value value = json::parse(text.str(), parse_error);
  if (parse_error || !value.is_object()) throw local_failure(path, "not a saved login; remove it and log in again");
  const auto& object = value.get_object();
  try {
    return saved_login{string_field(object, "server"), string_field(object, "token"), int_field(object, "user_id"),
                       string_field(object, "username")};
  } catch (const cli_error&) {
    throw local_failure(path, "not a saved login; remove it and log in again");
  }
}

void save_login(const saved_login& login) {
  const fs::path path = saved_login_path();
  const fs::path dir = path.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw local_failure(dir, ec.message());
  // Only the last component is ours to restrict; ~/.config itself keeps its mode.
  ::chmod(dir.c_str(), 0700);

  const json::object record{
      {"server", login.server}, {"token", login.token}, {"user_id", login.user_id}, {"username", login.username}};
  const fs::path temp = dir / ("login.json." + std::to_string(::getpid()));
  // O_EXCL with mode 0600 from the start: the token is never readable by others, not even
  // for the moment between creating the file and a chmod.
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw local_failure(temp, std::strerror(errno));
  const bool written = write_all(fd, json::serialize(record) + "\n") && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  if (!written || ::rename(temp.c_str(), path.c_str()) != 0) {
    const int why = written ? errno : saved_errno;
    ::unlink(temp.c_str());
    throw local_failure(path, std::strerror(why));
  }
}

bool forget_login() {
  const fs::path path = saved_login_path();
  std::error_code ec;
  const bool removed = fs::remove(path, ec);
  if (ec) throw local_failure(path, ec.message());
  return removed;
}

}  // namespace chatrix::cli
