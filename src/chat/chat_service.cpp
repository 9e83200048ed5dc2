// The chat domain service. Everything here runs on the I/O thread; the store works on its own
// threads and its callbacks are posted back (on_io), so no state below needs a lock.
#include "chat/chat_service.hpp"

#include "chat/await.hpp"
#include "core/log.hpp"
#include "core/spawn.hpp"
#include "protocol/limits.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

namespace chatrix::chat {

namespace asio = boost::asio;
using cluster::user_event;

namespace {

shared_frame make_frame(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

}  // namespace

template <class T, class Fn>
storage::callback<T> chat_service::on_io(Fn fn) {
  std::weak_ptr<bool> alive = alive_;
  return [io = io_, alive, fn = std::move(fn)](result<T> r) mutable {
    // Called exactly once, so the handler can take `fn` along instead of copying it.
    asio::post(io, [alive, fn = std::move(fn), r = std::move(r)]() mutable {
      if (alive.lock()) fn(std::move(r));
    });
  };
}

chat_service::chat_service(asio::any_io_executor io, storage::store& store, cluster::bus& bus,
                           const auth::token_codec& tokens, const clock& clock, metrics::server_metrics& metrics,
                           service_options options)
    : io_(std::move(io)),
      store_(store),
      bus_(bus),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      decode_limits_{options.max_content_bytes},
      users_(store),
      quota_(options.storage_quota),
      tokens_(io_, store, bus, tokens, clock, metrics),
      expiry_(
          io_, clock,
          [this](std::uint64_t id, std::int64_t deadline_s) {
            auto* d = find_device(id);
            return d && token_deadline(d->token) == deadline_s;
          },
          [this](std::uint64_t id) {
            if (auto* d = find_device(id)) end_for_token(*d, "token expired");
          }),
      http_sends_(options.http_send_limit),
      receipts_timer_(io_),
      typing_timer_(io_),
      here_(options.presence_grace),
      presence_timer_(io_) {
  bus_.start(*this);
}

chat_service::~chat_service() { bus_.stop(); }

// ---- sessions ----

asio::awaitable<result<authenticated>> chat_service::authenticate(std::string_view first_frame,
                                                                  bool* explicit_acks) {
  auto req = protocol::decode_auth(first_frame);
  if (!req) co_return req.error();
  auto claims = tokens_.check(req->token);
  if (!claims) co_return claims.error();
  auto found = co_await users_.by_id(claims->subject);
  if (!found) co_return found.error();
  if (!*found || (*found)->deleted) {
    metrics::server_metrics::add(metrics_.bad_tokens);
    co_return make_error(errc::unauthorized, "the token's user does not exist");
  }
  // Checked again after the wait: a revocation may have come meanwhile, and from attach() on
  // the device is in devices_, where revoked() finds it.
  if (tokens_.revoked(*claims)) {
    metrics::server_metrics::add(metrics_.bad_tokens);
    co_return make_error(errc::unauthorized, "token revoked");
  }
  if (explicit_acks) *explicit_acks = req->explicit_acks;
  co_return authenticated{**found, std::move(*claims), req->since};
}

asio::awaitable<void> chat_service::attach(connection& conn, auth::token_claims token, std::optional<stream_pos> since) {
  const user me = conn.account();
  const auto id = conn.device_id();
  const auto deadline = token_deadline(token);
  devices_[id] = device{&conn};
  devices_[id].token = std::move(token);
  devices_by_user_[me.id].push_back(id);
  expiry_.watch(id, deadline);
  metrics_.connections_open.fetch_add(1, std::memory_order_relaxed);

  // Only once other nodes route this user's messages here may the pending query run;
  // otherwise a message stored elsewhere in between would reach neither path.
  co_await await_callback<bool>([&](auto done) {
    bus_.device_connected(me.id, [done] { done(true); });
  });
  // The read below covers every pending message (or stream event) stored until now; a resync
  // while it runs sets recheck again, and catch_up reads once more.
  if (auto* d = find_device(id)) d->recheck = false;
  // A `since` that is no position gets the same answer as an expired one, without a read.
  const bool resumes = since && *since != protocol::unusable_since;
  auto start = co_await await_callback<storage::session_snapshot>([&](auto done) {
    if (resumes)
      store_.session_resume(me.id, protocol::max_previews, *since, options_.pending_page, options_.pending_page, done);
    else
      store_.session_start(me.id, protocol::max_previews, options_.pending_page, done);
  });
  // PROFILE_INFO goes out with CHATPREVIEWS, in the same write: one system call less for
  // every connection.
  conn.send(make_frame(protocol::encode_profile(me)));
  if (!start) {
    send_error(conn, start.error(), static_cast<int>(protocol::event::chat_previews));
    // The pending messages are read on their own below, and a failure reported.
    if (auto* d = find_device(id)) d->recheck = true;
  } else {
    if (!find_device(id)) co_return;
    for (const auto& p : start->previews) users_.remember(p.peer);
    // The snapshot's block relations are the newest this node has of the user: no read of
    // their own for the typing and presence filters.
    people_.set(me, &start->blocks);
    watch_previews(me, start->previews);
    conn.send(make_frame(protocol::encode_previews(start->previews)));
    const bool alive = since ? co_await resume_stream(id, me, *since, *start) : co_await start_fresh(id, me, *start);
    if (!alive) co_return;
  }
  if (!people_.profile(me.id)) people_.set(me, nullptr);
  // After SYNCED (or the ERR that stood in for it): watchers hear of a device that is in sync.
  announce(me.id);
  co_await catch_up(id, me, /*report_errors=*/true);
}

asio::awaitable<void> chat_service::catch_up(std::uint64_t device_id, user me, bool report_errors) {
  for (;;) {
    auto* d = find_device(device_id);
    if (!d) co_return;
    if (d->recheck) {
      // A resync may come while the pages go out (the loss happened meanwhile): read again.
      d->recheck = false;
      stream_pos latest = 0;
      std::optional<stream_page> nothing_read;  // a named local: see await.hpp on prvalues
      const bool alive = d->replays_stream
                             ? co_await replay_stream(device_id, me, d->positions.through(), std::move(nothing_read),
                                                      report_errors, latest)
                             : co_await push_pending(device_id, me, report_errors);
      if (!alive) co_return;
      continue;
    }
    // Live events that arrived meanwhile, as fast as the device reads; more may arrive while
    // these go out, so the device stays in sync mode until the list is empty.
    if (d->held.empty()) {
      d->syncing = false;
      d->held_before_synced = 0;
      co_return;
    }
    auto held = std::move(d->held);
    d->held.clear();
    for (const auto& ev : held) {
      d = co_await wait_for_room(device_id, ev.frame->size());
      if (!d) co_return;
      send_now(*d, ev);
    }
  }
}

asio::awaitable<chat_service::device*> chat_service::wait_for_room(std::uint64_t device_id, std::size_t bytes) {
  // The queue may hold at most this much before `bytes` are added (an empty one always may).
  const std::size_t room = bytes < options_.pending_queue_watermark ? options_.pending_queue_watermark - bytes : 0;
  for (;;) {
    // Looked up afresh after every wait: the caller need not be keeping the session alive.
    auto* d = find_device(device_id);
    if (!d || !d->conn->is_open()) co_return nullptr;
    if (d->conn->queued_bytes() <= room) co_return d;
    // Woken by the write that drains the queue that far, or by the close.
    auto& conn = *d->conn;
    co_await await_callback<bool>([&](auto done) { conn.when_queue_at_most(room, [done] { done(true); }); });
  }
}

void chat_service::when_texts_settled(std::function<void()> settled) {
  if (texts_in_flight_ == 0) {
    settled();
    return;
  }
  texts_settled_ = std::move(settled);
}

bool chat_service::may_read(const connection& conn) const {
  auto it = devices_.find(conn.device_id());
  return it == devices_.end() || it->second.in_flight < options_.max_in_flight_per_device;
}

void chat_service::recent_ids::insert(message_id id) {
  if (!set_.insert(id).second) return;
  if (ring_.size() < capacity) {
    ring_.push_back(id);
    return;
  }
  set_.erase(ring_[next_]);
  ring_[next_] = id;
  next_ = (next_ + 1) % capacity;
}

void chat_service::detach(connection& conn) {
  const auto id = conn.device_id();
  if (auto* d = find_device(id); d && d->limits)
    left_over_.keep(conn.account().id, *d->limits, std::chrono::steady_clock::now());
  if (devices_.erase(id) == 0) return;
  const auto uid = conn.account().id;
  publish_typing_ended(typing_.device_gone(id));
  if (auto it = devices_by_user_.find(uid); it != devices_by_user_.end()) {
    std::erase(it->second, id);
    if (it->second.empty()) {
      devices_by_user_.erase(it);
      depart(uid);
    }
  }
  bus_.device_disconnected(uid);
  metrics_.connections_open.fetch_sub(1, std::memory_order_relaxed);
}

chat_service::device* chat_service::find_device(std::uint64_t id) {
  auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : &it->second;
}

asio::awaitable<bool> chat_service::push_pending(std::uint64_t id, const user& me, bool report_errors,
                                                 message_id after) {
  for (;;) {
    auto page = co_await await_callback<std::vector<message>>(
        [&](auto done) { store_.pending_messages(me.id, after, options_.pending_page, done); });
    auto* d = find_device(id);
    if (!d) co_return false;
    if (!page) {
      // The messages stay pending: they come with the next resync or connection.
      if (report_errors) send_error(*d->conn, page.error());
      co_return true;
    }
    if (!co_await push_page(id, me, *page)) co_return false;
    if (page->size() < static_cast<std::size_t>(options_.pending_page)) co_return true;
    after = page->back().id;
  }
}

asio::awaitable<bool> chat_service::push_page(std::uint64_t id, const user& me, const std::vector<message>& page) {
  for (const auto& m : page) {
    auto from = co_await users_.by_id(m.sender);
    if (!from || !*from) continue;  // the sender is gone; nothing sensible to render
    start_watching(me.id, **from);  // a conversation started while the device was away or attaching
    auto frame = make_frame(protocol::encode_text({m, **from, me}));
    // A long backlog goes out as fast as the device reads, so that it never trips the
    // slow-consumer limit by itself.
    auto* dev = co_await wait_for_room(id, frame->size());
    if (!dev) co_return false;
    push_message(*dev, m.id, frame);
    metrics::server_metrics::add(metrics_.pending_pushed);
  }
  co_return find_device(id) != nullptr;
}

void chat_service::user_changed(user_id id) {
  users_.forget(id);
  if (!people_.profile(id) && !watchers_.subject(id)) return;
  spawn_logged(io_, refresh_person(id), "chat: reading a changed user again");
}

void chat_service::publish_user_changed(user_id id) { bus_.publish_user_changed(id); }

void chat_service::resync() {
  // Profile and block changes may have been lost on the way too: the profiles are read again
  // as needed, the block relations of the users with a device here at once.
  users_.clear();
  std::vector<user_id> local;
  local.reserve(devices_by_user_.size());
  for (const auto& entry : devices_by_user_) local.push_back(entry.first);
  spawn_logged(io_, refresh_people(std::move(local)), "chat: reading users again after a resync");
  // Revocations the bus lost are in the store: read them again, then end the devices whose
  // tokens they revoke.
  tokens_.reload([this] {
    std::vector<std::uint64_t> revoked_devices;
    for (auto& [id, d] : devices_)
      if (tokens_.revoked(d.token)) revoked_devices.push_back(id);
    for (auto id : revoked_devices)
      if (auto* d = find_device(id)) end_for_token(*d, "token revoked");
  });
  for (auto& [id, d] : devices_) {
    // Live events that come from now on may be newer than lost ones: held until the
    // database has been read again.
    d.recheck = true;
    if (d.syncing) continue;  // attaching or catching up: it reads again before releasing
    d.syncing = true;
    // A device that cannot be brought back in sync is cut off rather than left holding its
    // live events for ever; it reads what is pending when it reconnects. (`id = id`: clang 14,
    // the fuzz build's compiler, cannot capture a structured binding by name.)
    spawn_logged(io_, catch_up(id, d.conn->account(), /*report_errors=*/false), "chat: catching up after a resync",
                 [this, id = id] {
                   if (auto* failed = find_device(id)) failed->conn->close_for_error();
                 });
  }
}

bool chat_service::push_message(device& d, message_id id, const shared_frame& frame) {
  if (d.sent.contains(id)) return false;
  d.sent.insert(id);
  d.conn->send(frame, d.conn->explicit_acks() ? 0 : id);
  return true;
}

// ---- frames ----

asio::awaitable<void> chat_service::handle_frame(connection& conn, std::string_view text) {
  metrics::server_metrics::add(metrics_.frames_received);
  auto decoded = protocol::decode(text, decode_limits_);
  if (!decoded) {
    const auto& fe = decoded.error();
    send_error(conn, fe.err, fe.ref_type, fe.mark);
    co_return;
  }
  auto& frame = *decoded;
  if (auto* t = std::get_if<protocol::text_request>(&frame)) {
    co_await on_text(conn, std::move(*t));
  } else if (auto* m = std::get_if<protocol::mark_read_request>(&frame)) {
    co_await on_mark_read(conn, std::move(*m));
  } else if (auto* s = std::get_if<protocol::search_request>(&frame)) {
    co_await on_search(conn, std::move(*s));
  } else if (auto* h = std::get_if<protocol::history_request>(&frame)) {
    co_await on_history(conn, *h);
  } else if (auto* a = std::get_if<protocol::ack_request>(&frame)) {
    on_ack(conn, *a);
  } else if (auto* r = std::get_if<protocol::refresh_token_request>(&frame)) {
    on_refresh_token(conn, *r);
  } else if (auto* p = std::get_if<protocol::previews_request>(&frame)) {
    co_await on_previews(conn, *p);
  } else if (auto* e = std::get_if<protocol::edit_message_request>(&frame)) {
    co_await on_edit(conn, std::move(*e));
  } else if (auto* del = std::get_if<protocol::delete_messages_request>(&frame)) {
    co_await on_delete(conn, std::move(*del));
  } else if (auto* typing = std::get_if<protocol::typing_request>(&frame)) {
    co_await on_typing(conn, std::move(*typing));
  }
}

void chat_service::refuse_frame(connection& conn, const error& err) { send_error(conn, err); }

send_request chat_service::make_send_request(user_id sender, user_id recipient, protocol::text_request& req,
                                              unix_ms now) const {
  send_request sreq;
  sreq.sender = sender;
  sreq.recipient = recipient;
  sreq.content = std::move(req.content);
  sreq.mark = req.mark;
  sreq.now = now;
  sreq.retry_window = options_.retry_window.count();
  sreq.reply_to = req.reply_to;
  sreq.attachment = std::move(req.attachment);
  return sreq;
}

void chat_service::text_settled() {
  if (--texts_in_flight_ == 0 && texts_settled_) std::exchange(texts_settled_, nullptr)();
}

asio::awaitable<result<user>> chat_service::resolve_recipient(const user& me, const std::optional<std::string>& to_username,
                                                             std::optional<user_id> to_id) {
  std::optional<user> to;
  if (to_id) {
    auto r = co_await users_.by_id(*to_id);
    if (!r) co_return r.error();
    if (!*r || (*r)->deleted) {
      co_return make_error(errc::unknown_recipient, "no user with id " + std::to_string(*to_id));
    }
    to = **r;
  }
  if (to_username) {
    auto r = co_await users_.by_name(*to_username);
    if (!r) co_return r.error();
    if (!*r) co_return make_error(errc::unknown_recipient, "no user named '" + *to_username + "'");
    if (to && to->id != (*r)->id) co_return make_error(errc::recipient_mismatch, "to and to_id name different users");
    to = **r;
  }
  if (!to) co_return make_error(errc::invalid_field, "to or to_id is required");
  if (to->id == me.id) co_return make_error(errc::self_message, "you cannot send a message to yourself");
  co_return *to;
}

asio::awaitable<void> chat_service::on_text(connection& conn, protocol::text_request req) {
  constexpr int ref = static_cast<int>(protocol::event::text);
  // The start of both send latencies; it travels with the store call's callback.
  const auto taken = std::chrono::steady_clock::now();
  // Before anything that could reach the store, the recipient's lookup included.
  if (!admit_text(conn, req.mark)) co_return;
  const user me = conn.account();
  auto to = co_await resolve_recipient(me, req.to_username, req.to_id);
  if (!to) co_return send_error(conn, to.error(), ref, req.mark);

  const unix_ms now = clock_.now_ms();
  const std::size_t bytes = req.content.size();
  if (!charge_quota(conn, bytes, now, req.mark)) co_return;

  send_request sreq = make_send_request(me.id, to->id, req, now);
  // Queued in frame order; the store commits in call order, so one sender's messages are
  // stored, acknowledged and delivered in the order sent.
  if (auto* d = find_device(conn.device_id())) ++d->in_flight;
  ++texts_in_flight_;
  store_.append_message(std::move(sreq),
                        on_io<send_result>([this, device = conn.device_id(), me, recipient = *to,
                                            mark = std::move(req.mark), bytes, now, taken](result<send_result> r) {
                          on_stored(device, me, recipient, mark, bytes, now, taken, std::move(r));
                        }));
}

// ---- limits ----

device_limits* chat_service::limits_of(const connection& conn) {
  auto* d = find_device(conn.device_id());
  if (!d) return nullptr;
  if (!d->limits) {
    const auto now = std::chrono::steady_clock::now();
    d->limits = std::make_unique<device_limits>(options_.device_limits, now);
    left_over_.resume(conn.account().id, *d->limits, now);
  }
  return d->limits.get();
}

bool chat_service::admit_text(connection& conn, const std::optional<std::string>& mark, protocol::event ref) {
  auto* limits = limits_of(conn);
  if (!limits) return true;
  const auto now = std::chrono::steady_clock::now();
  const auto verdict = limits->take_text(now);
  if (verdict.outcome == device_limits::text_outcome::accepted) return true;
  metrics::server_metrics::add(metrics_.limited_messages);
  const auto wait = verdict.retry_after.count();
  if (verdict.outcome == device_limits::text_outcome::flooding) {
    metrics::server_metrics::add(metrics_.flood_disconnects);
    log::write(spdlog::level::warn, log::connection(conn.device_id(), conn.client_address()),
               "user {}: rate-limited: closed, TEXTs refused past MESSAGE_FLOOD_LIMIT", conn.account().id);
    conn.end_session(make_limited(errc::rate_limited, "too many messages refused; closing", wait));
    return false;
  }
  if (limits->warning_due(now))
    log::write(spdlog::level::warn, log::connection(conn.device_id(), conn.client_address()),
               "user {}: rate-limited: TEXT over MESSAGE_RATE/MESSAGE_BURST", conn.account().id);
  send_error(conn, make_limited(errc::rate_limited, "too many messages; retry after retry_after_ms", wait),
             static_cast<int>(ref), mark);
  return false;
}

bool chat_service::charge_quota(connection& conn, std::size_t bytes, unix_ms now,
                                const std::optional<std::string>& mark, protocol::event ref) {
  const auto wait = quota_.charge(conn.account().id, bytes, now);
  if (wait.count() == 0) return true;
  metrics::server_metrics::add(metrics_.quota_exceeded);
  if (auto* limits = limits_of(conn); limits && limits->warning_due(std::chrono::steady_clock::now()))
    log::write(spdlog::level::warn, log::connection(conn.device_id(), conn.client_address()),
               "user {}: rate-limited: STORAGE_QUOTA used up for today", conn.account().id);
  send_error(conn,
             make_limited(errc::quota_exceeded, "today's storage quota is used up; it starts again at 00:00 UTC",
                          wait.count()),
             static_cast<int>(ref), mark);
  return false;
}

void chat_service::refuse_read(connection& conn, std::chrono::milliseconds wait, protocol::event type) {
  metrics::server_metrics::add(metrics_.limited_reads);
  if (auto* limits = limits_of(conn); limits && limits->warning_due(std::chrono::steady_clock::now()))
    log::write(spdlog::level::warn, log::connection(conn.device_id(), conn.client_address()),
               "user {}: rate-limited: {}", conn.account().id,
               type == protocol::event::search_request ? "SEARCH_LIMIT" : "HISTORY_LIMIT");
  send_error(conn, make_limited(errc::rate_limited, "too many requests; retry after retry_after_ms", wait.count()),
             static_cast<int>(type));
}

void chat_service::on_stored(std::uint64_t device_id, const user& sender, const user& recipient,
                             const std::optional<std::string>& mark, std::size_t charged, unix_ms charged_at,
                             std::chrono::steady_clock::time_point taken, result<send_result> r) {
  auto* d = find_device(device_id);
  // Just below the cap again: the transport, which stopped reading at the cap, reads on.
  if (d && --d->in_flight == options_.max_in_flight_per_device - 1) d->conn->may_read_again();
  text_settled();
  // Only what was stored counts: a retry is the message already charged, a failure stored nothing.
  if (!r || r->duplicate) quota_.refund(sender.id, charged, charged_at);
  if (!r) {
    metrics::server_metrics::add(metrics_.store_errors);
    if (d) send_error(*d->conn, r.error(), static_cast<int>(protocol::event::text), mark);
    return;
  }
  const auto& stored = r->stored;
  if (d) {
    // The sending device's copy of its user's `message` event.
    const auto entry = std::find_if(r->stream.begin(), r->stream.end(), [&](const stream_entry& e) {
      return e.owner == sender.id && e.kind == stream_kind::message;
    });
    const stream_pos pos = entry == r->stream.end() ? 0 : entry->pos;
    d->positions.take(pos);
    d->conn->send(make_frame(protocol::encode_delivered(stored, mark, r->duplicate, pos)));
    metrics_.send_stored.observe_since(taken);
  }
  if (r->duplicate) {
    metrics::server_metrics::add(metrics_.messages_duplicate);
    // The original's publish may have been lost with its node (which died after the commit),
    // so it is published again while still pending; devices that had it drop the repeat.
    if (stored.delivered_at) return;
  } else {
    metrics::server_metrics::add(metrics_.messages_stored);
  }
  publish_stored(*r, sender, recipient, device_id, taken);
}

void chat_service::publish_stored(const send_result& r, const user& sender, const user& recipient,
                                  std::uint64_t device_id, std::chrono::steady_clock::time_point taken) {
  const auto& stored = r.stored;
  const protocol::message_view view{stored, sender, recipient};
  // Each frame carries the pos of its receiver's `message` event (none for a duplicate,
  // which wrote no event: devices drop it by id if they had it).
  auto pos_of = [&](user_id owner) -> stream_pos {
    for (const auto& e : r.stream)
      if (e.owner == owner && e.kind == stream_kind::message) return e.pos;
    return 0;
  };
  // An offline recipient's message simply stays pending; a withheld one (the recipient
  // blocked the sender) goes to the sender's devices only.
  if (!r.withheld && reachable(recipient.id)) {
    const auto pos = pos_of(recipient.id);
    bus_.publish(user_event{recipient.id, user_event::kind::message, stored.id, 0,
                            make_frame(protocol::encode_text(view, protocol::event::text, pos)), taken, pos});
  }
  if (reachable(sender.id, device_id)) {
    const auto pos = pos_of(sender.id);
    bus_.publish(user_event{sender.id, user_event::kind::notice, stored.id, device_id,
                            make_frame(protocol::encode_text(view, protocol::event::sent, pos)), {}, pos});
  }
  if (observer_ && !r.duplicate && !r.withheld) observer_->stored(stored, sender, recipient);
  conversations_.remember(sender.id, recipient.id, stored.conversation);
  // A conversation started meanwhile: each of them watches the other from now on (a
  // withheld message starts nothing for the recipient, who never sees it).
  start_watching(sender.id, recipient);
  if (!r.withheld) start_watching(recipient.id, sender);
}

bool chat_service::reachable(user_id uid, std::uint64_t except_device) const {
  if (bus_.spans_nodes()) return true;
  auto it = devices_by_user_.find(uid);
  if (it == devices_by_user_.end()) return false;
  return it->second.size() > 1 || it->second.front() != except_device;
}

asio::awaitable<void> chat_service::on_mark_read(connection& conn, protocol::mark_read_request req) {
  if (req.ids.empty()) co_return;
  const auto me = conn.account().id;
  const auto now = clock_.now_ms();
  auto r = co_await await_callback<read_result>(
      [&](auto done) { store_.mark_read(me, std::move(req.ids), now, done); });
  if (!r) co_return send_error(conn, r.error(), static_cast<int>(protocol::event::mark_read));
  metrics::server_metrics::add(metrics_.messages_delivered, r->delivered.size());
  metrics::server_metrics::add(metrics_.messages_read, r->read.size());
  publish_receipts(r->stream, me, now, conn.device_id());
}

asio::awaitable<void> chat_service::on_search(connection& conn, protocol::search_request req) {
  if (auto* limits = limits_of(conn)) {
    if (const auto wait = limits->take_search(std::chrono::steady_clock::now()); wait.count() > 0)
      co_return refuse_read(conn, wait, protocol::event::search_request);
  }
  if (req.fragment.empty()) {
    conn.send(make_frame(protocol::encode_search({})));
    co_return;
  }
  auto r = co_await await_callback<std::vector<user>>(
      [&](auto done) { store_.search_users(std::move(req.fragment), req.limit, done); });
  if (!r) co_return send_error(conn, r.error(), static_cast<int>(protocol::event::search_request));
  conn.send(make_frame(protocol::encode_search(*r)));
}

asio::awaitable<void> chat_service::on_history(connection& conn, protocol::history_request req) {
  if (auto* limits = limits_of(conn)) {
    if (const auto wait = limits->take_history(std::chrono::steady_clock::now()); wait.count() > 0)
      co_return refuse_read(conn, wait, protocol::event::history_request);
  }
  const auto me = conn.account().id;
  if (req.user1 != me && req.user2 != me)
    co_return send_error(conn, make_error(errc::forbidden, "you can only load conversations you are part of"),
                         static_cast<int>(protocol::event::history_request));
  const user_id peer = req.user1 == me ? req.user2 : req.user1;
  auto r = co_await await_callback<std::vector<message>>(
      [&](auto done) { store_.history(me, peer, req.before, req.limit, done); });
  if (!r) co_return send_error(conn, r.error(), static_cast<int>(protocol::event::history_request));
  conn.send(make_frame(protocol::encode_history(*r)));
}

// ---- token lifecycle ----

std::int64_t chat_service::token_deadline(const auth::token_claims& token) {
  constexpr std::int64_t leeway = auth::token_leeway.count();
  // exp of a token minted elsewhere may be anything up to int64.
  return token.expires_at > std::numeric_limits<std::int64_t>::max() - leeway ? std::numeric_limits<std::int64_t>::max()
                                                                               : token.expires_at + leeway;
}

void chat_service::on_refresh_token(connection& conn, const protocol::refresh_token_request& req) {
  constexpr int ref = static_cast<int>(protocol::event::refresh_token);
  auto* d = find_device(conn.device_id());
  if (!d) return;
  auto claims = tokens_.check(req.token);
  if (claims && claims->subject != conn.account().id) {
    metrics::server_metrics::add(metrics_.bad_tokens);
    claims = make_error(errc::unauthorized, "the token is for another user");
  }
  // Not logged here: a client could send refusals as fast as it likes (check() logs them,
  // rate limited, and both count in chatrix_bad_tokens_total).
  if (!claims) return send_error(conn, claims.error(), ref);
  const auto deadline = token_deadline(*claims);
  conn.send(make_frame(protocol::encode_token_refreshed(claims->expires_at)));
  d->token = std::move(*claims);
  expiry_.watch(conn.device_id(), deadline);
}

void chat_service::revoked(const cluster::revocation& r) {
  tokens_.apply(r);
  auto it = devices_by_user_.find(r.user);
  if (it == devices_by_user_.end()) return;
  // end_session only queues the ERR and the close; the device leaves devices_ later, when its
  // reader ends, so the list is not changed under this loop.
  for (auto id : it->second)
    if (auto* d = find_device(id); d && tokens_.revoked(d->token)) end_for_token(*d, "token revoked");
}

void chat_service::end_for_token(device& d, std::string_view reason) {
  if (d.ended_for_token || !d.conn->is_open()) return;
  d.ended_for_token = true;
  metrics::server_metrics::add(metrics_.sessions_closed_token);
  log::write(spdlog::level::info, log::connection(d.conn->device_id(), d.conn->client_address()),
             "user {}: {}, session closed", d.conn->account().id, reason);
  d.conn->end_session(make_error(errc::unauthorized, std::string(reason)));
}

// ---- delivery tracking ----

void chat_service::on_ack(connection& conn, const protocol::ack_request& req) {
  // Ids that are not messages to this user are ignored by the store (it only marks messages
  // addressed to the recipient), so an ACK cannot touch anyone else's messages.
  for (auto id : req.ids) queue_receipt(conn.account().id, id);
}

void chat_service::on_written(connection& conn, message_id receipt) { queue_receipt(conn.account().id, receipt); }

void chat_service::queue_receipt(user_id recipient, message_id id) {
  if (observer_) observer_->received(recipient, id);
  receipts_[recipient].push_back(id);
  if (receipts_flush_scheduled_) return;
  receipts_flush_scheduled_ = true;
  std::weak_ptr<bool> alive = alive_;
  receipts_timer_.expires_after(options_.receipt_delay);
  receipts_timer_.async_wait([this, alive](boost::system::error_code ec) {
    if (!ec && alive.lock()) flush_receipts();
  });
}

void chat_service::flush_receipts() {
  if (std::exchange(receipts_flush_scheduled_, false)) receipts_timer_.cancel();
  auto batch = std::move(receipts_);
  receipts_.clear();
  const auto now = clock_.now_ms();
  for (auto& [recipient, ids] : batch) {
    // `recipient = recipient`: clang 14 cannot capture a structured binding by name.
    store_.mark_delivered(recipient, std::move(ids), now,
                          on_io<delivered_result>([this, recipient = recipient](result<delivered_result> r) {
                            on_marked_delivered(recipient, std::move(r));
                          }));
  }
}

void chat_service::on_marked_delivered(user_id recipient, result<delivered_result> r) {
  if (!r) {
    // The messages stay pending and are pushed again on the recipient's next connection.
    metrics::server_metrics::add(metrics_.store_errors);
    spdlog::warn("recording delivery to user {} failed: {}", recipient, r.error().message);
    return;
  }
  metrics::server_metrics::add(metrics_.messages_delivered, r->delivered.size());
  const auto now = clock_.now_ms();
  publish_receipts(r->stream, recipient, now, 0);
}

void chat_service::deliver_local(const user_event& ev) {
  auto it = devices_by_user_.find(ev.to);
  if (it == devices_by_user_.end()) return;
  if (ev.type == user_event::kind::message) watch_sender_of(ev);
  for (auto id : it->second) {
    if (id == ev.skip_device) continue;
    if (auto* d = find_device(id)) send_to_device(*d, ev);
  }
}

void chat_service::send_to_device(device& d, const user_event& ev) {
  if (ev.type == user_event::kind::ephemeral) return send_ephemeral(d, ev);
  if (d.syncing) {
    // Nothing may overtake PROFILE_INFO, CHATPREVIEWS and the pending backlog.
    if (d.held.size() >= options_.max_held_events) {
      if (!std::exchange(d.held_overflowed, true)) {
        metrics::server_metrics::add(metrics_.slow_consumer_disconnects);
        spdlog::warn("device {} of user {} fell {} events behind while catching up; closing it", d.conn->device_id(),
                     d.conn->account().id, d.held.size());
        d.conn->close_for_error();
      }
      return;
    }
    d.held.push_back(ev);
    return;
  }
  send_now(d, ev);
}

void chat_service::send_now(device& d, const user_event& ev) {
  if (!admit_position(d, ev.pos)) return;
  if (ev.type == user_event::kind::message) {
    // Measured where the TEXT was taken (an event from another node carries no start), once
    // per device that gets it, including after a sync held it back: that wait is the user's.
    if (push_message(d, ev.msg, ev.frame) && ev.taken != std::chrono::steady_clock::time_point{})
      metrics_.send_delivered.observe_since(ev.taken);
  } else if (ev.msg != 0) {
    // A SENT copy: it may come again (a retry of a message whose first publish was lost, or
    // a notice replayed after an outage), so it is filtered like messages (without receipt).
    if (d.sent.contains(ev.msg)) return;
    d.sent.insert(ev.msg);
    d.conn->send(ev.frame);
  } else {
    d.conn->send(ev.frame);
  }
}

void chat_service::send_error(connection& conn, const error& err, int ref_type, const std::optional<std::string>& mark) {
  metrics::server_metrics::add(metrics_.errors_sent);
  metrics_.error_sent(err.code);
  if (err.code == errc::internal || err.code == errc::unavailable)
    log::write(spdlog::level::warn, log::connection(conn.device_id(), conn.client_address()), "user {}: {}: {}",
               conn.account().id, code_name(err.code), err.message);
  conn.send(make_frame(protocol::encode_error(err, ref_type, mark)));
}

}  // namespace chatrix::chat
