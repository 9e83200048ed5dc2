// The WebSocket session's drain signal on a real loopback socket: a waiter on its queue wakes
// when the peer has read the queue down, or when the connection breaks; never before.
#include "net/websocket_session.hpp"

#include "cluster/in_process_bus.hpp"
#include "storage/sqlite/sqlite_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace chatrix;
using namespace std::chrono_literals;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t frame_bytes = 1024 * 1024;
// More than loopback's socket buffers hold together (a few MiB), so frames stay queued.
constexpr std::size_t frames = 32;
constexpr std::size_t header_bytes = 10;  // a server frame of 1 MiB: 2 bytes + 8 of length

class websocket_session_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("chatrix-ws-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    store_ = std::make_unique<storage::sqlite_store>(dir_ / "chat.db");
    chat_ = std::make_unique<chat::chat_service>(io_.get_executor(), *store_, bus_, tokens_, clock_, metrics_,
                                                 chat::service_options{});
    options_.send_queue_bytes = 2 * frames * frame_bytes;  // never cut off here
    context_ = std::make_unique<net::websocket_context>(io_.get_executor(), options_, *chat_, metrics_);

    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    peer_.connect(acceptor.local_endpoint());
    net::socket_type server_side(io_.get_executor());
    acceptor.accept(server_side);
    server_side.non_blocking(true);
    session_ = std::make_shared<net::websocket_session>(std::move(server_side), *context_, 1);
  }

  void TearDown() override {
    boost::system::error_code ignored;
    peer_.close(ignored);
    io_.restart();
    io_.run_for(2s);  // the writer ends on the broken connection; nothing else is pending
    session_.reset();
    context_.reset();
    chat_.reset();
    store_->shutdown();
    std::filesystem::remove_all(dir_);
  }

  /// Queues more than the socket takes; returns once the writer is blocked on a full socket.
  void fill() {
    const auto frame = std::make_shared<const std::string>(frame_bytes, 'x');
    for (std::size_t i = 0; i < frames; ++i) session_->send(frame, 0);
    for (int i = 0; i < 20; ++i) {
      io_.restart();
      io_.poll();
    }
    ASSERT_GT(session_->queued_bytes(), 0u) << "the peer has not read anything yet";
  }

  /// Runs the I/O loop until `done` holds or `limit` passes.
  template <class Pred>
  void run_until(Pred done, std::chrono::milliseconds limit = 10s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) {
      io_.restart();
      io_.run_for(5ms);
    }
  }

  asio::io_context io_;
  std::filesystem::path dir_;
  std::unique_ptr<storage::sqlite_store> store_;
  cluster::in_process_bus bus_{cluster::node_info{"test", "", 0, 0, 0}};
  auth::token_codec tokens_{"a test secret of enough bytes!!", std::chrono::hours(1)};
  system_clock clock_;
  metrics::server_metrics metrics_;
  std::unique_ptr<chat::chat_service> chat_;
  net::server_options options_;
  std::unique_ptr<net::websocket_context> context_;
  asio::io_context peer_io_;
  tcp::socket peer_{peer_io_};
  std::shared_ptr<net::websocket_session> session_;
};

}  // namespace

TEST_F(websocket_session_test, a_waiter_already_satisfied_runs_at_once) {
  bool ready = false;
  session_->when_queue_at_most(0, [&] { ready = true; });
  EXPECT_TRUE(ready) << "nothing is queued";
}

TEST_F(websocket_session_test, a_waiter_wakes_when_the_peer_has_read_the_queue_down) {
  fill();
  bool half = false;
  bool empty = false;
  session_->when_queue_at_most(frames * frame_bytes / 2, [&] { half = true; });
  session_->when_queue_at_most(0, [&] { empty = true; });
  io_.restart();
  io_.poll();
  EXPECT_FALSE(half);
  EXPECT_FALSE(empty);

  std::thread reader([this] {
    std::vector<char> sink(frames * (frame_bytes + header_bytes));
    boost::system::error_code ec;
    asio::read(peer_, asio::buffer(sink), ec);
  });
  run_until([&] { return half; });
  EXPECT_TRUE(half);
  EXPECT_LE(session_->queued_bytes(), frames * frame_bytes / 2);
  run_until([&] { return empty; });
  reader.join();
  EXPECT_TRUE(empty);
  EXPECT_EQ(session_->queued_bytes(), 0u);
  EXPECT_TRUE(session_->is_open());
}

TEST_F(websocket_session_test, a_waiter_wakes_when_the_connection_breaks) {
  fill();
  bool ready = false;
  session_->when_queue_at_most(0, [&] { ready = true; });
  // Closing with unread bytes makes the peer's kernel answer with RST: the write fails.
  peer_.close();
  run_until([&] { return ready; });
  EXPECT_TRUE(ready);
  EXPECT_FALSE(session_->is_open());
}
