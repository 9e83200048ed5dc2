#include "chat/local_people.hpp"

namespace chatrix::chat {

void local_people::set(const user& me, const block_relations* blocks) {
  auto& p = people_[me.id];
  p.profile = me;
  if (blocks) set_blocks(me.id, *blocks);
}

void local_people::set_blocks(user_id id, const block_relations& blocks) {
  auto it = people_.find(id);
  if (it == people_.end()) return;
  it->second.blocked = {blocks.blocked.begin(), blocks.blocked.end()};
  it->second.blocked_by = {blocks.blocked_by.begin(), blocks.blocked_by.end()};
}

void local_people::drop(user_id id) { people_.erase(id); }

const user* local_people::profile(user_id id) const {
  const auto it = people_.find(id);
  return it == people_.end() ? nullptr : &it->second.profile;
}

bool local_people::blocked(user_id a, user_id b) const {
  const auto it = people_.find(a);
  return it != people_.end() && it->second.blocked.contains(b);
}

bool local_people::either_blocked(user_id a, user_id b) const {
  const auto it = people_.find(a);
  return it != people_.end() && (it->second.blocked.contains(b) || it->second.blocked_by.contains(b));
}

std::unordered_set<user_id> local_people::hidden_from(user_id a) const {
  const auto it = people_.find(a);
  if (it == people_.end()) return {};
  auto out = it->second.blocked;
  out.insert(it->second.blocked_by.begin(), it->second.blocked_by.end());
  return out;
}

}  // namespace chatrix::chat
