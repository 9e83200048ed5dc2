#include "net/session_registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace chatrix::net {

namespace asio = boost::asio;

session_registry::session_registry(io_executor executor)
    : wake_(std::move(executor), std::chrono::steady_clock::time_point::max()) {}

void session_registry::add(std::uint64_t id, std::weak_ptr<websocket_session> session) {
  sessions_.emplace(id, std::move(session));
}

void session_registry::remove(std::uint64_t id) {
  if (sessions_.erase(id) > 0 && stopping_ && sessions_.empty()) notify();
}

std::vector<std::shared_ptr<websocket_session>> session_registry::live() const {
  std::vector<std::shared_ptr<websocket_session>> out;
  out.reserve(sessions_.size());
  for (const auto& [id, weak] : sessions_)
    if (auto session = weak.lock()) out.push_back(std::move(session));
  return out;
}

void session_registry::frame_done() noexcept {
  if (--frames_in_progress_ == 0 && stopping_) notify();
}

void session_registry::begin_stopping(std::chrono::steady_clock::time_point deadline) {
  stopping_ = true;
  wake_.expires_at(deadline);
}

asio::awaitable<void> session_registry::wait_for_change() {
  // Cancelled (an event) or expired (the deadline): either way the caller looks again.
  co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace chatrix::net
