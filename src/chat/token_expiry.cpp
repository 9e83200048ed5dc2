#include "chat/token_expiry.hpp"

#include <algorithm>
#include <chrono>

namespace chatrix::chat {

namespace {

/// Longest single wait: a deadline years away (a token minted elsewhere) is waited for in
/// steps, so that the duration never overflows the steady clock.
constexpr std::chrono::hours max_wait{1};

}  // namespace

token_expiry::token_expiry(boost::asio::any_io_executor io, const clock& clock,
                           std::function<bool(std::uint64_t, std::int64_t)> current,
                           std::function<void(std::uint64_t)> expired)
    : clock_(clock), current_(std::move(current)), expired_(std::move(expired)), timer_(std::move(io)) {}

void token_expiry::watch(std::uint64_t device, std::int64_t deadline_s) {
  heap_.push_back(entry{deadline_s, device});
  std::push_heap(heap_.begin(), heap_.end(), later);
  if (heap_.size() >= compact_at_) compact();
  if (armed_for_s_ == 0 || deadline_s < armed_for_s_) arm();
}

void token_expiry::compact() {
  std::erase_if(heap_, [this](const entry& e) { return !current_(e.device, e.deadline_s); });
  std::make_heap(heap_.begin(), heap_.end(), later);
  compact_at_ = std::max<std::size_t>(64, heap_.size() * 2);
}

void token_expiry::arm() {
  if (heap_.empty()) {
    armed_for_s_ = 0;
    timer_.cancel();
    return;
  }
  armed_for_s_ = heap_.front().deadline_s;
  const auto now = clock_.now();
  const auto due = std::chrono::system_clock::time_point(std::chrono::seconds(armed_for_s_));
  // Past deadlines wait 0; the wall clock is asked again when the timer fires.
  const auto wait = due <= now ? std::chrono::system_clock::duration::zero()
                               : std::min<std::chrono::system_clock::duration>(due - now, max_wait);
  timer_.expires_after(wait);
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](boost::system::error_code ec) {
    if (!ec && alive.lock()) on_timer();
  });
}

void token_expiry::on_timer() {
  const auto now_s = std::chrono::floor<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  while (!heap_.empty() && heap_.front().deadline_s <= now_s) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const entry due = heap_.back();
    heap_.pop_back();
    // expired_ may watch() again (it must not be reentered mid-pop, so it runs after the pop).
    if (current_(due.device, due.deadline_s)) expired_(due.device);
  }
  arm();
}

}  // namespace chatrix::chat
