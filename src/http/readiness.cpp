#include "http/readiness.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>

namespace chatrix::http {

namespace asio = boost::asio;

readiness::readiness(asio::any_io_executor io, storage::store& store, const cluster::bus& bus)
    : io_(std::move(io)), store_(store), bus_(bus), ping_done_(io_) {}

asio::awaitable<readiness_state> readiness::check() {
  if (draining_) co_return readiness_state{false, "draining"};
  // A flag, read every time: a lost link shows at once, not after answer_ttl.
  if (!bus_.connected()) co_return readiness_state{false, "redis: disconnected"};
  if (std::chrono::steady_clock::now() < last_until_) co_return last_;
  if (!pinging_) start_ping();
  // Every waiter wakes when the ping settles (the timer is cancelled) or at its deadline;
  // the generation keeps a waiter from mistaking a later ping's deadline for its own.
  const auto generation = ping_generation_;
  while (pinging_ && ping_generation_ == generation) {
    auto [ec] = co_await ping_done_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!ec && pinging_ && ping_generation_ == generation) {
      settle({false, "database: no answer within " + std::to_string(ping_deadline.count()) + " ms"});
    }
  }
  co_return last_;
}

void readiness::start_ping() {
  pinging_ = true;
  ping_done_.expires_after(ping_deadline);
  store_.ping([this, generation = ping_generation_, io = io_](result<bool> answer) {
    // On the store's thread: the answer is handed to the I/O thread.
    asio::post(io, [this, generation, answer = std::move(answer)] {
      if (!pinging_ || generation != ping_generation_) return;  // given up at its deadline
      settle(answer && *answer ? readiness_state{true, {}}
                               : readiness_state{false, "database: " + (answer ? std::string("no answer")
                                                                               : answer.error().message)});
    });
  });
}

void readiness::settle(readiness_state answer) {
  last_ = std::move(answer);
  last_until_ = std::chrono::steady_clock::now() + answer_ttl;
  pinging_ = false;
  ++ping_generation_;
  ping_done_.cancel();
}

}  // namespace chatrix::http
