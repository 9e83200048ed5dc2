#include "chat/typing_tracker.hpp"

#include <algorithm>

namespace chatrix::chat {

typing_tracker::ended typing_tracker::take(std::uint64_t device, device_typing& d, std::size_t index) {
  const entry e = d.entries[index];
  by_expiry_.erase({e.expires, device, e.to});
  d.entries.erase(d.entries.begin() + static_cast<std::ptrdiff_t>(index));
  return ended{d.from, e.to, e.chat};
}

std::optional<typing_tracker::ended> typing_tracker::typing(std::uint64_t device, const user& from, user_id to,
                                                            std::optional<conversation_id> chat,
                                                            limits::steady_time now) {
  auto& d = devices_[device];
  d.from = from;
  std::optional<ended> pushed_out;
  const auto it = std::find_if(d.entries.begin(), d.entries.end(), [to](const entry& e) { return e.to == to; });
  if (it != d.entries.end()) {
    take(device, d, static_cast<std::size_t>(it - d.entries.begin()));
  } else if (d.entries.size() >= max_per_device) {
    pushed_out = take(device, d, 0);
  }
  const auto expires = now + expiry;
  d.entries.push_back(entry{to, chat, expires});
  by_expiry_.insert({expires, device, to});
  return pushed_out;
}

bool typing_tracker::stopped(std::uint64_t device, user_id to) {
  const auto dit = devices_.find(device);
  if (dit == devices_.end()) return false;
  auto& d = dit->second;
  const auto it = std::find_if(d.entries.begin(), d.entries.end(), [to](const entry& e) { return e.to == to; });
  if (it == d.entries.end()) return false;
  take(device, d, static_cast<std::size_t>(it - d.entries.begin()));
  if (d.entries.empty()) devices_.erase(dit);
  return true;
}

std::vector<typing_tracker::ended> typing_tracker::expired(limits::steady_time now) {
  std::vector<ended> out;
  while (!by_expiry_.empty() && std::get<0>(*by_expiry_.begin()) <= now) {
    const auto [expires, device, to] = *by_expiry_.begin();
    auto dit = devices_.find(device);
    auto& d = dit->second;
    const auto it = std::find_if(d.entries.begin(), d.entries.end(), [to = to](const entry& e) { return e.to == to; });
    out.push_back(take(device, d, static_cast<std::size_t>(it - d.entries.begin())));
    if (d.entries.empty()) devices_.erase(dit);
  }
  return out;
}

std::vector<typing_tracker::ended> typing_tracker::device_gone(std::uint64_t device) {
  std::vector<ended> out;
  const auto dit = devices_.find(device);
  if (dit == devices_.end()) return out;
  auto& d = dit->second;
  while (!d.entries.empty()) out.push_back(take(device, d, 0));
  devices_.erase(dit);
  return out;
}

std::optional<limits::steady_time> typing_tracker::next_expiry() const {
  if (by_expiry_.empty()) return std::nullopt;
  return std::get<0>(*by_expiry_.begin());
}

}  // namespace chatrix::chat
