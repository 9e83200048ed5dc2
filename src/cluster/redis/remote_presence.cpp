// remote_presence: per-node sets of online users, and snapshot diffs.
#include "cluster/redis/remote_presence.hpp"

#include <utility>

namespace chatrix::cluster::redis {

void remote_presence::apply(const std::string& node, const presence_update& u) {
  if (u.online) {
    online_[node].insert(u.user);
    return;
  }
  auto it = online_.find(node);
  if (it == online_.end()) return;
  it->second.erase(u.user);
  if (it->second.empty()) online_.erase(it);
}

void remote_presence::begin_snapshot(const std::string& node) { snapshots_[node].clear(); }

void remote_presence::add_to_snapshot(const std::string& node, const presence_update& u) {
  auto it = snapshots_.find(node);
  if (it != snapshots_.end() && u.online) it->second.push_back(u);
}

std::vector<presence_update> remote_presence::end_snapshot(const std::string& node, unix_ms now) {
  auto it = snapshots_.find(node);
  if (it == snapshots_.end()) return {};
  auto listed = std::move(it->second);
  snapshots_.erase(it);

  std::unordered_set<user_id> fresh;
  fresh.reserve(listed.size());
  for (const auto& u : listed) fresh.insert(u.user);
  auto& known = online_[node];
  std::vector<presence_update> changes;
  for (auto user : known)
    if (!fresh.contains(user)) changes.push_back(presence_update{user, false, now});
  for (const auto& u : listed)
    if (!known.contains(u.user)) changes.push_back(u);
  known = std::move(fresh);
  if (known.empty()) online_.erase(node);
  return changes;
}

bool remote_presence::forget(const std::string& node) {
  snapshots_.erase(node);
  return online_.erase(node) > 0;
}

std::size_t remote_presence::online_on(const std::string& node) const {
  auto it = online_.find(node);
  return it == online_.end() ? 0 : it->second.size();
}

}  // namespace chatrix::cluster::redis
