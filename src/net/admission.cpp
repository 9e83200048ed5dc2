#include "net/admission.hpp"

#include <cstring>
#include <utility>

namespace chatrix::net {

namespace {

/// A count limit cannot say when a slot frees up; a second is a polite pace for a retry.
constexpr std::int64_t count_retry_ms = 1000;

/// CONNECT_LIMIT's buckets: at 300/s a refilled bucket is forgotten within a second, so only
/// addresses that are connecting right now occupy the table.
constexpr std::size_t max_attempt_keys = 100'000;

std::string attempt_key(const config::ip_bytes& address) {
  return std::string(reinterpret_cast<const char*>(address.data()), address.size());
}

bool over(std::size_t limit, std::uint32_t held) { return limit != 0 && held >= limit; }

}  // namespace

std::size_t admission::address_hash::operator()(const config::ip_bytes& a) const noexcept {
  std::uint64_t hi = 0, lo = 0;
  std::memcpy(&hi, a.data(), 8);
  std::memcpy(&lo, a.data() + 8, 8);
  return std::hash<std::uint64_t>{}(lo ^ (hi * 0x9E3779B97F4A7C15ULL));
}

admission::admission(admission_limits limits)
    : limits_(limits), attempts_(limits.connect_limit, 0, max_attempt_keys) {}

admission::ticket admission::open_socket() {
  ticket t(shared_from_this());
  t.held_ = socket_held;
  ++open_sockets_;
  return t;
}

std::optional<refusal> admission::admit_http(ticket& t, const config::ip_bytes& address, limits::steady_time now) {
  if (t.address_ == address) return std::nullopt;
  if (const auto wait = attempts_.take(attempt_key(address), now); wait.count() > 0) {
    return refusal{make_limited(errc::rate_limited, "too many connection attempts from this address", wait.count()),
                   "CONNECT_LIMIT"};
  }
  const auto it = counts_.find(address);
  const counts now_held = it == counts_.end() ? counts{} : it->second;
  if (over(limits_.address_connections, now_held.open)) {
    return refusal{make_limited(errc::rate_limited, "too many open connections from this address", count_retry_ms),
                   "ADDRESS_CONNECTIONS"};
  }
  release(t, open_held | http_held | unauthenticated_held);
  ++counts_[address].open;
  t.address_ = address;
  t.held_ |= open_held;
  return std::nullopt;
}

std::optional<refusal> admission::serve_plain_http(ticket& t) {
  if (!t.address_ || (t.held_ & http_held)) return std::nullopt;
  auto& c = counts_[*t.address_];
  if (over(limits_.http_address_connections, c.http)) {
    return refusal{
        make_limited(errc::rate_limited, "too many open HTTP connections from this address", count_retry_ms),
        "HTTP_ADDRESS_CONNECTIONS"};
  }
  ++c.http;
  t.held_ |= http_held;
  return std::nullopt;
}

std::optional<refusal> admission::upgrade(ticket& t) {
  if (t.address_) {
    const auto it = counts_.find(*t.address_);
    if (it != counts_.end() && over(limits_.unauthenticated_per_address, it->second.unauthenticated)) {
      return refusal{make_limited(errc::rate_limited,
                                  "too many connections from this address are waiting to authenticate", count_retry_ms),
                     "UNAUTHENTICATED_PER_ADDRESS"};
    }
  }
  if (limits_.unauthenticated_total != 0 && unauthenticated_ >= limits_.unauthenticated_total) {
    return refusal{make_limited(errc::overloaded, "too many connections are waiting to authenticate", count_retry_ms),
                   "UNAUTHENTICATED_TOTAL"};
  }
  release(t, http_held);
  ++unauthenticated_;
  if (t.address_) ++counts_[*t.address_].unauthenticated;
  t.held_ |= unauthenticated_held;
  return std::nullopt;
}

void admission::release(ticket& t, std::uint8_t what) {
  const std::uint8_t giving = t.held_ & what;
  if (giving == 0) return;
  t.held_ &= static_cast<std::uint8_t>(~giving);
  if (giving & socket_held) --open_sockets_;
  if (giving & unauthenticated_held) --unauthenticated_;
  if (!t.address_) return;
  const auto it = counts_.find(*t.address_);
  if (it == counts_.end()) return;
  auto& c = it->second;
  if (giving & open_held) --c.open;
  if (giving & http_held) --c.http;
  if (giving & unauthenticated_held) --c.unauthenticated;
  if (c.open == 0 && c.http == 0 && c.unauthenticated == 0) counts_.erase(it);
  if ((t.held_ & (open_held | http_held | unauthenticated_held)) == 0) t.address_.reset();
}

// ---- ticket ----

admission::ticket::ticket(ticket&& other) noexcept
    : owner_(std::move(other.owner_)), address_(other.address_), held_(std::exchange(other.held_, 0)) {
  other.address_.reset();
}

admission::ticket& admission::ticket::operator=(ticket&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = std::move(other.owner_);
    address_ = std::exchange(other.address_, std::nullopt);
    held_ = std::exchange(other.held_, 0);
  }
  return *this;
}

admission::ticket::~ticket() { reset(); }

void admission::ticket::reset() noexcept {
  if (owner_) owner_->release(*this, 0xFF);
  owner_.reset();
}

void admission::ticket::authenticated() {
  if (owner_) owner_->release(*this, unauthenticated_held);
}

}  // namespace chatrix::net
