// Presence and last seen (docs/protocol.md): this node announces the users it holds on the
// bus (online once a device is in sync, offline PRESENCE_GRACE after their last device here
// went away), keeps the board of who is online where from every node's announcements, and
// tells the users with a device here what they see of the people they share a conversation
// with when that changes. The cost per connect or disconnect is one announcement and the
// watchers of that user; nothing is read from the store for it (blocks come with the session
// snapshot, profiles with the previews).
#include "chat/await.hpp"
#include "chat/chat_service.hpp"
#include "core/spawn.hpp"
#include "protocol/people_codec.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace chatrix::chat {

namespace asio = boost::asio;
using cluster::presence_update;
using cluster::user_event;

void chat_service::fill_rows(const user& viewer, std::vector<chat_preview>& rows,
                             const std::unordered_set<user_id>& hidden) {
  const auto now = clock_.now_ms();
  for (auto& p : rows)
    p.presence = presence_seen(viewer, p.peer, hidden.contains(p.peer.id), board_.state(p.peer.id), now);
}

void chat_service::watch_previews(const user& me, std::vector<chat_preview>& rows) {
  const user& viewer = *people_.profile(me.id);
  fill_rows(viewer, rows, people_.hidden_from(me.id));
  for (const auto& p : rows) {
    conversations_.remember(me.id, p.peer.id, p.conversation);
    watchers_.watch(me.id, p.peer, p.presence);
  }
}

asio::awaitable<void> chat_service::fill_presence(const user& viewer, std::vector<chat_preview>& rows) {
  if (const auto* here = people_.profile(viewer.id)) {
    fill_rows(*here, rows, people_.hidden_from(viewer.id));
    co_return;
  }
  auto blocks = co_await await_callback<block_relations>(
      [&](auto done) { store_.block_relations_of(viewer.id, done); });
  std::unordered_set<user_id> hidden;
  if (blocks) {
    hidden.insert(blocks->blocked.begin(), blocks->blocked.end());
    hidden.insert(blocks->blocked_by.begin(), blocks->blocked_by.end());
  } else {
    // Nobody's presence rather than a blocked person's.
    spdlog::debug("presence: the block relations of user {} could not be read: {}", viewer.id, blocks.error().message);
    for (const auto& p : rows) hidden.insert(p.peer.id);
  }
  fill_rows(viewer, rows, hidden);
}

void chat_service::announce(user_id id) {
  if (!devices_by_user_.contains(id)) return;
  const auto now = clock_.now_ms();
  if (here_.arrived(id, now)) bus_.publish_presence({presence_update{id, true, now}});
}

void chat_service::depart(user_id id) {
  here_.departed(id, clock_.now_ms(), std::chrono::steady_clock::now());
  arm_presence_timer();
  watchers_.drop_watcher(id);
  people_.drop(id);
}

void chat_service::arm_presence_timer() {
  // The grace is the same for every departure, so the earliest due is always the oldest
  // departure: one timer, re-armed when it fires.
  if (presence_timer_armed_) return;
  const auto next = here_.next_due();
  if (!next) return;
  presence_timer_armed_ = true;
  presence_timer_.expires_at(*next);
  std::weak_ptr<bool> alive = alive_;
  presence_timer_.async_wait([this, alive](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    presence_timer_armed_ = false;
    auto offline = here_.due(std::chrono::steady_clock::now());
    if (!offline.empty()) {
      record_last_seen(offline);
      // One announcement for everybody whose grace ran out together.
      bus_.publish_presence(std::move(offline));
    }
    arm_presence_timer();
  });
}

void chat_service::record_last_seen(const std::vector<presence_update>& offline) {
  std::vector<std::pair<user_id, unix_ms>> seen;
  seen.reserve(offline.size());
  for (const auto& u : offline) seen.emplace_back(u.user, u.at);
  store_.set_last_seen(std::move(seen), [count = offline.size()](result<bool> r) {
    // Only the store's thread runs this: it logs and returns. A lost write leaves an older
    // last seen, which the user's next departure replaces.
    if (!r) spdlog::debug("presence: last seen of {} users not recorded: {}", count, r.error().message);
  });
}

void chat_service::shutdown_presence() {
  auto offline = here_.take_all(clock_.now_ms());
  if (offline.empty()) return;
  record_last_seen(offline);
  bus_.publish_presence(std::move(offline));
}

void chat_service::presence_changed(const std::string& node, const std::vector<presence_update>& updates) {
  for (const auto& u : updates)
    if (board_.apply(node, u)) subject_changed(u.user);
}

void chat_service::node_gone(const std::string& node, unix_ms at) {
  for (const auto id : board_.node_gone(node, at)) subject_changed(id);
}

std::vector<presence_update> chat_service::local_presence() { return here_.online(); }

void chat_service::subject_changed(user_id subject) {
  auto* seen_by = watchers_.watchers_of(subject);
  if (!seen_by) return;
  const user profile = *watchers_.subject(subject);
  const auto state = board_.state(subject);
  const auto now = clock_.now_ms();
  for (auto& [watcher, seen] : *seen_by) {
    const auto* viewer = people_.profile(watcher);
    if (!viewer) continue;
    const auto view = presence_seen(*viewer, profile, people_.either_blocked(watcher, subject), state, now);
    if (sees_the_same(seen, view)) continue;
    seen = view;
    send_presence(watcher, profile, view);
  }
}

void chat_service::recheck_view(user_id watcher, user_id subject) {
  const auto* viewer = people_.profile(watcher);
  const auto* profile = watchers_.subject(subject);
  auto* seen_by = watchers_.watchers_of(subject);
  if (!viewer || !profile || !seen_by) return;
  auto it = seen_by->find(watcher);
  if (it == seen_by->end()) return;
  const auto view =
      presence_seen(*viewer, *profile, people_.either_blocked(watcher, subject), board_.state(subject), clock_.now_ms());
  if (sees_the_same(it->second, view)) return;
  it->second = view;
  send_presence(watcher, *profile, view);
}

void chat_service::send_presence(user_id watcher, const user& subject, const presence_view& seen) {
  auto it = devices_by_user_.find(watcher);
  if (it == devices_by_user_.end()) return;
  const user_event ev{watcher, user_event::kind::notice, 0, 0,
                      std::make_shared<const std::string>(protocol::encode_presence(subject, seen))};
  for (const auto id : it->second)
    if (auto* d = find_device(id)) send_to_device(*d, ev);
}

void chat_service::start_watching(user_id watcher, const user& subject) {
  const auto* viewer = people_.profile(watcher);
  if (!viewer || watchers_.watches(watcher, subject.id)) return;
  // Seen as it is now: the next change is news (the client asks previews for the start).
  watchers_.watch(watcher, subject,
                  presence_seen(*viewer, subject, people_.either_blocked(watcher, subject.id), board_.state(subject.id),
                                clock_.now_ms()));
}

void chat_service::watch_sender_of(const user_event& ev) {
  if (!people_.profile(ev.to)) return;
  const auto sender = protocol::text_sender(*ev.frame);
  if (!sender || watchers_.watches(ev.to, *sender)) return;
  if (const auto* known = users_.cached(*sender)) return start_watching(ev.to, *known);
  spawn_logged(io_, watch_by_id(ev.to, *sender), "chat: watching a new conversation's sender");
}

asio::awaitable<void> chat_service::watch_by_id(user_id watcher, user_id subject) {
  auto found = co_await users_.by_id(subject);
  if (found && *found) start_watching(watcher, **found);
}

asio::awaitable<void> chat_service::refresh_people(std::vector<user_id> ids) {
  for (const auto id : ids) co_await refresh_person(id);
}

asio::awaitable<void> chat_service::refresh_person(user_id id) {
  std::optional<block_relations> blocks;
  if (people_.profile(id)) {
    auto r = co_await await_callback<block_relations>([&](auto done) { store_.block_relations_of(id, done); });
    if (r) {
      blocks = std::move(*r);
    } else {
      spdlog::debug("presence: the block relations of user {} could not be read: {}", id, r.error().message);
    }
  }
  auto found = co_await users_.by_id(id);
  if (!found || !*found) co_return;
  const user profile = **found;

  if (people_.profile(id)) {
    const auto hidden_before = people_.hidden_from(id);
    people_.set(profile, blocks ? &*blocks : nullptr);
    const auto hidden_now = people_.hidden_from(id);
    // What this user sees of everyone they watch (their own show_presence, their blocks).
    for (const auto subject : watchers_.subjects_of(id)) recheck_view(id, subject);
    // A block both ways: each sees the other offline with no last seen at once, watched or
    // not; after an unblock, what there is to see.
    for (const auto other : hidden_now)
      if (!hidden_before.contains(other) && !watchers_.watches(id, other)) {
        user gone;
        gone.id = other;
        if (const auto* known = users_.cached(other)) gone = *known;
        send_presence(id, gone, presence_view{});
      }
    for (const auto other : hidden_before) {
      if (hidden_now.contains(other) || watchers_.watches(id, other)) continue;
      auto them = co_await users_.by_id(other);
      const auto* viewer = people_.profile(id);
      if (!them || !*them || !viewer) continue;
      send_presence(id, **them, presence_seen(*viewer, **them, false, board_.state(other), clock_.now_ms()));
    }
  }
  if (watchers_.subject(id)) {
    watchers_.update_subject(profile);
    subject_changed(id);
  }
}

}  // namespace chatrix::chat
