// redis_bus: construction, life cycle (start, stop, shutdown), the recovery protocol
// (rewrite presence, then resync) after any loss of a Redis link, the heartbeat that drives
// the registry and presence parts, the per-turn flush (presence writes, then the router's
// round), and receiving.
#include "cluster/redis/redis_bus.hpp"

#include "cluster/redis/event_codec.hpp"
#include "cluster/redis/redis_command.hpp"
#include "core/spawn.hpp"
#include "metrics/metrics.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <random>
#include <utility>

namespace chatrix::cluster::redis {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

std::string random_node_id() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  static constexpr char hex[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = hex[v & 0xf];
  return s;
}

}  // namespace

redis_bus::redis_bus(asio::any_io_executor io, redis_bus_options options, const clock& clk)
    : io_(io),
      options_(std::move(options)),
      clock_(clk),
      id_(options_.node_id.empty() ? random_node_id() : options_.node_id),
      keys_(options_.key_prefix),
      revocations_channel_(keys_.revocations()),
      broadcast_channel_(keys_.broadcast()),
      heartbeat_timer_(io),
      stop_timer_(io),
      registry_(keys_, id_, options_.lease_ttl, clock_),
      presence_(keys_, id_, options_.lease_ttl, clock_),
      replay_({options_.max_held_notices, options_.notice_retention, options_.max_payload_bytes}, stats_),
      router_(io_, keys_, id_, {options_.max_queued_events, options_.max_payload_bytes}, registry_, replay_, stats_,
              clock_, options_.metrics),
      broadcast_(id_, options_.max_payload_bytes) {}

redis_bus::~redis_bus() { stop(); }

node_info redis_bus::self_info() const {
  return node_info{id_, options_.advertised_address, started_at_, presence_.connections(),
                   clock_.now_ms() + options_.lease_ttl.count()};
}

// ---- lifecycle -------------------------------------------------------------------------

void redis_bus::start(event_sink& sink) {
  if (main_ || stopped_) return;
  sink_ = &sink;
  started_at_ = clock_.now_ms();

  auto opts = options_.connection;
  opts.address = options_.address;
  opts.name = "chatrix-" + id_;
  main_ = redis_connection::create(io_, opts);
  main_->on_state([this](bool up) { on_main_state(up); });

  opts.name += "-sub";
  sub_ = redis_connection::create(io_, opts);
  sub_->subscribe({keys_.channel(id_), revocations_channel_, broadcast_channel_},
                  [this](std::string_view channel, std::string payload) {
                    if (channel == revocations_channel_)
                      on_revocation_push(payload);
                    else if (channel == broadcast_channel_)
                      on_broadcast_push(payload);
                    else
                      on_push(std::move(payload));
                  });
  sub_->on_state([this](bool up) { on_sub_state(up); });

  spdlog::info("cluster: node {} ({}) joining via Redis at {}", id_, options_.advertised_address,
               options_.address.to_string());
  main_->start();
  sub_->start();
  spawn_logged(io_, heartbeat_loop(alive_), "cluster: heartbeat");
}

void redis_bus::deregister() {
  registry_.erase_lease(*main_);
  presence_.erase_all(*main_);
}

void redis_bus::stop() {
  if (stopped_) return;
  stopped_ = true;
  heartbeat_timer_.cancel();
  stop_timer_.cancel();
  if (main_) {
    if (main_up_) {
      deregister();
      main_->close_gracefully(options_.stop_timeout);
    } else {
      main_->close();
    }
  }
  if (sub_) sub_->close();
  if (main_) spdlog::info("cluster: node {} left", id_);
  sink_ = nullptr;
  router_.clear();
  early_.clear();
  broadcast_.take();
  main_up_ = sub_up_ = synced_ = false;
  if (auto done = std::move(shutdown_done_)) {
    shutdown_done_ = nullptr;
    asio::post(io_, std::move(done));
  }
}

void redis_bus::shutdown(std::function<void()> done) {
  if (stopped_ || draining_) {
    if (done) asio::post(io_, std::move(done));
    return;
  }
  // Messages acknowledged just before shutdown are routed before the node leaves: stored
  // but not routed, a connected recipient elsewhere would get them only at its next resync.
  draining_ = true;
  shutdown_done_ = std::move(done);
  heartbeat_timer_.cancel();
  stop_timer_.expires_after(options_.stop_timeout);
  stop_timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](error_code ec) {
    if (ec || alive.expired()) return;
    if (!stopped_) spdlog::warn("cluster: node {} stops with routing still in flight", id_);
    stop();
  });
  // Posted: a flush posted earlier in this turn runs first.
  asio::post(io_, [this, alive = std::weak_ptr<char>(alive_)] {
    if (!alive.expired()) maybe_finish_shutdown();
  });
}

void redis_bus::maybe_finish_shutdown() {
  if (draining_ && !stopped_ && router_.idle() && !flush_posted_) finish_shutdown();
}

void redis_bus::finish_shutdown() {
  draining_ = false;
  if (!main_ || !main_up_) {
    stop();
    return;
  }
  // Deregister, and stop once Redis has confirmed it (or when the timer above fires).
  deregister();
  stop_timer_.cancel();
  stop_timer_.expires_after(options_.stop_timeout);
  stop_timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](error_code ec) {
    if (!ec && !alive.expired()) stop();
  });
  main_->send({"PING"}, [this](error_code, reply) {
    main_up_ = false;  // deregistered: stop() only closes
    stop();
  });
}

void redis_bus::simulate_crash_for_testing() {
  stopped_ = true;
  heartbeat_timer_.cancel();
  stop_timer_.cancel();
  if (main_) main_->close();
  if (sub_) sub_->close();
  sink_ = nullptr;
  router_.clear();
  early_.clear();
  main_up_ = sub_up_ = synced_ = false;
}

// ---- link state and recovery ------------------------------------------------------------

void redis_bus::count_link_up(bool& was_up) {
  if (!std::exchange(was_up, true)) return;
  ++stats_.reconnects;
  if (options_.metrics) metrics::server_metrics::add(options_.metrics->reconnects);
}

void redis_bus::on_main_state(bool up) {
  main_up_ = up;
  if (up) count_link_up(main_was_up_);
  if (!up) {
    synced_ = false;
    ++sync_gen_;
    return;
  }
  if (sub_up_) {
    sync();
  } else {
    write_registration();
    refresh_nodes();
  }
}

void redis_bus::on_sub_state(bool up) {
  sub_up_ = up;
  if (up) count_link_up(sub_was_up_);
  if (!up) {
    // Events published to us from now on are lost until we are subscribed again.
    synced_ = false;
    ++sync_gen_;
    return;
  }
  if (main_up_) sync();
}

void redis_bus::sync() {
  // co_spawn dispatches: the round below has written its commands, PING last, by the time it
  // first waits, so the registry read after them goes out behind them.
  spawn_logged(io_, sync_round(++sync_gen_, alive_), "cluster: sync");
  refresh_nodes();
  announce_after_ = registry_.reads_issued();  // the registry read just issued sees every node synced before us
}

asio::awaitable<void> redis_bus::sync_round(std::uint64_t gen, std::weak_ptr<char> alive) {
  // After a loss, Redis may have forgotten us (restart, or our lease ran out): rewrite the
  // registration and every presence entry, and only once Redis has them (the PING after
  // them returns) ask the sink to re-check the database. In that order, a message stored
  // meanwhile is either routed to us (presence visible) or found by the resync.
  write_registration();
  presence_.rewrite_all(*main_);
  command_args ping{"PING"};  // named: g++ 12 rejects a braced list inside the co_await
  auto [ec, pong] = co_await async_command(*main_, std::move(ping), as_result);
  if (ec || alive.expired() || gen != sync_gen_ || !main_up_ || !sub_up_) co_return;
  synced_ = true;
  const bool recovered = ever_synced_;
  ever_synced_ = true;
  if (recovered) spdlog::info("cluster: node {} back on Redis; resyncing local devices", id_);
  // The first sync matters too: for devices that attached before we were reachable, and for
  // revocations published between the sink's start-up read of the store and our subscription.
  request_resync();
  // What arrived since the subscription came back goes after the resync began, so that the
  // sink holds it behind what the database still owes.
  auto early = std::move(early_);
  early_.clear();
  for (auto& ev : early) on_remote_event(std::move(ev));
  // Presence heard by nobody while we were cut off, or missed by us: every node publishes
  // what it holds, and each receiver applies what changed.
  publish_snapshot(true);
  // Other nodes may have held notices for us (hello, after a loss), and we may hold some.
  announce_ = true;
  announce_hello_ = announce_hello_ || recovered;
  if (presence_.changed()) schedule_flush();
}

void redis_bus::request_resync() {
  // Synchronous: the sink starts holding live events before the next event is handed over.
  // It coalesces the database re-checks itself.
  if (!sink_) return;
  ++stats_.resyncs;
  if (options_.metrics) metrics::server_metrics::add(options_.metrics->resyncs);
  sink_->resync();
}

// ---- registry ---------------------------------------------------------------------------

// ---- registry and presence upkeep ---------------------------------------------------------

void redis_bus::write_registration() { registry_.write_lease(*main_, self_info()); }

void redis_bus::refresh_nodes() { spawn_logged(io_, read_nodes(alive_), "cluster: registry read"); }

asio::awaitable<void> redis_bus::read_nodes(std::weak_ptr<char> alive) {
  auto read = co_await registry_.read(*main_);
  if (read && !alive.expired()) on_nodes_read(*read);
}

void redis_bus::on_nodes_read(const node_registry::read_result& read) {
  if (options_.metrics)
    options_.metrics->nodes.store(static_cast<std::int64_t>(nodes().size()), std::memory_order_relaxed);
  for (const auto& id : read.died) {
    ++stats_.node_deaths;
    replay_.forget(id);
  }
  // Once per departure: the registry reports a node as died or left once after it was live.
  for (const auto* gone : {&read.died, &read.left}) {
    for (const auto& id : *gone) {
      remote_presence_.forget(id);
      if (!sink_) return;
      ++stats_.nodes_gone;
      sink_->node_gone(id, clock_.now_ms());
    }
  }
  if (!sink_) return;  // the sink stopped us
  if (!read.died.empty()) {
    spdlog::info("cluster: a node died; node {} resyncs its local devices", id_);
    request_resync();
  }
  if (router_.lost() && main_up_) {
    // We dropped remote routing earlier: every other live node re-checks the database for
    // its devices. Events held back meanwhile go out after the signal.
    router_.signal_resync(*main_);
    if (router_.has_queued()) schedule_flush();
  }
  if (announce_ && synced_ && read.number >= announce_after_) {
    announce_ = false;
    const bool hello = std::exchange(announce_hello_, false);
    for (const auto& n : registry_.last_read())
      if (n.id != id_) replay_.defer_hello(n.id);
    for (const auto& node : replay_.take_deferred_hellos()) replay_to(node, hello);
  }
}

std::vector<node_info> redis_bus::nodes() const { return registry_.live_nodes(self_info()); }

asio::awaitable<void> redis_bus::heartbeat_loop(std::weak_ptr<char> alive) {
  // `alive` first: when start() runs off the I/O thread, the coroutine starts later, and the
  // bus may be gone by then. Shutting down ends the beats (the stop timer bounds what is left).
  for (;;) {
    if (alive.expired() || stopped_ || draining_) co_return;
    heartbeat_timer_.expires_after(options_.heartbeat);
    auto [ec] = co_await heartbeat_timer_.async_wait(as_result);
    if (ec || alive.expired() || stopped_ || draining_) co_return;
    replay_.prune(clock_.now_ms());
    if (main_up_) {
      write_registration();
      if (synced_) presence_.renew(*main_);
      refresh_nodes();
    }
  }
}

void redis_bus::device_connected(user_id id, std::function<void()> visible) {
  presence_.add_device(id);
  if (visible) presence_.await_visible(std::move(visible));
  schedule_flush();
}

void redis_bus::device_disconnected(user_id id) {
  if (!presence_.remove_device(id)) return;
  schedule_flush();
}

void redis_bus::release_visible_waiters() {
  // Without Redis nobody can route to us anyway; the resync after recovery covers the gap.
  for (auto& w : presence_.take_waiters()) w();
}

// ---- routing ----------------------------------------------------------------------------

void redis_bus::publish(user_event ev) {
  if (!sink_) return;
  ++stats_.published;
  if (presence_.has(ev.to)) {
    ++stats_.delivered_local;
    sink_->deliver_local(ev);
    if (!sink_) return;  // the sink stopped us
  }
  if (!main_up_) {
    router_.drop(ev);
    return;
  }
  if (router_.enqueue(std::move(ev))) schedule_flush();
}

void redis_bus::publish_revocation(const revocation& r) {
  if (!sink_) return;
  ++stats_.revocations_published;
  sink_->revoked(r);
  if (!sink_) return;  // the sink stopped us
  if (!main_up_) {
    router_.mark_lost();
    return;
  }
  // On the main link, in order with the routing rounds. A PUBLISH that fails (the link
  // dropped) may or may not have gone out: the other nodes resync either way.
  std::string payload = encode_revocation(id_, r);
  main_->send({"PUBLISH", revocations_channel_, payload}, [this](error_code ec, reply) {
    if (ec) router_.mark_lost();
  });
}

void redis_bus::publish_presence(std::vector<presence_update> updates) {
  if (!sink_) return;
  sink_->presence_changed(id_, updates);
  if (!sink_ || updates.empty()) return;  // the sink stopped us
  // Without Redis they are dropped here; the snapshot after the link is back makes up for it.
  if (!main_up_) return;
  for (const auto& u : updates) broadcast_.presence(u);
  stats_.presence_published += updates.size();
  schedule_flush();
}

void redis_bus::publish_user_changed(user_id id) {
  if (!sink_) return;
  sink_->user_changed(id);
  if (!sink_) return;  // the sink stopped us
  if (!main_up_) {
    router_.mark_lost();
    return;
  }
  broadcast_.user_changed(id);
  broadcast_lossy_ = true;
  schedule_flush();
}

void redis_bus::publish_snapshot(bool ask) {
  if (!sink_ || !main_up_) return;
  // Behind this turn's updates, so that the snapshot, which is newer, is applied last.
  publish_broadcast(broadcast_.take(), std::exchange(broadcast_lossy_, false));
  const auto users = sink_->local_presence();
  if (!sink_) return;
  broadcast_.snapshot_begin();
  for (const auto& u : users)
    if (u.online) broadcast_.presence(u);
  broadcast_.snapshot_end();
  if (ask) broadcast_.ask();
  ++stats_.snapshots_sent;
  stats_.presence_published += users.size();
  publish_broadcast(broadcast_.take(), false);
}

void redis_bus::publish_broadcast(std::vector<std::string> payloads, bool lossy) {
  for (auto& payload : payloads) {
    main_->send({"PUBLISH", broadcast_channel_, payload}, [this, lossy](error_code ec, reply r) {
      // Maybe not published: presence heals at the next snapshot exchange, a user change
      // needs the other nodes to resync.
      if (lossy && (ec || r.is_error())) router_.mark_lost();
    });
  }
}

void redis_bus::schedule_flush() {
  if (flush_posted_ || stopped_) return;
  flush_posted_ = true;
  asio::post(io_, [this, alive = std::weak_ptr<char>(alive_)] {
    if (alive.expired()) return;
    flush_posted_ = false;
    flush();
  });
}

void redis_bus::flush() {
  if (stopped_ || !main_) return;
  if (!main_up_) {
    broadcast_.take();
    if (std::exchange(broadcast_lossy_, false)) router_.mark_lost();
    router_.drop_queued();
    release_visible_waiters();
    maybe_finish_shutdown();
    return;
  }

  // Presence changes of this turn (while not synced, sync() rewrites everything anyway).
  if (synced_) {
    presence_.write_changes(*main_);
    if (presence_.awaiting_visible()) {
      // Replies come in order: when this one arrives, the presence writes above are applied.
      main_->send({"PING"}, [waiters = presence_.take_waiters()](error_code, reply) mutable {
        for (auto& w : waiters) w();
      });
    }
  } else {
    release_visible_waiters();
  }

  publish_broadcast(broadcast_.take(), std::exchange(broadcast_lossy_, false));

  const bool started = router_.route_queued(
      *main_, draining_, [this] { return main_up_; }, [this] { maybe_finish_shutdown(); });
  if (!started) maybe_finish_shutdown();
}

void redis_bus::replay_to(const std::string& node, bool hello) {
  for (auto& payload : replay_.payloads_for(node, id_, hello)) router_.publish(*main_, node, std::move(payload), false);
}

// ---- receiving ------------------------------------------------------------------------

void redis_bus::on_remote_event(user_event&& ev) {
  if (!sink_) return;
  if (!synced_ && ev.type == user_event::kind::ephemeral) {
    ++stats_.ephemeral_dropped;  // stale by the time the resync is over
    if (options_.metrics) metrics::server_metrics::add(options_.metrics->ephemeral_dropped);
    return;
  }
  if (!synced_) {
    if (early_.size() < options_.max_queued_events)
      early_.push_back(std::move(ev));
    else
      ++stats_.early_dropped;
    return;
  }
  ++stats_.received_remote;
  sink_->deliver_local(ev);
}

void redis_bus::on_hello(std::string origin) {
  if (origin.empty() || origin == id_) return;
  // Not synced yet (or about to announce): answered with the announcement.
  if (synced_ && !announce_)
    replay_to(origin, false);
  else
    replay_.defer_hello(std::move(origin));
}

void redis_bus::on_revocation_push(std::string_view payload) {
  if (!sink_) return;
  auto decoded = decode_revocation(payload);
  if (!decoded) {
    ++stats_.decode_errors;
    spdlog::warn("cluster: malformed revocation ({} bytes) on node {}; resyncing", payload.size(), id_);
    request_resync();
    return;
  }
  if (decoded->origin == id_) return;  // handed to our sink when published
  ++stats_.revocations_received;
  sink_->revoked(decoded->r);
}

void redis_bus::on_broadcast_push(std::string_view payload) {
  if (!sink_) return;
  auto decoded = decode_broadcast(payload);
  if (!decoded) {
    // A user change may have been in it: the resync drops every cached profile.
    ++stats_.decode_errors;
    spdlog::warn("cluster: malformed broadcast ({} bytes) on node {}; resyncing", payload.size(), id_);
    request_resync();
    return;
  }
  const std::string& origin = decoded->origin;
  if (origin == id_) return;  // handed to our sink when published
  std::vector<presence_update> batch;
  // Consecutive updates go to the sink as one call; anything else hands over those before it.
  const auto hand_over = [&](std::vector<presence_update> updates) {
    if (updates.empty() || !sink_) return;
    stats_.presence_received += updates.size();
    sink_->presence_changed(origin, updates);
  };
  for (const auto& rec : decoded->records) {
    if (!sink_) return;  // the sink stopped us
    switch (rec.type) {
      case broadcast_record::kind::presence:
        // A snapshot may span several payloads: it is open until its end record.
        if (remote_presence_.in_snapshot(origin)) {
          remote_presence_.add_to_snapshot(origin, rec.update);
        } else {
          remote_presence_.apply(origin, rec.update);
          batch.push_back(rec.update);
        }
        break;
      case broadcast_record::kind::snapshot_begin:
        hand_over(std::exchange(batch, {}));
        remote_presence_.begin_snapshot(origin);
        break;
      case broadcast_record::kind::snapshot_end:
        hand_over(remote_presence_.end_snapshot(origin, clock_.now_ms()));
        break;
      case broadcast_record::kind::user_changed:
        hand_over(std::exchange(batch, {}));
        if (!sink_) return;
        ++stats_.user_changes_received;
        sink_->user_changed(rec.user);
        break;
      case broadcast_record::kind::ask:
        hand_over(std::exchange(batch, {}));
        // Not synced yet: our own sync publishes the snapshot anyway.
        if (synced_) publish_snapshot(false);
        break;
    }
  }
  hand_over(std::move(batch));
}

void redis_bus::on_push(std::string payload) {
  if (!sink_) return;
  auto res = decode_payload(
      payload, [this](user_event&& ev) { on_remote_event(std::move(ev)); },
      [this] {
        // Before our sync, the resync that follows it covers this one.
        if (synced_) request_resync();
      },
      [this](std::string_view origin, std::uint64_t seq, user_event&& ev) {
        if (!replay_.first_sight(origin, seq)) return;
        ++stats_.replays_received;
        on_remote_event(std::move(ev));
      },
      [this](std::string_view origin) { on_hello(std::string(origin)); });
  if (!res.ok) {
    ++stats_.decode_errors;
    spdlog::warn("cluster: malformed event payload ({} bytes) on node {}; resyncing", payload.size(), id_);
    request_resync();
  }
}

}  // namespace chatrix::cluster::redis
