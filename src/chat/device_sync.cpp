// Device sync (docs/protocol.md, "Sync"): what a device gets between CHATPREVIEWS and live
// events (the stream after its `since`, or the pending messages), SYNCED, the positions every
// stream-event frame carries and the bookkeeping that sends each event to a device once, the
// read state across a user's devices, and CHATPREVIEWS on request.
#include "chat/await.hpp"
#include "chat/chat_service.hpp"
#include "protocol/message_changes_codec.hpp"
#include "protocol/sync_codec.hpp"

#include <algorithm>

namespace chatrix::chat {

namespace asio = boost::asio;
using cluster::user_event;

namespace {

shared_frame make_frame(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

}  // namespace

asio::awaitable<bool> chat_service::start_fresh(std::uint64_t device_id, const user& me,
                                                const storage::session_snapshot& start) {
  const bool more = !start.pending.empty() && start.pending.size() >= static_cast<std::size_t>(options_.pending_page);
  const message_id last = more ? start.pending.back().id : 0;
  if (!start.pending.empty() && !co_await push_page(device_id, me, start.pending)) co_return false;
  if (more && !co_await push_pending(device_id, me, /*report_errors=*/true, last)) co_return false;
  auto* d = find_device(device_id);
  if (!d) co_return false;
  d->held_before_synced = start.latest;
  send_synced(*d, start.latest);
  co_return true;
}

asio::awaitable<bool> chat_service::resume_stream(std::uint64_t device_id, const user& me, stream_pos since,
                                                  storage::session_snapshot& start) {
  auto* d = find_device(device_id);
  if (!d) co_return false;
  if (since == protocol::unusable_since || !start.stream || start.stream->expired) {
    // The client refreshes from previews and history; the session carries on as without since.
    send_error(*d->conn, make_error(errc::sync_expired,
                                    "since is older than the server keeps, or not a position it issued; "
                                    "refresh from previews and history"));
    co_return co_await start_fresh(device_id, me, start);
  }
  d->replays_stream = true;
  d->positions.have_through(since);
  stream_pos latest = 0;
  if (!co_await replay_stream(device_id, me, since, std::move(start.stream), /*report_errors=*/true, latest))
    co_return false;
  d = find_device(device_id);
  if (!d) co_return false;
  send_synced(*d, std::max(latest, d->positions.through()));
  co_return true;
}

asio::awaitable<bool> chat_service::replay_stream(std::uint64_t device_id, const user& me, stream_pos after,
                                                  std::optional<stream_page> first, bool report_errors,
                                                  stream_pos& latest) {
  peers_by_conversation peers;
  for (;;) {
    std::optional<stream_page> page = std::move(first);
    first.reset();
    if (!page) {
      auto read = co_await await_callback<stream_page>(
          [&](auto done) { store_.stream_events(me.id, after, options_.pending_page, done); });
      auto* d = find_device(device_id);
      if (!d) co_return false;
      if (!read) {
        // Nothing was lost: the events stay in the stream for the next resync or connection.
        metrics::server_metrics::add(metrics_.store_errors);
        if (report_errors) send_error(*d->conn, read.error());
        co_return true;
      }
      page = std::move(*read);
    }
    if (page->expired) {
      // Its mark was pruned meanwhile (a connection older than SYNC_RETENTION): what is
      // pending still reaches it, as for a device without positions.
      co_return co_await push_pending(device_id, me, report_errors);
    }
    for (const auto& ev : page->events)
      if (!co_await push_stream_event(device_id, me, ev, peers)) co_return false;
    if (page->events.size() < static_cast<std::size_t>(options_.pending_page)) {
      // Only a complete read vouches for the newest position (SYNCED claims everything up to it).
      latest = std::max(latest, page->latest);
      co_return true;
    }
    after = page->events.back().entry.pos;
  }
}

asio::awaitable<bool> chat_service::push_stream_event(std::uint64_t device_id, const user& me, const stream_event& ev,
                                                      peers_by_conversation& peers) {
  const auto& e = ev.entry;
  if (auto* d = find_device(device_id); !d || d->positions.had(e.pos)) co_return d != nullptr;
  // An event with nothing to show still counts as had, so the positions stay contiguous.
  auto skip = [&] {
    auto* d = find_device(device_id);
    if (d) d->positions.take(e.pos);
    return d != nullptr;
  };
  shared_frame frame;
  message_id text_id = 0;  // a TEXT to this user: sent with a receipt, once per message id
  switch (e.kind) {
    case stream_kind::message: {
      if (ev.messages.empty()) co_return skip();
      const auto& m = ev.messages.front();
      const bool to_me = m.recipient == me.id;
      peers[m.conversation] = to_me ? m.sender : m.recipient;
      auto other = co_await users_.by_id(to_me ? m.sender : m.recipient);
      if (!other || !*other) co_return skip();  // the other user is gone: nothing sensible to render
      start_watching(me.id, **other);  // a conversation started while the device was away
      if (to_me) {
        frame = make_frame(protocol::encode_text({m, **other, me}, protocol::event::text, e.pos));
        text_id = m.id;
      } else {
        frame = make_frame(protocol::encode_text({m, me, **other}, protocol::event::sent, e.pos));
      }
      break;
    }
    case stream_kind::received:
      frame = make_frame(protocol::encode_received(e.ids, co_await peer_in(me, e.conversation, peers), e.at, e.pos));
      break;
    case stream_kind::read:
      frame = make_frame(protocol::encode_read(e.ids, e.pos));
      break;
    case stream_kind::read_self:
      frame = make_frame(protocol::encode_read_state(e.conversation, e.ids, e.pos));
      break;
    case stream_kind::edited:
      if (ev.messages.empty()) co_return skip();
      frame = make_frame(protocol::encode_edited(ev.messages.front(), e.pos));
      break;
    case stream_kind::deleted:
      frame = make_frame(protocol::encode_deleted(e.ids, e.conversation, e.at, e.pos));
      break;
  }
  if (!frame) co_return skip();
  // A long stream goes out as fast as the device reads, like the pending messages.
  auto* d = co_await wait_for_room(device_id, frame->size());
  if (!d) co_return false;
  // Checked again: a live event may have brought it while this one waited.
  if (!d->positions.take(e.pos)) co_return true;
  if (text_id != 0) {
    push_message(*d, text_id, frame);
  } else if (e.kind == stream_kind::message) {
    // A SENT copy: dropped by id like a live one, should it come again without a position.
    if (const auto id = ev.messages.front().id; !d->sent.contains(id)) {
      d->sent.insert(id);
      d->conn->send(frame);
    }
  } else {
    d->conn->send(frame);
  }
  co_return true;
}

asio::awaitable<user_id> chat_service::peer_in(const user& me, conversation_id chat, peers_by_conversation& peers) {
  if (auto it = peers.find(chat); it != peers.end()) co_return it->second;
  // Not seen in this catch-up (its message is older than `since`): one of its messages says.
  auto newest = co_await await_callback<std::vector<message>>(
      [&](auto done) { store_.conversation_messages(me.id, chat, std::nullopt, std::nullopt, 1, done); });
  user_id peer = 0;
  if (newest && !newest->empty()) {
    const auto& m = newest->front();
    peer = m.sender == me.id ? m.recipient : m.sender;
  }
  peers[chat] = peer;
  co_return peer;
}

void chat_service::send_synced(device& d, stream_pos latest) {
  d.conn->send(make_frame(protocol::encode_synced(latest)));
  d.positions.have_through(latest);
}

bool chat_service::admit_position(device& d, stream_pos pos) {
  if (pos <= d.held_before_synced) return true;
  return d.positions.take(pos);
}

void chat_service::publish_receipts(const std::vector<stream_entry>& stream, user_id reader, unix_ms at,
                                    std::uint64_t reader_device) {
  // Read implies received: a message read before any device reported it (an "acks" device
  // that never sent ACK, say) was delivered by this read, and its sender hears RECEIVED
  // once, before READ, as the states go.
  for (const auto kind : {stream_kind::received, stream_kind::read, stream_kind::read_self}) {
    for (const auto& e : stream) {
      if (e.kind != kind) continue;
      const bool own = kind == stream_kind::read_self;
      if (own) {
        // The reading device knows what it read; its position counts as had.
        if (auto* d = find_device(reader_device)) d->positions.take(e.pos);
      }
      if (!reachable(e.owner, own ? reader_device : 0)) continue;
      shared_frame frame = make_frame(kind == stream_kind::received ? protocol::encode_received(e.ids, reader, at, e.pos)
                                      : kind == stream_kind::read  ? protocol::encode_read(e.ids, e.pos)
                                                                   : protocol::encode_read_state(e.conversation, e.ids, e.pos));
      bus_.publish(user_event{e.owner, user_event::kind::notice, 0, own ? reader_device : 0, std::move(frame), {}, e.pos});
    }
  }
}

asio::awaitable<void> chat_service::on_previews(connection& conn, protocol::previews_request req) {
  constexpr auto type = protocol::event::chat_previews;
  // Previews are a read like history, and share its bucket (HISTORY_LIMIT).
  if (auto* limits = limits_of(conn)) {
    if (const auto wait = limits->take_history(std::chrono::steady_clock::now()); wait.count() > 0)
      co_return refuse_read(conn, wait, type);
  }
  const auto me = conn.account().id;
  auto r = co_await await_callback<std::vector<chat_preview>>([&](auto done) {
    if (req.before)
      store_.chat_previews_page(me, *req.before, req.limit, done);
    else
      store_.chat_previews(me, req.limit, done);
  });
  if (!r) co_return send_error(conn, r.error(), static_cast<int>(type));
  for (const auto& p : *r) users_.remember(p.peer);
  co_await fill_presence(conn.account(), *r);
  conn.send(make_frame(protocol::encode_previews(*r)));
}

}  // namespace chatrix::chat
