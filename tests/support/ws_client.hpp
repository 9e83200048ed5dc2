// A blocking-style WebSocket test client with a plain interface (no Beast in this header):
// its own io thread, a background read loop that queues every received frame, queued writes.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::test {

using namespace std::chrono_literals;

struct ws_options {
  /// SO_RCVBUF set before connecting (0 = system default). A small buffer plus
  /// pause_reading() makes this client a slow consumer whose TCP window fills quickly.
  int receive_buffer_bytes = 0;
  /// Start with the read loop paused.
  bool start_paused = false;
};

/// One WebSocket connection to the server on 127.0.0.1.
/// Thread-safety: use from one test thread; the io thread is internal.
/// Helpers that "fail" throw std::runtime_error with a readable description, which gtest
/// reports as a test failure and which stops the test.
class ws_client {
 public:
  ws_client();
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  /// TCP connect plus WebSocket handshake; throws on failure.
  void connect(std::uint16_t port, const std::string& path = "/ws", ws_options options = {});

  /// Queue a frame for writing (writes go out one at a time, in call order).
  void send_text(std::string text);
  void send_binary(std::string bytes);
  /// Sends {"type": type, "body": body}.
  void send_json(int type, const boost::json::value& body);

  /// The next received text frame, or nullopt on timeout or when the connection is closed and
  /// every queued frame has been consumed.
  std::optional<std::string> recv(std::chrono::milliseconds timeout = 5s);
  /// The next frame parsed as JSON; throws on timeout/close or invalid JSON.
  boost::json::value recv_json(std::chrono::milliseconds timeout = 5s);
  /// The next frame; throws unless its "type" is `type`. Returns the whole frame.
  boost::json::value recv_type(int type, std::chrono::milliseconds timeout = 5s);
  /// The next frame of type `type`, silently dropping frames whose type is in `skip`; any
  /// other type throws. For streams where e.g. RECEIVED (10) interleaves with DELIVERED (1).
  boost::json::value recv_type_skipping(int type, std::initializer_list<int> skip,
                                        std::chrono::milliseconds timeout = 5s);
  /// Throws if a frame arrives within `window` (whose types are not in `ignore`).
  void expect_no_frame(std::chrono::milliseconds window = 500ms, std::initializer_list<int> ignore = {});
  /// Drops every frame already queued or arriving within `window`; returns them.
  std::vector<std::string> drain(std::chrono::milliseconds window = 200ms);

  /// Stop / resume issuing socket reads (frames already queued stay queued).
  void pause_reading();
  void resume_reading();

  /// Starts a WebSocket close handshake with `code` and waits (up to 5 s) for it to finish.
  void close(std::uint16_t code = 1000);
  /// Drops the TCP connection without a close handshake.
  void abort();

  /// True once the read loop has ended (close frame, EOF, reset...).
  bool closed() const;
  /// Waits until closed() or the timeout; returns closed().
  bool wait_closed(std::chrono::milliseconds timeout = 5s);
  /// The close code the server sent in its close frame (0 when none was received).
  std::uint16_t close_code() const;
  /// The error that ended the read loop (for diagnostics).
  std::string close_error() const;

  /// Frames of this type are dropped as they arrive (never queued or counted): for tests
  /// written before the type existed, e.g. SYNCED (13), which every session now gets.
  void ignore_type(int type);

  /// A name used in failure messages (e.g. the user's name), so a failure says which
  /// connection broke.
  void set_label(std::string label);

  /// Number of frames received so far (queued or consumed).
  std::size_t frames_received() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// {"type": type, "body": body} as text.
std::string frame_text(int type, const boost::json::value& body);

}  // namespace chatrix::test
