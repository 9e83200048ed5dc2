#include "chat/presence_board.hpp"

#include <algorithm>

namespace chatrix::chat {

std::optional<presence_state> presence_board::apply(const std::string& node, const cluster::presence_update& u) {
  auto [it, inserted] = users_.try_emplace(u.user);
  auto& e = it->second;
  const auto held =
      std::find_if(e.nodes.begin(), e.nodes.end(), [&](const auto& n) { return n.first == node; });
  if (u.online) {
    if (held != e.nodes.end()) return std::nullopt;  // a repeat (local_presence after a rejoin)
    const bool was_online = !e.nodes.empty();
    if (!inserted && !was_online) --offline_;
    e.nodes.emplace_back(node, u.at);
    by_node_[node].insert(u.user);
    if (was_online) return std::nullopt;
    return presence_state{true, u.at};
  }
  if (held == e.nodes.end()) {
    if (inserted) users_.erase(it);  // offline somewhere we never saw it online: nothing changes
    return std::nullopt;
  }
  e.nodes.erase(held);
  if (auto n = by_node_.find(node); n != by_node_.end()) {
    n->second.erase(u.user);
    if (n->second.empty()) by_node_.erase(n);
  }
  if (!e.nodes.empty()) return std::nullopt;
  went_offline(u.user, e, u.at);
  return presence_state{false, u.at};
}

std::vector<user_id> presence_board::node_gone(const std::string& node, unix_ms at) {
  std::vector<user_id> offline;
  auto n = by_node_.find(node);
  if (n == by_node_.end()) return offline;
  const auto held = std::move(n->second);
  by_node_.erase(n);
  for (const auto id : held) {
    auto it = users_.find(id);
    if (it == users_.end()) continue;
    auto& e = it->second;
    std::erase_if(e.nodes, [&](const auto& h) { return h.first == node; });
    if (!e.nodes.empty()) continue;
    offline.push_back(id);
    went_offline(id, e, at);
  }
  return offline;
}

void presence_board::went_offline(user_id id, entry& e, unix_ms at) {
  e.offline_at = std::max(e.offline_at, at);
  ++offline_;
  if (offline_ <= max_offline_) return;
  // Amortised O(1): one sweep per max_offline_ departures.
  std::erase_if(users_, [id](const auto& u) { return u.second.nodes.empty() && u.first != id; });
  offline_ = 1;
}

std::optional<presence_state> presence_board::state(user_id id) const {
  const auto it = users_.find(id);
  if (it == users_.end()) return std::nullopt;
  const auto& e = it->second;
  if (e.nodes.empty()) return presence_state{false, e.offline_at};
  unix_ms since = e.nodes.front().second;
  for (const auto& n : e.nodes) since = std::min(since, n.second);
  return presence_state{true, since};
}

}  // namespace chatrix::chat
