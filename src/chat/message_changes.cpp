// EDIT (14) and DELETE (15): the sender changes a message after sending it. The store checks
// who may and writes an event into the stream of every member of the conversation; each of
// those events goes to every device of its owner, the device that made the change included
// (it learns the change's stream position, and its frame is the same as everybody's).
#include "chat/chat_service.hpp"

#include "chat/await.hpp"
#include "protocol/message_changes_codec.hpp"

namespace chatrix::chat {

namespace {

/// Codes that describe the request; anything else is the store failing.
bool refusal(errc code) {
  switch (code) {
    case errc::not_found:
    case errc::forbidden:
    case errc::edit_window_closed:
    case errc::invalid_field:
      return true;
    default:
      return false;
  }
}

}  // namespace

asio::awaitable<void> chat_service::on_edit(connection& conn, protocol::edit_message_request req) {
  constexpr auto ref = protocol::event::edit;
  // An edit stores content like a TEXT, so it is limited and charged like one.
  if (!admit_text(conn, {}, ref)) co_return;
  const user_id me = conn.account().id;
  const unix_ms now = clock_.now_ms();
  const std::size_t bytes = req.content.size();
  if (!charge_quota(conn, bytes, now, {}, ref)) co_return;

  edit_request edit{me, req.id, std::move(req.content), now, options_.edit_window.count()};
  auto r = co_await await_callback<edit_result>([&](auto done) { store_.edit_message(std::move(edit), done); });
  if (!r) {
    quota_.refund(me, bytes, now);
    if (!refusal(r.error().code)) metrics::server_metrics::add(metrics_.store_errors);
    co_return send_error(conn, r.error(), static_cast<int>(ref));
  }
  const auto& edited = r->edited;
  publish_changes(r->stream, [&](const stream_entry& e) { return protocol::encode_edited(edited, e.pos); });
}

asio::awaitable<void> chat_service::on_delete(connection& conn, protocol::delete_messages_request req) {
  constexpr auto ref = protocol::event::remove;
  delete_request del{conn.account().id, std::move(req.ids), clock_.now_ms()};
  auto r = co_await await_callback<delete_result>([&](auto done) { store_.delete_messages(std::move(del), done); });
  if (!r) {
    if (!refusal(r.error().code)) metrics::server_metrics::add(metrics_.store_errors);
    co_return send_error(conn, r.error(), static_cast<int>(ref));
  }
  // Deleting what is already deleted changes nothing, and nobody hears of it: no entries.
  const auto& done = *r;
  // Each member hears of the ids in their own entry: a recipient who blocked the sender
  // never learns the ids of messages withheld from them.
  publish_changes(done.stream, [&](const stream_entry& e) {
    return protocol::encode_deleted(e.ids, done.conversation, done.deleted_at, e.pos);
  });
}

void chat_service::publish_changes(const std::vector<stream_entry>& stream,
                                   const std::function<std::string(const stream_entry&)>& frame_at) {
  for (const auto& entry : stream) {
    if (!reachable(entry.owner)) continue;  // offline: the device learns of it through sync
    // msg stays 0: a device that had the message itself must still get the change.
    bus_.publish(cluster::user_event{entry.owner, cluster::user_event::kind::notice, 0, 0,
                                     std::make_shared<const std::string>(frame_at(entry)), {}, entry.pos});
  }
}

}  // namespace chatrix::chat
