#include "chat/presence_here.hpp"

namespace chatrix::chat {

bool presence_here::arrived(user_id id, unix_ms now) {
  auto [it, inserted] = users_.try_emplace(id);
  if (inserted) {
    it->second.since = now;
    return true;
  }
  it->second.departed_at.reset();  // back within the grace: nobody hears it was gone
  it->second.departure = 0;
  return false;
}

void presence_here::departed(user_id id, unix_ms at, limits::steady_time now) {
  auto it = users_.find(id);
  if (it == users_.end()) return;
  it->second.departed_at = at;
  it->second.departure = ++next_departure_;
  graces_.push_back(pending{now + grace_, id, it->second.departure});
}

std::vector<cluster::presence_update> presence_here::due(limits::steady_time now) {
  std::vector<cluster::presence_update> out;
  while (!graces_.empty() && graces_.front().due <= now) {
    const auto p = graces_.front();
    graces_.pop_front();
    auto it = users_.find(p.id);
    if (it == users_.end() || it->second.departure != p.departure || !it->second.departed_at) continue;
    out.push_back(cluster::presence_update{p.id, false, *it->second.departed_at});
    users_.erase(it);
  }
  return out;
}

std::optional<limits::steady_time> presence_here::next_due() const {
  if (graces_.empty()) return std::nullopt;
  return graces_.front().due;
}

std::vector<cluster::presence_update> presence_here::online() const {
  std::vector<cluster::presence_update> out;
  out.reserve(users_.size());
  for (const auto& [id, e] : users_) out.push_back(cluster::presence_update{id, true, e.since});
  return out;
}

std::vector<cluster::presence_update> presence_here::take_all(unix_ms now) {
  std::vector<cluster::presence_update> out;
  out.reserve(users_.size());
  for (const auto& [id, e] : users_) out.push_back(cluster::presence_update{id, false, e.departed_at.value_or(now)});
  users_.clear();
  graces_.clear();
  return out;
}

}  // namespace chatrix::chat
