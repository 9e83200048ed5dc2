// notice_replay: the held-notice buffer and the replay filter.
#include "cluster/redis/notice_replay.hpp"

#include "cluster/redis/event_codec.hpp"

#include <algorithm>
#include <utility>

namespace chatrix::cluster::redis {

namespace {

// Origins whose replayed notices we track (one entry per node that ever replayed to us; ids
// are random per process): cleared if it ever gets this large.
constexpr std::size_t max_replay_origins = 4096;

}  // namespace

void notice_replay::hold(const user_event& ev, std::string node, unix_ms now) {
  if (ev.type != user_event::kind::notice) return;
  prune(now);
  if (held_.size() >= limits_.max_held) {
    held_.pop_front();
    ++stats_.notices_held_dropped;
  }
  held_.push_back(held_notice{next_seq_++, std::move(node), now, ev});
  ++stats_.notices_held;
}

void notice_replay::prune(unix_ms now) {
  const auto oldest = now - limits_.retention.count();
  while (!held_.empty() && held_.front().at < oldest) {
    held_.pop_front();
    ++stats_.notices_held_dropped;
  }
}

void notice_replay::forget(std::string_view node) {
  std::erase_if(held_, [&](const held_notice& n) { return n.node == node; });
}

std::vector<std::string> notice_replay::payloads_for(std::string_view node, std::string_view origin, bool hello) {
  // It may have had some already (it was told before, or a node hello'd twice): receivers
  // drop seqs they have seen.
  std::vector<std::string> out;
  std::string p;
  const auto start = [&] {
    p.clear();
    begin_payload(p);
    append_origin(p, origin);
  };
  start();
  const auto header = p.size();
  for (const auto& h : held_) {
    if (!h.node.empty() && h.node != node) continue;
    append_replayed(p, h.seq, h.ev);
    ++stats_.notices_replayed;
    if (p.size() >= limits_.max_payload_bytes) {
      out.push_back(std::move(p));
      start();
    }
  }
  if (hello) append_hello(p);
  if (p.size() > header) out.push_back(std::move(p));
  return out;
}

std::unordered_set<std::string> notice_replay::take_deferred_hellos() {
  auto hellos = std::move(hellos_);
  hellos_.clear();
  return hellos;
}

bool notice_replay::first_sight(std::string_view origin, std::uint64_t seq) {
  if (seen_.size() >= max_replay_origins) seen_.clear();
  auto& seen = seen_[std::string(origin)];
  if (seq <= seen) return false;
  seen = seq;
  return true;
}

}  // namespace chatrix::cluster::redis
