// The WebSocket session on a real loopback socket: a waiter on its queue wakes when the peer
// has read the queue down, or when the connection breaks, never before; a reader that stopped
// (for flow, for the shutdown) is woken by the event it waits for, not by a timer.
#include "net/websocket_session.hpp"

#include "cluster/in_process_bus.hpp"
#include "storage/sqlite/sqlite_store.hpp"
#include "support/client_frame.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <filesystem>
#include <future>
#include <random>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace chatrix;
using namespace std::chrono_literals;
using tcp = asio::ip::tcp;
using test::client_frame;

namespace {

constexpr std::size_t frame_bytes = 1024 * 1024;
// More than loopback's socket buffers hold together (a few MiB), so frames stay queued.
constexpr std::size_t frames = 32;
constexpr std::size_t header_bytes = 10;  // a server frame of 1 MiB: 2 bytes + 8 of length

struct server_frame {
  int opcode = -1;  // -1: the connection ended instead
  std::string payload;
};

/// Reads one frame the server sent (never masked), blocking.
server_frame read_server_frame(tcp::socket& peer) {
  boost::system::error_code ec;
  std::array<unsigned char, 8> head{};
  if (asio::read(peer, asio::buffer(head.data(), 2), ec); ec) return {};
  const int opcode = head[0] & 0x0F;
  std::uint64_t size = head[1] & 0x7F;
  const std::size_t extended = size == 126 ? 2 : size == 127 ? 8 : 0;
  if (extended > 0) {
    if (asio::read(peer, asio::buffer(head.data(), extended), ec); ec) return {};
    size = 0;
    for (std::size_t i = 0; i < extended; ++i) size = size << 8 | head[i];
  }
  server_frame frame{opcode, std::string(size, '\0')};
  if (asio::read(peer, asio::buffer(frame.payload), ec); ec) return {};
  return frame;
}

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

  /// Starts the session and authenticates it as a new user over the socket; returns once the
  /// session is attached to the chat service and the peer has read PROFILE_INFO, CHATPREVIEWS and
  /// SYNCED.
  void authenticate() {
    start();
    asio::write(peer_, asio::buffer(token_frame()));
    run_until([&] { return metrics_.connections_open.load() == 1 && session_->queued_bytes() == 0; });
    ASSERT_EQ(metrics_.connections_open.load(), 1);
    for (const std::string type : {R"("type":4)", R"("type":5)", R"("type":13)"})
      ASSERT_NE(read_server_frame(peer_).payload.find(type), std::string::npos) << "expected " << type;
  }

  /// Registers and starts the session (the auth deadline runs from here).
  void start() {
    context_->sessions.add(1, session_);
    session_->start();
  }

  /// The first frame of a device: a token for a new user alice.
  std::string token_frame() {
    std::promise<result<user>> created;
    store_->create_user(new_user{"alice", "Alice", "hash", 1},
                        [&](result<user> r) { created.set_value(std::move(r)); });
    const auto alice = created.get_future().get().value();
    const auto token = tokens_.issue(alice.id, std::chrono::system_clock::now()).token;
    return client_frame(0x1, R"({"token":")" + token + R"("})");
  }

  /// Reads the big frames fill() queued, then the frames after them until a close frame or
  /// `last_pong` came; returns those.
  std::vector<server_frame> read_after_fill(std::string_view last_pong) {
    auto peer_reads = std::async(std::launch::async, [this, last_pong] {
      std::vector<server_frame> got;
      for (;;) {
        auto f = read_server_frame(peer_);
        if (f.opcode == 0x1 && f.payload.size() == frame_bytes) continue;
        got.push_back(std::move(f));
        const auto& last = got.back();
        if (last.opcode == -1 || last.opcode == 0x8 || (last.opcode == 0xA && last.payload == last_pong)) return got;
      }
    });
    EXPECT_TRUE(wait_for_peer(peer_reads)) << "the peer never got its frames";
    return peer_reads.get();
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

  /// Runs the I/O loop for `time`, to show that something does not happen meanwhile.
  void run_for(std::chrono::milliseconds time) {
    run_until([] { return false; }, time);
  }

  /// Runs the I/O loop until the peer's reads are done. When they are not within the limit,
  /// the peer's socket is shut down so that its blocked read returns: the test fails instead
  /// of hanging.
  template <class T>
  bool wait_for_peer(std::future<T>& reads) {
    const auto done = [&] { return reads.wait_for(0s) == std::future_status::ready; };
    run_until(done);
    if (done()) return true;
    ::shutdown(peer_.native_handle(), SHUT_RDWR);
    reads.wait();
    return false;
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

TEST_F(websocket_session_test, a_reader_held_for_flow_reads_on_once_the_peer_has_read_the_queue_down) {
  authenticate();
  // Over half the send queue, and the peer reads nothing: the next frame is not taken.
  constexpr std::size_t queued_frames = frames + frames / 2;
  const auto frame = std::make_shared<const std::string>(frame_bytes, 'x');
  for (std::size_t i = 0; i < queued_frames; ++i) session_->send(frame, 0);
  run_for(50ms);
  const auto held_back = session_->queued_bytes();
  ASSERT_GT(held_back, options_.send_queue_bytes / 2);
  asio::write(peer_, asio::buffer(client_frame(0x1, R"({"type":6,"body":{"username":""}})")));
  run_for(50ms);
  EXPECT_EQ(session_->queued_bytes(), held_back) << "the search was answered while the queue was over half full";

  // The writer's progress, not a timer, lets the reader go on: the answer follows the frames.
  auto peer_reads = std::async(std::launch::async, [this] {
    std::size_t big_frames = 0;
    for (;;) {
      auto got = read_server_frame(peer_);
      if (got.opcode != 0x1) return std::make_pair(big_frames, std::string("connection ended"));
      if (got.payload.size() != frame_bytes) return std::make_pair(big_frames, std::move(got.payload));
      ++big_frames;
    }
  });
  ASSERT_TRUE(wait_for_peer(peer_reads)) << "the held reader was never woken";
  const auto [big_frames, answer] = peer_reads.get();
  EXPECT_EQ(big_frames, queued_frames);
  EXPECT_NE(answer.find(R"("type":7)"), std::string::npos) << answer;
  EXPECT_TRUE(session_->is_open());
}

TEST_F(websocket_session_test, a_reader_held_for_the_shutdown_reads_the_peers_close_after_go_away) {
  authenticate();
  context_->sessions.begin_stopping(std::chrono::steady_clock::now() + 1h);
  session_->server_stopping();
  // A frame after the shutdown began is not taken: the reader stops before it.
  asio::write(peer_, asio::buffer(client_frame(0x1, R"({"type":6,"body":{"username":""}})")));
  run_for(50ms);
  EXPECT_EQ(session_->queued_bytes(), 0u) << "the search was answered during the shutdown";
  EXPECT_FALSE(context_->sessions.empty());

  session_->go_away();
  auto peer_reads = std::async(std::launch::async, [this] {
    auto got = read_server_frame(peer_);
    // The close handshake's answer, echoing 1001 (going away).
    if (got.opcode == 0x8) asio::write(peer_, asio::buffer(client_frame(0x8, got.payload)));
    return got;
  });
  run_until([&] { return context_->sessions.empty(); });
  EXPECT_TRUE(context_->sessions.empty()) << "the session never read the peer's close";
  EXPECT_FALSE(session_->is_open());
  ASSERT_TRUE(wait_for_peer(peer_reads));
  const auto close_frame = peer_reads.get();
  EXPECT_EQ(close_frame.opcode, 0x8);
  ASSERT_GE(close_frame.payload.size(), 2u);
  const auto& code = close_frame.payload;
  EXPECT_EQ(static_cast<unsigned char>(code[0]) << 8 | static_cast<unsigned char>(code[1]), 1001) << "going away";
}

TEST_F(websocket_session_test, pings_while_the_writer_is_blocked_queue_one_pong_with_the_latest_payload) {
  authenticate();
  fill();
  const auto held_back = session_->queued_bytes();
  std::string pings;
  for (int i = 0; i < 1000; ++i) pings += client_frame(0x9, "ping " + std::to_string(i));
  asio::write(peer_, asio::buffer(pings));
  // Every ping read: one pong queued, carrying the last payload (RFC 6455 5.5.3).
  run_until([&] { return session_->queued_bytes() == held_back + std::string_view("ping 999").size(); }, 2s);
  EXPECT_EQ(session_->queued_bytes(), held_back + std::string_view("ping 999").size());

  asio::write(peer_, asio::buffer(client_frame(0x9, "latest")));
  const auto got = read_after_fill("latest");
  ASSERT_EQ(got.size(), 1u) << "pongs for earlier pings were sent";
  EXPECT_EQ(got[0].opcode, 0xA);

  // Once the writer has taken the pong, the next ping gets a pong of its own.
  asio::write(peer_, asio::buffer(client_frame(0x9, "again")));
  auto peer_reads = std::async(std::launch::async, [this] { return read_server_frame(peer_); });
  ASSERT_TRUE(wait_for_peer(peer_reads)) << "the ping after a written pong was not answered";
  const auto again = peer_reads.get();
  EXPECT_EQ(again.opcode, 0xA);
  EXPECT_EQ(again.payload, "again");
  EXPECT_TRUE(session_->is_open());
}

TEST_F(websocket_session_test, control_frames_past_the_limit_before_authentication_close_with_1008) {
  options_.unauthenticated_pings = 3;
  start();
  // The fourth control frame, pings and pongs alike, closes the connection; it is not answered.
  asio::write(peer_, asio::buffer(client_frame(0xA, "") + client_frame(0x9, "a") + client_frame(0xA, "") +
                                  client_frame(0x9, "b")));
  auto peer_reads = std::async(std::launch::async, [this] {
    std::vector<server_frame> got;
    for (int i = 0; i < 2; ++i) got.push_back(read_server_frame(peer_));
    return got;
  });
  ASSERT_TRUE(wait_for_peer(peer_reads));
  const auto got = peer_reads.get();
  EXPECT_EQ(got[0].opcode, 0xA);
  EXPECT_EQ(got[0].payload, "a");
  EXPECT_EQ(got[1].opcode, 0x8);
  ASSERT_GE(got[1].payload.size(), 2u);
  const auto& close = got[1].payload;
  EXPECT_EQ(static_cast<unsigned char>(close[0]) << 8 | static_cast<unsigned char>(close[1]), 1008);
  EXPECT_EQ(close.substr(2), "too many control frames before authentication");
  EXPECT_EQ(metrics_.unauthenticated_closed.load(), 1);
}

TEST_F(websocket_session_test, control_frames_after_authentication_are_not_counted) {
  options_.unauthenticated_pings = 3;
  authenticate();
  std::string pings;
  for (int i = 0; i < 10; ++i) pings += client_frame(0x9, "ping " + std::to_string(i));
  asio::write(peer_, asio::buffer(pings));
  auto peer_reads = std::async(std::launch::async, [this] {
    for (;;) {
      auto f = read_server_frame(peer_);
      if (f.opcode != 0xA || f.payload == "ping 9") return f;
    }
  });
  ASSERT_TRUE(wait_for_peer(peer_reads));
  EXPECT_EQ(peer_reads.get().opcode, 0xA);
  EXPECT_EQ(metrics_.unauthenticated_closed.load(), 0);
  EXPECT_TRUE(session_->is_open());
}

TEST_F(websocket_session_test, a_reader_before_authentication_is_held_while_the_queue_is_over_half_full) {
  start();
  const auto token = token_frame();
  constexpr std::size_t queued_frames = frames + frames / 2;
  const auto frame = std::make_shared<const std::string>(frame_bytes, 'x');
  for (std::size_t i = 0; i < queued_frames; ++i) session_->send(frame, 0);
  run_for(50ms);
  ASSERT_GT(session_->queued_bytes(), options_.send_queue_bytes / 2);
  asio::write(peer_, asio::buffer(token));
  run_for(50ms);
  EXPECT_EQ(metrics_.connections_open.load(), 0) << "the token was read while the queue was over half full";

  // The peer reads the queue down: the reader goes on and the token is taken.
  auto peer_reads = std::async(std::launch::async, [this] {
    for (;;) {
      auto f = read_server_frame(peer_);
      if (f.opcode != 0x1 || f.payload.find(R"("type":13)") != std::string::npos) return f;
    }
  });
  ASSERT_TRUE(wait_for_peer(peer_reads)) << "the held reader was never woken";
  EXPECT_EQ(peer_reads.get().opcode, 0x1);
  EXPECT_EQ(metrics_.connections_open.load(), 1);
}
