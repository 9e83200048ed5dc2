// Who on this node watches whose presence, and what each watcher last saw: a user with a
// device here watches the peers of the first previews page each device got at connect and
// the people they started a conversation with meanwhile. A watcher hears of a subject only
// when what it sees changes. Also the rules of what one user may see of another
// (docs/protocol.md, "Presence and last seen"). Pure.
#pragma once

#include "chat/presence_board.hpp"
#include "core/types.hpp"

#include <cstddef>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatrix::chat {

/// What `viewer` may see of `subject` at `now`: nothing (offline, no last seen) between a
/// blocked pair, of a deleted account or of someone who hides their presence; online with
/// last seen now, or offline with when they left (the board's, or the stored one); no last
/// seen at all for a viewer who hides their own.
presence_view presence_seen(const user& viewer, const user& subject, bool blocked,
                            const std::optional<presence_state>& board, unix_ms now);

/// Whether a watcher that saw `a` would see anything new in `b` (online is online, whenever
/// "now" was).
bool sees_the_same(const presence_view& a, const presence_view& b);

/// Thread-safety: none; owned by the chat service, used on the I/O thread.
class presence_watchers {
 public:
  explicit presence_watchers(std::size_t max_subjects_per_watcher = 1000)
      : max_subjects_(max_subjects_per_watcher) {}

  /// `watcher` watches `subject`, having seen `seen` of them (a new watch, or what it sees
  /// now). False when the watcher already watches max_subjects_per_watcher others.
  bool watch(user_id watcher, const user& subject, const presence_view& seen);
  bool watches(user_id watcher, user_id subject) const;
  /// What each watcher last saw of `subject`; nullptr when nobody here watches them.
  std::unordered_map<user_id, presence_view>* watchers_of(user_id subject);
  /// The subject's profile as last read; nullptr when nobody here watches them.
  const user* subject(user_id id) const;
  void update_subject(const user& profile);
  std::vector<user_id> subjects_of(user_id watcher) const;
  /// The watcher's last device went away.
  void drop_watcher(user_id watcher);

 private:
  struct subject_entry {
    user profile;
    std::unordered_map<user_id, presence_view> seen_by;
  };

  std::size_t max_subjects_;
  std::unordered_map<user_id, subject_entry> subjects_;
  std::unordered_map<user_id, std::unordered_set<user_id>> by_watcher_;
};

}  // namespace chatrix::chat
