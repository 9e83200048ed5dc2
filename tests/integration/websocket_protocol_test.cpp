// RFC 6455 behaviour of the server's own WebSocket implementation, seen from a raw TCP client
// that writes exact bytes: the handshake (and a token frame pipelined with it), ping/pong,
// fragmented input, client close, protocol errors and the idle timeout with keep-alive pings.
#include "support/chat_fixture.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>
#include <chrono>
#include <optional>
#include <thread>

#include <sys/socket.h>
#include <sys/time.h>

namespace chatrix::test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

/// A frame as the server sent it (server frames are never masked).
struct server_frame {
  int opcode = -1;  // -1: the connection ended (EOF, reset or the timeout)
  bool fin = true;
  std::string payload;
  std::uint16_t close_code() const {
    return payload.size() >= 2 ? static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                            static_cast<unsigned char>(payload[1]))
                               : 0;
  }
};

/// A masked client frame with the length in its shortest form.
std::string client_frame(int opcode, std::string_view payload, bool fin = true, bool masked = true) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  const auto n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(mask_bit | static_cast<char>(n)));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF));
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) f.append(key, 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
  return f;
}

std::string close_body(std::uint16_t code) {
  return {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
}

/// Blocking raw client: every read waits at most `timeout`.
class raw_ws {
 public:
  raw_ws(std::uint16_t port, std::string extra_after_request = {}, std::string key = "dGhlIHNhbXBsZSBub25jZQ==",
         std::string version = "13")
      : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    set_timeout(10s);
    std::string req = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    if (!key.empty()) req += "Sec-WebSocket-Key: " + key + "\r\n";
    req += "Sec-WebSocket-Version: " + version + "\r\n\r\n";
    write(req + extra_after_request);
    // The response head, byte by byte so that no frame byte is consumed with it.
    while (response_.find("\r\n\r\n") == std::string::npos) {
      char c;
      if (!read_exact(&c, 1)) break;
      response_.push_back(c);
    }
  }

  const std::string& response() const { return response_; }
  bool upgraded() const { return response_.rfind("HTTP/1.1 101", 0) == 0; }

  void set_timeout(std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  void write(const std::string& bytes) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
  }
  void send_text(std::string_view text) { write(client_frame(1, text)); }

  server_frame read_frame() {
    server_frame f;
    unsigned char h[2];
    if (!read_exact(h, 2)) return f;
    f.fin = (h[0] & 0x80) != 0;
    std::uint64_t len = h[1] & 0x7F;
    if ((h[1] & 0x80) != 0) return f;  // a masked server frame is a failure: report "ended"
    if (len == 126 || len == 127) {
      unsigned char ext[8];
      const std::size_t n = len == 126 ? 2 : 8;
      if (!read_exact(ext, n)) return f;
      len = 0;
      for (std::size_t i = 0; i < n; ++i) len = (len << 8) | ext[i];
    }
    f.payload.resize(len);
    if (len > 0 && !read_exact(f.payload.data(), len)) return f;
    f.opcode = h[0] & 0x0F;
    return f;
  }

  /// The next frame of opcode `op`, skipping others; `opcode -1` when the connection ended.
  server_frame read_until(int op) {
    for (;;) {
      auto f = read_frame();
      if (f.opcode == op || f.opcode == -1) return f;
    }
  }

  /// True when the server ends the TCP connection (EOF or reset) before the timeout.
  bool ended(std::chrono::milliseconds within) {
    set_timeout(within);
    char buf[4096];
    for (;;) {
      const auto n = ::recv(socket_.native_handle(), buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }

  void authenticate(const test_user& u) {
    send_text(json::serialize(json::object{{"token", u.token}}));
    auto f = read_frame();
    ASSERT_EQ(f.opcode, 1);
    EXPECT_EQ(int_field(json::parse(f.payload), "type"), ev_profile_info);
    f = read_frame();
    ASSERT_EQ(f.opcode, 1);
    EXPECT_EQ(int_field(json::parse(f.payload), "type"), ev_chat_previews);
    f = read_frame();  // nothing pending: SYNCED next
    ASSERT_EQ(f.opcode, 1);
    EXPECT_EQ(int_field(json::parse(f.payload), "type"), ev_synced);
  }

 private:
  // Plain recv: Asio's blocking reads would wait past SO_RCVTIMEO.
  bool read_exact(void* p, std::size_t n) {
    auto* out = static_cast<char*>(p);
    while (n > 0) {
      const auto got = ::recv(socket_.native_handle(), out, n, 0);
      if (got <= 0) return false;
      out += got;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }

  asio::io_context ioc_;
  tcp::socket socket_;
  std::string response_;
};

class websocket_protocol : public chat_test {};

TEST_F(websocket_protocol, handshake_answers_the_rfc_accept_key_and_takes_a_pipelined_token) {
  auto alice = make_user("alice");
  // The token frame in the same write as the upgrade request: those bytes are the WebSocket's.
  raw_ws ws(port(), client_frame(1, json::serialize(json::object{{"token", alice.token}})));
  ASSERT_TRUE(ws.upgraded()) << ws.response();
  EXPECT_NE(ws.response().find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
  EXPECT_NE(ws.response().find("Server: chatrix\r\n"), std::string::npos);
  EXPECT_EQ(ws.response().find("Sec-WebSocket-Extensions"), std::string::npos);
  auto f = ws.read_frame();
  ASSERT_EQ(f.opcode, 1);
  EXPECT_EQ(int_field(json::parse(f.payload), "type"), ev_profile_info);
}

TEST_F(websocket_protocol, bad_handshakes_are_refused) {
  raw_ws no_key(port(), {}, "");
  EXPECT_EQ(no_key.response().rfind("HTTP/1.1 400", 0), 0u) << no_key.response();
  raw_ws old_version(port(), {}, "dGhlIHNhbXBsZSBub25jZQ==", "8");
  EXPECT_EQ(old_version.response().rfind("HTTP/1.1 426", 0), 0u) << old_version.response();
  EXPECT_NE(old_version.response().find("Sec-WebSocket-Version: 13"), std::string::npos);
  EXPECT_TRUE(server().alive());
}

TEST_F(websocket_protocol, ping_is_answered_with_its_payload_and_fragments_are_reassembled) {
  auto alice = make_user("alice");
  raw_ws ws(port());
  ASSERT_TRUE(ws.upgraded());
  ws.authenticate(alice);
  ws.write(client_frame(9, "are you there"));
  auto pong = ws.read_frame();
  EXPECT_EQ(pong.opcode, 10);
  EXPECT_EQ(pong.payload, "are you there");
  // One SEARCH request in three fragments, with a ping between them.
  const std::string req = frame_text(ev_search_request, json::object{{"username", "ali"}});
  ws.write(client_frame(1, req.substr(0, 5), false));
  ws.write(client_frame(9, "mid"));
  ws.write(client_frame(0, req.substr(5, 7), false) + client_frame(0, req.substr(12)));
  pong = ws.read_frame();
  EXPECT_EQ(pong.opcode, 10);
  EXPECT_EQ(pong.payload, "mid");
  auto res = ws.read_until(1);
  ASSERT_EQ(res.opcode, 1);
  EXPECT_EQ(int_field(json::parse(res.payload), "type"), ev_search_response);
}

TEST_F(websocket_protocol, client_close_is_echoed_then_the_server_ends_the_connection) {
  auto alice = make_user("alice");
  raw_ws ws(port());
  ASSERT_TRUE(ws.upgraded());
  ws.authenticate(alice);
  ws.write(client_frame(8, close_body(1000)));
  auto c = ws.read_until(8);
  ASSERT_EQ(c.opcode, 8);
  EXPECT_EQ(c.close_code(), 1000);
  EXPECT_TRUE(ws.ended(5s));
}

TEST_F(websocket_protocol, protocol_errors_fail_the_connection_with_their_close_codes) {
  auto alice = make_user("alice");
  struct {
    std::string bytes;
    std::uint16_t code;
    const char* why;
  } cases[] = {
      {client_frame(1, "{}", true, false), 1002, "unmasked frame"},
      {client_frame(3, "x"), 1002, "reserved opcode"},
      {client_frame(0, "orphan"), 1002, "continuation without a message"},
      {client_frame(9, std::string(126, 'p')), 1002, "control frame over 125 bytes"},
      {client_frame(1, "bad \xFF utf-8"), 1007, "invalid UTF-8 text"},
  };
  for (const auto& c : cases) {
    raw_ws ws(port());
    ASSERT_TRUE(ws.upgraded());
    ws.authenticate(alice);
    ws.write(c.bytes);
    auto f = ws.read_until(8);
    EXPECT_EQ(f.opcode, 8) << c.why;
    EXPECT_EQ(f.close_code(), c.code) << c.why;
    EXPECT_TRUE(ws.ended(5s)) << c.why << ": the server kept the failed connection open";
  }
  EXPECT_TRUE(server().alive());
}

class websocket_idle : public chat_test {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"IDLE_TIMEOUT", "2"}}; }
};

TEST_F(websocket_idle, server_pings_and_a_client_that_answers_stays_while_a_silent_one_is_closed) {
  auto alice = make_user("alice");
  raw_ws live(port());
  raw_ws silent(port());
  ASSERT_TRUE(live.upgraded());
  ASSERT_TRUE(silent.upgraded());
  live.authenticate(alice);
  silent.authenticate(alice);
  // The live client answers every ping for well over the idle timeout. A client that answers
  // is pinged every 2 ticks of IDLE_TIMEOUT/2 (its pong counts as traffic for one tick), so
  // 5.5 s see two pings with room to spare.
  const auto until = std::chrono::steady_clock::now() + 5500ms;
  int pings = 0;
  live.set_timeout(1500ms);
  while (std::chrono::steady_clock::now() < until) {
    auto f = live.read_frame();
    if (f.opcode == 9) {
      ++pings;
      live.write(client_frame(10, f.payload));
    } else if (f.opcode == -1) {
      // A read timeout; the connection must still be there.
      continue;
    }
  }
  EXPECT_GE(pings, 2) << "the server did not ping at half the idle timeout";
  // The silent one never answered (reading frames is not answering): the server pinged it,
  // then closed it with 1001 "idle timeout", and ends the connection once the client answers
  // the close.
  silent.set_timeout(3s);
  const auto ping = silent.read_until(9);
  EXPECT_EQ(ping.opcode, 9) << "the silent connection was not pinged before being closed";
  const auto close = silent.read_until(8);
  ASSERT_EQ(close.opcode, 8) << "a connection silent past IDLE_TIMEOUT got no close frame";
  EXPECT_EQ(close.close_code(), 1001);
  EXPECT_EQ(close.payload.substr(2), "idle timeout");
  silent.write(client_frame(8, close_body(1001)));
  EXPECT_TRUE(silent.ended(3s)) << "the server kept the connection after the close handshake";
  live.set_timeout(5s);
  live.send_text(frame_text(ev_search_request, json::object{{"username", "ali"}}));
  auto res = live.read_until(1);
  ASSERT_EQ(res.opcode, 1) << "the answering client was disconnected";
  EXPECT_EQ(int_field(json::parse(res.payload), "type"), ev_search_response);
}

// An odd number of seconds: the keep-alive tick is half of it (here 500 ms, not 0 s, which
// made the server close every connection at once).
class websocket_idle_one_second : public chat_test {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"IDLE_TIMEOUT", "1"}}; }
};

TEST_F(websocket_idle_one_second, a_client_that_answers_pings_stays) {
  auto alice = make_user("alice");
  raw_ws live(port());
  ASSERT_TRUE(live.upgraded());
  live.authenticate(alice);
  const auto until = std::chrono::steady_clock::now() + 2500ms;
  int pings = 0;
  live.set_timeout(500ms);
  while (std::chrono::steady_clock::now() < until) {
    auto f = live.read_frame();
    ASSERT_NE(f.opcode, 8) << "closed although it answered every ping";
    if (f.opcode == 9) {
      ++pings;
      live.write(client_frame(10, f.payload));
    }
  }
  EXPECT_GE(pings, 1);
  EXPECT_LE(pings, 6) << "pings come every other 500 ms tick, not continuously";
  live.set_timeout(5s);
  live.send_text(frame_text(ev_search_request, json::object{{"username", "ali"}}));
  auto res = live.read_until(1);
  ASSERT_EQ(res.opcode, 1) << "the answering client was disconnected";
}

}  // namespace
}  // namespace chatrix::test
