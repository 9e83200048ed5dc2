// WebSocket test client on Beast. The only TU of the test tree that instantiates Beast's
// websocket stream, so the tests themselves compile fast. See ws_client.hpp.
#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace chatrix::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

std::string frame_text(int type, const json::value& body) {
  json::object o;
  o["type"] = type;
  o["body"] = body;
  return json::serialize(o);
}

struct ws_client::impl : std::enable_shared_from_this<impl> {
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buffer;
  std::thread thread;
  std::promise<void> thread_done_promise;
  std::future<void> thread_done;

  // io-thread state
  bool paused = false;
  bool read_pending = false;
  bool writing = false;
  bool close_requested = false;
  std::uint16_t requested_close_code = 1000;
  std::deque<std::pair<bool, std::string>> out;  // (binary, payload)
  std::promise<void> close_done;
  bool close_done_set = false;

  // shared state (guarded by mu)
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> frames;
  std::size_t received = 0;
  bool read_ended = false;
  std::uint16_t code = 0;
  std::string error;
  bool connected = false;
  std::vector<int> ignored_types;  // guarded by mu
  bool close_called = false;  // test thread only
  std::string label = "ws";   // test thread only

  void start_read() {
    if (paused || read_pending) return;
    {
      std::lock_guard lock(mu);
      if (read_ended) return;
    }
    read_pending = true;
    ws.async_read(buffer, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  bool is_ignored(const std::string& text) const {
    if (ignored_types.empty()) return false;
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return false;
    const auto* t = v.as_object().if_contains("type");
    return t && t->is_int64() &&
           std::find(ignored_types.begin(), ignored_types.end(), t->as_int64()) != ignored_types.end();
  }

  void on_read(beast::error_code ec) {
    read_pending = false;
    if (ec) {
      {
        std::lock_guard lock(mu);
        read_ended = true;
        code = static_cast<std::uint16_t>(ws.reason().code);
        error = ec.message();
      }
      cv.notify_all();
      finish_close();
      return;
    }
    std::string text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    bool queued = false;
    {
      std::lock_guard lock(mu);
      if (!is_ignored(text)) {
        frames.push_back(std::move(text));
        ++received;
        queued = true;
      }
    }
    if (queued) cv.notify_all();
    start_read();
  }

  void enqueue(bool binary, std::string payload) {
    out.emplace_back(binary, std::move(payload));
    if (!writing) do_write();
  }

  void do_write() {
    if (out.empty()) {
      writing = false;
      if (close_requested) do_close();
      return;
    }
    writing = true;
    ws.binary(out.front().first);
    ws.async_write(asio::buffer(out.front().second),
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     if (ec) {
                       // The connection is gone; nothing more can be written.
                       self->out.clear();
                       self->writing = false;
                       if (self->close_requested) self->finish_close();
                       return;
                     }
                     self->out.pop_front();
                     self->do_write();
                   });
  }

  void do_close() {
    ws.async_close(websocket::close_reason(requested_close_code),
                   [self = shared_from_this()](beast::error_code) {
                     // The close handshake (or its failure) ends the connection; if no read was
                     // pending the read loop will never report it, so record it here.
                     {
                       std::lock_guard lock(self->mu);
                       if (!self->read_pending) {
                         self->read_ended = true;
                         if (self->code == 0) self->code = static_cast<std::uint16_t>(self->ws.reason().code);
                       }
                     }
                     self->cv.notify_all();
                     self->finish_close();
                   });
  }

  void finish_close() {
    if (close_requested && !close_done_set) {
      close_done_set = true;
      close_done.set_value();
    }
  }

  // Runs `f` on the io thread and waits for it.
  template <class F>
  void run_sync(F&& f) {
    std::promise<void> done;
    asio::post(ioc, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
};

ws_client::ws_client() : impl_(std::make_shared<impl>()) {}

ws_client::~ws_client() {
  auto& im = *impl_;
  if (!im.thread.joinable()) return;
  // Close the socket on the io thread and let every pending operation finish (they fail
  // promptly on a closed socket), so the server sees the disconnect at once and no queued
  // handler keeps `impl` (which owns the io_context) alive. ioc.stop() is only a fallback:
  // handlers it leaves queued would leak.
  asio::post(im.ioc, [p = impl_.get()] {
    beast::error_code ec;
    p->ws.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    p->ws.next_layer().close(ec);
  });
  im.work.reset();
  if (im.thread_done.wait_for(3s) != std::future_status::ready) im.ioc.stop();
  im.thread.join();
}

void ws_client::connect(std::uint16_t port, const std::string& path, ws_options options) {
  auto& im = *impl_;
  if (im.connected) throw std::runtime_error("ws_client::connect called twice");
  try {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    auto& sock = im.ws.next_layer();
    sock.open(tcp::v4());
    if (options.receive_buffer_bytes > 0) {
      // Must be set before connect so the advertised window scale matches the small buffer.
      sock.set_option(asio::socket_base::receive_buffer_size(options.receive_buffer_bytes));
    }
    sock.connect(ep);
    sock.set_option(tcp::no_delay(true));
    im.ws.read_message_max(64 * 1024 * 1024);
    im.ws.auto_fragment(false);
    im.ws.handshake("127.0.0.1:" + std::to_string(port), path);
  } catch (const std::exception& e) {
    throw std::runtime_error("ws connect to port " + std::to_string(port) + path + " failed: " + e.what());
  }
  im.connected = true;
  im.paused = options.start_paused;
  im.thread_done = im.thread_done_promise.get_future();
  im.thread = std::thread([p = impl_.get()] {
    p->ioc.run();
    p->thread_done_promise.set_value();
  });
  asio::post(im.ioc, [p = impl_] { p->start_read(); });
}

void ws_client::send_text(std::string text) {
  asio::post(impl_->ioc, [p = impl_, t = std::move(text)]() mutable { p->enqueue(false, std::move(t)); });
}

void ws_client::send_binary(std::string bytes) {
  asio::post(impl_->ioc, [p = impl_, t = std::move(bytes)]() mutable { p->enqueue(true, std::move(t)); });
}

void ws_client::send_json(int type, const json::value& body) { send_text(frame_text(type, body)); }

std::optional<std::string> ws_client::recv(std::chrono::milliseconds timeout) {
  auto& im = *impl_;
  std::unique_lock lock(im.mu);
  im.cv.wait_for(lock, timeout, [&] { return !im.frames.empty() || im.read_ended; });
  if (im.frames.empty()) return std::nullopt;
  std::string f = std::move(im.frames.front());
  im.frames.pop_front();
  return f;
}

json::value ws_client::recv_json(std::chrono::milliseconds timeout) {
  auto f = recv(timeout);
  if (!f) {
    std::string why = closed() ? "connection closed (code " + std::to_string(close_code()) + ", " + close_error() + ")"
                               : "timed out after " + std::to_string(timeout.count()) + " ms";
    throw std::runtime_error(impl_->label + ": expected a frame but " + why);
  }
  boost::system::error_code ec;
  json::value v = json::parse(*f, ec);
  if (ec) throw std::runtime_error(impl_->label + ": frame is not JSON: " + *f);
  return v;
}

namespace {
std::optional<std::int64_t> type_of(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const auto* t = v.as_object().if_contains("type");
  if (t == nullptr) return std::nullopt;
  if (t->is_int64()) return t->as_int64();
  if (t->is_uint64()) return static_cast<std::int64_t>(t->as_uint64());
  return std::nullopt;
}
}  // namespace

json::value ws_client::recv_type(int type, std::chrono::milliseconds timeout) {
  json::value v = recv_json(timeout);
  if (type_of(v) != type)
    throw std::runtime_error(impl_->label + ": expected a frame of type " + std::to_string(type) + " but got " +
                             json::serialize(v));
  return v;
}

json::value ws_client::recv_type_skipping(int type, std::initializer_list<int> skip,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = 0ms;
    json::value v = recv_json(left);
    auto t = type_of(v);
    if (t == type) return v;
    if (t && std::find(skip.begin(), skip.end(), static_cast<int>(*t)) != skip.end()) continue;
    throw std::runtime_error(impl_->label + ": expected a frame of type " + std::to_string(type) + " but got " +
                             json::serialize(v));
  }
}

void ws_client::expect_no_frame(std::chrono::milliseconds window, std::initializer_list<int> ignore) {
  const auto deadline = std::chrono::steady_clock::now() + window;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    auto f = recv(left);
    if (!f) return;
    boost::system::error_code ec;
    json::value v = json::parse(*f, ec);
    if (!ec) {
      auto t = type_of(v);
      if (t && std::find(ignore.begin(), ignore.end(), static_cast<int>(*t)) != ignore.end()) continue;
    }
    throw std::runtime_error(impl_->label + ": expected no frame but got " + *f);
  }
}

std::vector<std::string> ws_client::drain(std::chrono::milliseconds window) {
  std::vector<std::string> out;
  const auto deadline = std::chrono::steady_clock::now() + window;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto f = recv(left);
    if (!f) break;
    out.push_back(std::move(*f));
  }
  return out;
}

void ws_client::ignore_type(int type) {
  std::lock_guard lock(impl_->mu);
  impl_->ignored_types.push_back(type);
}

void ws_client::pause_reading() {
  impl_->run_sync([p = impl_.get()] { p->paused = true; });
}

void ws_client::resume_reading() {
  impl_->run_sync([p = impl_.get()] {
    p->paused = false;
    p->start_read();
  });
}

void ws_client::close(std::uint16_t code) {
  auto& im = *impl_;
  if (!im.connected || im.close_called) return;
  im.close_called = true;
  std::future<void> done = im.close_done.get_future();
  asio::post(im.ioc, [p = impl_, code] {
    p->close_requested = true;
    p->requested_close_code = code;
    bool ended;
    {
      std::lock_guard lock(p->mu);
      ended = p->read_ended;
    }
    if (ended) {
      p->finish_close();
      return;
    }
    if (!p->writing) p->do_close();
  });
  done.wait_for(5s);
}

void ws_client::abort() {
  asio::post(impl_->ioc, [p = impl_] {
    beast::error_code ec;
    p->ws.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    p->ws.next_layer().close(ec);
    if (!p->read_pending) {  // no read will report the end; record it here
      std::lock_guard lock(p->mu);
      p->read_ended = true;
      p->error = "aborted by the client";
    }
    p->cv.notify_all();
  });
  wait_closed(2s);
}

bool ws_client::closed() const {
  std::lock_guard lock(impl_->mu);
  return impl_->read_ended;
}

bool ws_client::wait_closed(std::chrono::milliseconds timeout) {
  auto& im = *impl_;
  std::unique_lock lock(im.mu);
  return im.cv.wait_for(lock, timeout, [&] { return im.read_ended; });
}

std::uint16_t ws_client::close_code() const {
  std::lock_guard lock(impl_->mu);
  return impl_->code;
}

std::string ws_client::close_error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->error;
}

void ws_client::set_label(std::string label) { impl_->label = std::move(label); }

std::size_t ws_client::frames_received() const {
  std::lock_guard lock(impl_->mu);
  return impl_->received;
}

}  // namespace chatrix::test
