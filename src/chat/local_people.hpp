// What this node keeps of each user with a device here, for the typing and presence filters:
// their profile as it is now (show_presence changes while they are connected) and their block
// relations, both ways. Set from the session snapshot when their first device attaches (no
// read of its own), refreshed when the bus says the user changed, dropped with their last
// device. Pure.
#pragma once

#include "core/types.hpp"

#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatrix::chat {

/// Thread-safety: none; owned by the chat service, used on the I/O thread.
class local_people {
 public:
  /// `me` has a device here: remembers the profile and, when given, the block relations.
  void set(const user& me, const block_relations* blocks);
  void set_blocks(user_id id, const block_relations& blocks);
  void drop(user_id id);

  /// The profile of a user with a device here, nullptr for anybody else.
  const user* profile(user_id id) const;
  /// `a` (a user with a device here) blocked `b`.
  bool blocked(user_id a, user_id b) const;
  /// `a` (a user with a device here) blocked `b` or was blocked by them: they see nothing of
  /// each other's typing and presence.
  bool either_blocked(user_id a, user_id b) const;
  /// Everybody `a` blocked or was blocked by.
  std::unordered_set<user_id> hidden_from(user_id a) const;

 private:
  struct person {
    user profile;
    std::unordered_set<user_id> blocked;
    std::unordered_set<user_id> blocked_by;
  };
  std::unordered_map<user_id, person> people_;
};

}  // namespace chatrix::chat
