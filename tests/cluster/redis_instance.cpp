// redis_instance: spawns redis-server with posix_spawnp and talks to it with blocking Asio.
#include "redis_instance.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace chatrix::test {

namespace asio = boost::asio;
using cluster::redis::reply;
using cluster::redis::resp_reader;

std::uint16_t free_loopback_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

redis_instance::redis_instance() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "chatrix-redis-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  port_ = free_loopback_port();
  start();
}

redis_instance::~redis_instance() {
  try {
    if (pid_ > 0) kill();
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void redis_instance::start() {
  if (pid_ > 0) return;
  const std::string port = std::to_string(port_);
  const std::string dir = dir_.string();
  const std::string log = (dir_ / "redis.log").string();
  std::vector<std::string> args = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--daemonize", "no", "--dir", dir, "--logfile", log};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Its standard streams go to /dev/null (it logs to --logfile): inherited, they would hold the
  // test's output pipe open after a test process that crashed left it running, and ctest would
  // wait for that pipe until the test's timeout.
  posix_spawn_file_actions_t streams;
  ::posix_spawn_file_actions_init(&streams);
  for (const int fd : {0, 1, 2}) ::posix_spawn_file_actions_addopen(&streams, fd, "/dev/null", O_RDWR, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "redis-server", &streams, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&streams);
  if (rc != 0) throw std::runtime_error("cannot spawn redis-server: " + std::to_string(rc));
  pid_ = pid;
  // Ready when it answers PING (~20 ms usually).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    try {
      if (command({"PING"}).str == "PONG") return;
    } catch (const std::exception&) {
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited at start; see " + log);
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("redis-server did not answer PING");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void redis_instance::wait_exit() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void redis_instance::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  wait_exit();
}

void redis_instance::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_exit();
}

reply redis_instance::command(std::initializer_list<std::string_view> args) const {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
  asio::write(s, asio::buffer(cluster::redis::format_command(args)));
  resp_reader r;
  reply out;
  char buf[4096];
  for (;;) {
    auto st = r.next(out);
    if (st == resp_reader::status::reply) return out;
    if (st == resp_reader::status::protocol_error) throw std::runtime_error("protocol error: " + r.error());
    std::size_t n = s.read_some(asio::buffer(buf));
    r.feed(std::string_view(buf, n));
  }
}

}  // namespace chatrix::test
