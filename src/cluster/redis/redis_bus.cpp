// redis_bus: construction, life cycle (start, stop, shutdown), the recovery protocol
// (rewrite presence, then resync) after any loss of a Redis link, and receiving. Registry,
// presence, routing and notice replay live in the files named after them.
#include "cluster/redis/redis_bus.hpp"

#include "cluster/redis/bus_detail.hpp"
#include "cluster/redis/event_codec.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <random>
#include <stdexcept>
#include <utility>

namespace chatrix::cluster::redis {

namespace asio = boost::asio;
using boost::system::error_code;

using detail::now_ms;

namespace {

std::string random_node_id() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  static constexpr char hex[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = hex[v & 0xf];
  return s;
}

// Origins whose replayed notices we track (one entry per node that ever replayed to us; ids
// are random per process): cleared if it ever gets this large.
constexpr std::size_t max_replay_origins = 4096;

}  // namespace

redis_bus::redis_bus(asio::any_io_executor io, redis_bus_options options)
    : io_(io), options_(std::move(options)), heartbeat_timer_(io) {
  std::string why;
  auto addr = parse_redis_address(options_.address, &why);
  if (!addr) throw std::invalid_argument("REDISADDR '" + options_.address + "': " + why);
  address_ = std::move(*addr);
  id_ = options_.node_id.empty() ? random_node_id() : options_.node_id;
  nodes_key_ = options_.key_prefix + "nodes";
}

redis_bus::~redis_bus() { stop(); }

std::string redis_bus::node_key(std::string_view id) const {
  std::string k = options_.key_prefix;
  k += "node:";
  k += id;
  return k;
}

std::string redis_bus::presence_key(user_id id) const { return options_.key_prefix + "presence:" + std::to_string(id); }

std::string redis_bus::channel(std::string_view id) const { return node_key(id) + ":events"; }

node_info redis_bus::self_info() const {
  return node_info{id_, options_.advertised_address, started_at_, connections_, now_ms() + options_.lease_ttl.count()};
}

// ---- lifecycle -------------------------------------------------------------------------

void redis_bus::start(event_sink& sink) {
  if (main_ || stopped_) return;
  sink_ = &sink;
  started_at_ = now_ms();

  auto opts = options_.connection;
  opts.address = address_;
  opts.name = "chatrix-" + id_;
  main_ = redis_connection::create(io_, opts);
  main_->on_state([this](bool up) { on_main_state(up); });

  opts.name += "-sub";
  sub_ = redis_connection::create(io_, opts);
  sub_->subscribe(channel(id_), [this](std::string_view, std::string payload) { on_push(std::move(payload)); });
  sub_->on_state([this](bool up) { on_sub_state(up); });

  spdlog::info("cluster: node {} ({}) joining via Redis at {}", id_, options_.advertised_address,
               address_.to_string());
  main_->start();
  sub_->start();
  schedule_heartbeat();
}

void redis_bus::deregister() {
  main_->send({"DEL", node_key(id_)});
  main_->send({"ZREM", nodes_key_, id_});
  for (const auto& [uid, n] : local_) main_->send({"HDEL", presence_key(uid), id_});
}

void redis_bus::stop() {
  if (stopped_) return;
  stopped_ = true;
  heartbeat_timer_.cancel();
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
  queue_.clear();
  early_.clear();
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
  heartbeat_timer_.expires_after(options_.stop_timeout);
  heartbeat_timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](error_code ec) {
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
  if (draining_ && !stopped_ && queue_.empty() && inflight_events_ == 0 && !flush_posted_) finish_shutdown();
}

void redis_bus::finish_shutdown() {
  draining_ = false;
  if (!main_ || !main_up_) {
    stop();
    return;
  }
  // Deregister, and stop once Redis has confirmed it (or when the timer above fires).
  deregister();
  heartbeat_timer_.cancel();
  heartbeat_timer_.expires_after(options_.stop_timeout);
  heartbeat_timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](error_code ec) {
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
  if (main_) main_->close();
  if (sub_) sub_->close();
  sink_ = nullptr;
  queue_.clear();
  early_.clear();
  main_up_ = sub_up_ = synced_ = false;
}

// ---- link state and recovery ------------------------------------------------------------

void redis_bus::on_main_state(bool up) {
  main_up_ = up;
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
  if (!up) {
    // Events published to us from now on are lost until we are subscribed again.
    synced_ = false;
    ++sync_gen_;
    return;
  }
  if (main_up_) sync();
}

void redis_bus::sync() {
  // After a loss, Redis may have forgotten us (restart, or our lease ran out): rewrite the
  // registration and every presence entry, and only once Redis has them (the PING after
  // them returns) ask the sink to re-check the database. In that order, a message stored
  // meanwhile is either routed to us (presence visible) or found by the resync.
  const auto gen = ++sync_gen_;
  write_registration();
  for (user_id uid : dirty_)  // users who left meanwhile: their entries would outlive them
    if (!local_.contains(uid)) main_->send({"HDEL", presence_key(uid), id_});
  dirty_.clear();
  for (const auto& [uid, n] : local_) write_presence(uid, n);
  main_->send({"PING"}, [this, gen](error_code ec, reply) {
    if (ec || gen != sync_gen_ || !main_up_ || !sub_up_) return;
    synced_ = true;
    const bool recovered = ever_synced_;
    ever_synced_ = true;
    if (recovered) spdlog::info("cluster: node {} back on Redis; resyncing local devices", id_);
    // The first sync only matters for devices that attached before we were reachable.
    if (recovered || !local_.empty()) request_resync();
    // What arrived since the subscription came back goes after the resync began, so that the
    // sink holds it behind what the database still owes.
    auto early = std::move(early_);
    early_.clear();
    for (auto& ev : early) on_remote_event(std::move(ev));
    // Other nodes may have held notices for us (hello, after a loss), and we may hold some.
    announce_ = true;
    announce_hello_ = announce_hello_ || recovered;
    if (!dirty_.empty()) schedule_flush();
  });
  refresh_nodes();
  announce_after_ = refreshes_;  // the registry read just issued sees every node synced before us
}

void redis_bus::request_resync() {
  // Synchronous: the sink starts holding live events before the next event is handed over.
  // It coalesces the database re-checks itself.
  if (!sink_) return;
  ++stats_.resyncs;
  sink_->resync();
}

// ---- registry ---------------------------------------------------------------------------

// ---- receiving ------------------------------------------------------------------------

void redis_bus::on_remote_event(user_event&& ev) {
  if (!sink_) return;
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

void redis_bus::on_push(std::string payload) {
  if (!sink_) return;
  auto res = decode_payload(
      payload, [this](user_event&& ev) { on_remote_event(std::move(ev)); },
      [this] {
        // Before our sync, the resync that follows it covers this one.
        if (synced_) request_resync();
      },
      [this](std::string_view origin, std::uint64_t seq, user_event&& ev) {
        if (replays_seen_.size() >= max_replay_origins) replays_seen_.clear();
        auto& seen = replays_seen_[std::string(origin)];
        if (seq <= seen) return;
        seen = seq;
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
