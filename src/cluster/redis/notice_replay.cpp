// redis_bus, notice replay: notices whose routing failed, held (bounded) and sent again when
// Redis, or the node that missed them, is back.
#include "cluster/redis/redis_bus.hpp"

#include "cluster/redis/bus_detail.hpp"
#include "cluster/redis/event_codec.hpp"

#include <utility>

namespace chatrix::cluster::redis {

using detail::now_ms;

void redis_bus::hold_notice(const user_event& ev, std::string node) {
  // Messages need no copy: they are pending in the database until delivered, and a resync
  // finds them. Notices are only events.
  if (ev.type != user_event::kind::notice) return;
  const auto now = now_ms();
  prune_held(now);
  if (held_.size() >= options_.max_held_notices) {
    held_.pop_front();
    ++stats_.notices_held_dropped;
  }
  held_.push_back(held_notice{next_notice_seq_++, std::move(node), now, ev});
  ++stats_.notices_held;
}

void redis_bus::hold_notices(const std::vector<user_event>& events) {
  for (const auto& ev : events) hold_notice(ev);
}

void redis_bus::prune_held(unix_ms now) {
  const auto oldest = now - options_.notice_retention.count();
  while (!held_.empty() && held_.front().at < oldest) {
    held_.pop_front();
    ++stats_.notices_held_dropped;
  }
}

void redis_bus::replay_to(const std::string& node, bool hello) {
  // Every notice the node may have missed, oldest first. It may have had some already (it
  // was told before, or a node hello'd twice): receivers drop seqs they have seen.
  std::string p;
  const auto start = [&] {
    p.clear();
    begin_payload(p);
    append_origin(p, id_);
  };
  start();
  const auto header = p.size();
  for (const auto& h : held_) {
    if (!h.node.empty() && h.node != node) continue;
    append_replayed(p, h.seq, h.ev);
    ++stats_.notices_replayed;
    if (p.size() >= options_.max_payload_bytes) {
      publish_payload(node, std::move(p), false);
      start();
    }
  }
  if (hello) append_hello(p);
  if (p.size() > header) publish_payload(node, std::move(p), false);
}

void redis_bus::on_hello(std::string origin) {
  if (origin.empty() || origin == id_) return;
  // Not synced yet (or about to announce): answered with the announcement.
  if (synced_ && !announce_)
    replay_to(origin, false);
  else
    hellos_.insert(std::move(origin));
}

}  // namespace chatrix::cluster::redis
