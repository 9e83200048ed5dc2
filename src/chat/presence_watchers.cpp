#include "chat/presence_watchers.hpp"

#include <algorithm>

namespace chatrix::chat {

presence_view presence_seen(const user& viewer, const user& subject, bool blocked,
                            const std::optional<presence_state>& board, unix_ms now) {
  if (blocked || subject.deleted || !subject.show_presence) return {};
  presence_view v;
  if (board && board->online) {
    v.online = true;
    v.last_seen = now;
  } else if (board) {
    v.last_seen = std::max(board->at, subject.last_seen.value_or(board->at));
  } else {
    v.last_seen = subject.last_seen;
  }
  if (!viewer.show_presence) v.last_seen.reset();
  return v;
}

bool sees_the_same(const presence_view& a, const presence_view& b) {
  if (a.online != b.online) return false;
  if (a.online) return a.last_seen.has_value() == b.last_seen.has_value();
  return a.last_seen == b.last_seen;
}

bool presence_watchers::watch(user_id watcher, const user& subject, const presence_view& seen) {
  auto& mine = by_watcher_[watcher];
  if (!mine.contains(subject.id) && mine.size() >= max_subjects_) return false;
  mine.insert(subject.id);
  auto& s = subjects_[subject.id];
  s.profile = subject;
  s.seen_by[watcher] = seen;
  return true;
}

bool presence_watchers::watches(user_id watcher, user_id subject) const {
  const auto it = by_watcher_.find(watcher);
  return it != by_watcher_.end() && it->second.contains(subject);
}

std::unordered_map<user_id, presence_view>* presence_watchers::watchers_of(user_id subject) {
  const auto it = subjects_.find(subject);
  return it == subjects_.end() ? nullptr : &it->second.seen_by;
}

const user* presence_watchers::subject(user_id id) const {
  const auto it = subjects_.find(id);
  return it == subjects_.end() ? nullptr : &it->second.profile;
}

void presence_watchers::update_subject(const user& profile) {
  if (auto it = subjects_.find(profile.id); it != subjects_.end()) it->second.profile = profile;
}

std::vector<user_id> presence_watchers::subjects_of(user_id watcher) const {
  const auto it = by_watcher_.find(watcher);
  if (it == by_watcher_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

void presence_watchers::drop_watcher(user_id watcher) {
  const auto it = by_watcher_.find(watcher);
  if (it == by_watcher_.end()) return;
  for (const auto id : it->second) {
    auto s = subjects_.find(id);
    if (s == subjects_.end()) continue;
    s->second.seen_by.erase(watcher);
    if (s->second.seen_by.empty()) subjects_.erase(s);
  }
  by_watcher_.erase(it);
}

}  // namespace chatrix::chat
