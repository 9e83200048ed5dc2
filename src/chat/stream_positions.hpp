// Which positions of its user's stream one device has had within its connection, so that an
// event reaching it twice (live and in the catch-up, a bus replay, a resync) goes out once.
#pragma once

#include "core/types.hpp"

#include <algorithm>
#include <cstddef>
#include <set>

namespace chatrix::chat {

/// Positions are gap-free per user, so nearly all a device has had is "everything up to N"
/// (the watermark); only events that overtook a missing one (it went to another device of
/// the user only, or the bus lost it) wait above it, at most `capacity` of them. Past that
/// the oldest gap is given up for had: the watermark jumps over it (a lost event comes back
/// by resync, which re-reads the stream after the watermark, or on the next connection).
class stream_positions {
 public:
  static constexpr std::size_t capacity = 256;

  /// Everything up to `pos` is had (SYNCED, or the `since` a catch-up starts from); positions
  /// count from the first call on. Positions above it that were had stay had.
  void have_through(stream_pos pos) {
    if (!tracking_ || pos > through_) through_ = pos;
    tracking_ = true;
    while (!above_.empty() && *above_.begin() <= through_ + 1) {
      through_ = std::max(through_, *above_.begin());
      above_.erase(above_.begin());
    }
  }
  bool tracking() const noexcept { return tracking_; }
  /// Every position up to this was had.
  stream_pos through() const noexcept { return through_; }
  bool had(stream_pos pos) const { return tracking_ && pos > 0 && (pos <= through_ || above_.contains(pos)); }

  /// Records that the device gets `pos`. False when it had it already; true otherwise, and
  /// always before have_through() or for pos 0 (not a stream event), which are not recorded.
  bool take(stream_pos pos) {
    if (!tracking_ || pos <= 0) return true;
    if (had(pos)) return false;
    if (pos == through_ + 1) {
      through_ = pos;
    } else {
      above_.insert(pos);
      if (above_.size() > capacity) {
        through_ = *above_.begin();
        above_.erase(above_.begin());
      }
    }
    while (!above_.empty() && *above_.begin() == through_ + 1) {
      through_ = *above_.begin();
      above_.erase(above_.begin());
    }
    return true;
  }

 private:
  bool tracking_ = false;
  stream_pos through_ = 0;
  std::set<stream_pos> above_;
};

}  // namespace chatrix::chat
