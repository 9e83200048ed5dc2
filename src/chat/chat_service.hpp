// The chat domain: authentication of sessions, sending, delivery tracking, read receipts,
// history, search and previews, typing and presence. Depends only on the storage and cluster interfaces and the
// connection abstraction; never on sockets or SQL.
#pragma once

#include "auth/jwt.hpp"
#include "chat/connection.hpp"
#include "chat/device_limits.hpp"
#include "chat/local_people.hpp"
#include "chat/presence_here.hpp"
#include "chat/pair_conversations.hpp"
#include "chat/presence_board.hpp"
#include "chat/presence_watchers.hpp"
#include "chat/storage_quota.hpp"
#include "chat/stream_positions.hpp"
#include "chat/token_expiry.hpp"
#include "chat/token_service.hpp"
#include "chat/typing_tracker.hpp"
#include "chat/user_directory.hpp"
#include "cluster/bus.hpp"
#include "limits/keyed_limiter.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"
#include "protocol/codec.hpp"
#include "storage/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace chatrix::chat {

/// Learns of messages as they become durable and as devices on this node receive them (push
/// notifications for devices that are offline). Called on the I/O thread; must not block.
class message_observer {
 public:
  virtual ~message_observer() = default;
  /// A new message is durable and on its way to the recipient's devices (neither a
  /// duplicate nor withheld).
  virtual void stored(const message& m, const user& sender, const user& recipient) = 0;
  /// A device of `recipient` on this node reported message `id` received.
  virtual void received(user_id recipient, message_id id) = 0;
};

struct service_options {
  std::size_t max_content_bytes = 8 * 1024;
  std::chrono::milliseconds retry_window{std::chrono::minutes(10)};
  /// Pending messages are pushed in pages; a page waits until the device's queue is below this.
  std::size_t pending_queue_watermark = 1024 * 1024;
  int pending_page = 500;
  /// Live events held for one device while it catches up; a device that falls this far behind
  /// is cut off (close_for_error) rather than held for without bound, and catches up from the
  /// database when it reconnects.
  std::size_t max_held_events = 10'000;
  /// TEXTs of one device queued for storage at once; beyond it the device's frames wait
  /// (TCP backpressure), so a pipelining client cannot bury itself in DELIVERED frames.
  int max_in_flight_per_device = 256;
  /// Receipts are collected this long before they are stored together: a receipt commit of
  /// its own would hold up the next message's commit behind it (on an idle server, a
  /// message's latency doubled), and under load the receipts of several turns share one.
  std::chrono::milliseconds receipt_delay{5};
  /// Per connection: TEXTs, searches, history requests (docs/security.md).
  device_limit_options device_limits;
  /// STORAGE_QUOTA: content bytes each user may store per UTC day on this node; 0 = off.
  std::uint64_t storage_quota = 64ull * 1024 * 1024;
  /// HTTP_SEND_LIMIT: POST /v1/messages per user (on this node).
  limits::rate http_send_limit{50, std::chrono::seconds(1)};
  /// EDIT_WINDOW: how long after sending a message its sender may edit it.
  std::chrono::milliseconds edit_window{std::chrono::hours(48)};
  /// PRESENCE_GRACE: a user whose last device here went away is announced offline only after
  /// this long (a reconnect within it announces nothing).
  std::chrono::milliseconds presence_grace{std::chrono::seconds(5)};
  /// A TYPING frame is not sent to a device with more than this queued: it would arrive late.
  std::size_t typing_max_queued_bytes = 16 * 1024;
};

/// A session that passed authentication: who it is, and the token it showed.
struct authenticated {
  user account;
  auth::token_claims token;
  std::optional<stream_pos> since;  // the first frame's "since" (protocol::unusable_since: not a position)
};

/// One per node.
///
/// Thread-safety: every member function must be called on the I/O thread given as `io`;
/// store callbacks are posted back to it.
class chat_service final : public cluster::event_sink {
 public:
  chat_service(boost::asio::any_io_executor io, storage::store& store, cluster::bus& bus,
               const auth::token_codec& tokens, const clock& clock, metrics::server_metrics& metrics,
               service_options options);
  ~chat_service() override;

  /// Checks a session's first frame: a valid token, not revoked, whose user still exists.
  boost::asio::awaitable<result<authenticated>> authenticate(std::string_view first_frame, bool* explicit_acks);

  /// Registers an authenticated device, then sends PROFILE_INFO, CHATPREVIEWS, every pending
  /// message (or, with `since`, every event of the user's stream after it) and SYNCED, in
  /// that order (docs/protocol.md, "Sync"). Live events arriving meanwhile are held back and
  /// sent after them, never twice. From here on the device is ended
  /// (connection::end_session) when `token` expires, unless it sends a fresh one first, or
  /// as soon as the token is revoked.
  boost::asio::awaitable<void> attach(connection& conn, auth::token_claims token,
                                      std::optional<stream_pos> since = std::nullopt);

  /// Handles one text frame from an attached device. Returns once the frame no longer needs
  /// the session's order: a TEXT is queued for storage (in order) but not yet durable.
  boost::asio::awaitable<void> handle_frame(connection& conn, std::string_view text);

  /// False while the device has too many TEXTs awaiting storage: the transport should not
  /// read its next frame yet.
  bool may_read(const connection& conn) const;

  /// Replies ERR to a frame the transport refused (binary, too large).
  void refuse_frame(connection& conn, const error& err);

  /// A frame sent with a receipt was written to the socket (receipts of legacy devices).
  void on_written(connection& conn, message_id receipt);

  void detach(connection& conn);

  /// Stores the receipts collected so far now instead of after receipt_delay (shutdown).
  void flush_receipts();

  void deliver_local(const cluster::user_event& ev) override;
  /// Ends every local device whose token `r` revokes, and refuses those tokens from now on.
  void revoked(const cluster::revocation& r) override;
  /// Holds live events for every local device, pushes each what it has not been sent yet (the
  /// stream after what it had, for a device that connected with `since`; the pending
  /// messages otherwise), then the held events. Cheap to call repeatedly: a device already catching
  /// up only reads the database once more before releasing its held events. The revocations
  /// are read again too, and devices whose tokens were revoked meanwhile are ended.
  void resync() override;
  /// Drops what this node caches of `id` (profile; block relations and presence visibility),
  /// reads what the typing and presence filters need again, and tells local watchers what
  /// they see of `id` now when that changed (and `id`'s devices what they see of others).
  void user_changed(user_id id) override;
  // ---- presence (presence.cpp, docs/protocol.md "Presence and last seen") ----
  void presence_changed(const std::string& node, const std::vector<cluster::presence_update>& updates) override;
  void node_gone(const std::string& node, unix_ms at) override;
  std::vector<cluster::presence_update> local_presence() override;
  /// Fills the rows' presence as `viewer` may see each peer (GET /v1/conversations): block
  /// relations from this node when the viewer has a device here, else read once.
  boost::asio::awaitable<void> fill_presence(const user& viewer, std::vector<chat_preview>& rows);
  /// Graceful shutdown, once the sessions are closed: every user online here is offline now
  /// (published, so other nodes need not wait for this node's lease) and their last seen is
  /// written (the store finishes queued writes before it stops).
  void shutdown_presence();
  /// `id`'s profile, settings or blocks changed (stored already): every node hears of it.
  void publish_user_changed(user_id id);

  /// TEXTs handed to the store whose result has not come back yet (shutdown waits for them).
  std::size_t texts_in_flight() const noexcept { return texts_in_flight_; }
  /// Runs `settled` once no TEXT awaits the store: at once (inside this call) when none does,
  /// otherwise when the last result comes back. Replaces a `settled` given before and not run.
  void when_texts_settled(std::function<void()> settled);

  // ---- the HTTP API (http_send.cpp) ----

  /// POST /v1/messages: `body` is a TEXT frame's body, read by the socket's rules. Checks
  /// HTTP_SEND_LIMIT, charges STORAGE_QUOTA, stores the message and, once it is durable,
  /// publishes it as a socket send is: the recipient's devices get TEXT, every device of the
  /// sender SENT. A retry (same mark and content) answers the original, duplicate=true.
  boost::asio::awaitable<result<send_result>> send_over_http(const user& sender, std::string_view body);
  /// Charges bytes stored outside messages (file uploads) to STORAGE_QUOTA at `now`: zero
  /// when charged, else how long until the quota starts again.
  std::chrono::milliseconds charge_storage(user_id owner, std::uint64_t bytes, unix_ms now);
  /// Gives back a charge_storage made at `charged_at` whose bytes were not kept after all.
  void refund_storage(user_id owner, std::uint64_t bytes, unix_ms charged_at);

  user_directory& users() noexcept { return users_; }
  token_service& tokens() noexcept { return tokens_; }
  /// Who learns of stored and received messages (nullptr: nobody). Must outlive the service.
  void set_observer(message_observer* observer) noexcept { observer_ = observer; }

 private:
  /// The ids of the last messages sent to one device, so that a message reaching it by two
  /// paths (live and pending, or live and a resync) is sent once. Bounded: an idle device
  /// holds no memory here, a busy one at most `capacity` ids.
  class recent_ids {
   public:
    static constexpr std::size_t capacity = 1024;
    bool contains(message_id id) const { return set_.contains(id); }
    void insert(message_id id);

   private:
    std::unordered_set<message_id> set_;
    std::vector<message_id> ring_;
    std::size_t next_ = 0;
  };

  struct device {
    connection* conn = nullptr;
    bool syncing = true;  // live events are held (attaching, or catching up after a resync)
    bool recheck = true;  // the pending messages must be (re)read before the held events go
    std::vector<cluster::user_event> held;  // live events that arrived while syncing
    bool held_overflowed = false;           // cut off for holding max_held_events
    recent_ids sent;
    int in_flight = 0;  // TEXTs queued for storage, not yet acknowledged
    // Made at the first TEXT, search or history request: the many idle devices hold only
    // the pointer (their buckets would be ~130 bytes each in place).
    std::unique_ptr<device_limits> limits;
    auth::token_claims token;  // the token it authenticated with, or refreshed to
    bool ended_for_token = false;  // end_session sent; the device leaves when its socket closes
    stream_positions positions;  // tracked from its SYNCED on
    bool replays_stream = false;  // connected with a usable `since`: a resync re-reads the stream
    // A device that connected without `since` gets the live events held while it attached
    // even when they are older than its SYNCED (they were not pending any more): as before.
    stream_pos held_before_synced = 0;
  };

  /// Conversations' other members as a catch-up learns them (RECEIVED names the recipient).
  using peers_by_conversation = std::unordered_map<conversation_id, user_id>;

  boost::asio::awaitable<void> on_text(connection& conn, protocol::text_request req);
  // ---- typing (typing.cpp) ----
  boost::asio::awaitable<void> on_typing(connection& conn, protocol::typing_request req);
  /// The conversation of two users for a TYPING's chat_id: cached, else read once.
  boost::asio::awaitable<std::optional<conversation_id>> conversation_of(user_id a, user_id b);
  /// Sends TYPING to every device of `to`, wherever they are.
  void publish_typing(const user& from, user_id to, std::optional<conversation_id> chat, bool typing);
  void publish_typing_ended(const std::vector<typing_tracker::ended>& ended);
  void arm_typing_timer();
  /// An ephemeral event for a device: sent now, or dropped (and counted) when it would wait.
  void send_ephemeral(device& d, const cluster::user_event& ev);
  // ---- presence (presence.cpp) ----
  /// A device of `me` got these previews at connect: their presence is filled, and `me`
  /// watches their peers from now on.
  void watch_previews(const user& me, std::vector<chat_preview>& rows);
  /// Fills rows' presence as `viewer` may see each peer, `hidden` being who they blocked or were blocked by.
  void fill_rows(const user& viewer, std::vector<chat_preview>& rows, const std::unordered_set<user_id>& hidden);
  /// A device of `id` is in sync: online, if it was not.
  void announce(user_id id);
  /// The last device of `id` here went away.
  void depart(user_id id);
  void arm_presence_timer();
  /// What `watcher` sees of `subject` now; sends PRESENCE when it changed.
  void recheck_view(user_id watcher, user_id subject);
  /// Every local watcher of `subject` is told what it sees of them now, when that changed.
  void subject_changed(user_id subject);
  void send_presence(user_id watcher, const user& subject, const presence_view& seen);
  /// `a` and `b` are in a conversation (a message was stored, or delivered here): the one of
  /// them with a device here watches the other from now on.
  void start_watching(user_id watcher, const user& subject);
  /// A TEXT delivered here may come from someone its recipient does not watch yet (a new
  /// conversation started on another node).
  void watch_sender_of(const cluster::user_event& ev);
  boost::asio::awaitable<void> watch_by_id(user_id watcher, user_id subject);
  /// user_changed's reads: a local user's blocks and profile, a watched subject's profile.
  boost::asio::awaitable<void> refresh_person(user_id id);
  /// The same for many, one after the other (a resync: the store's queue is not flooded).
  boost::asio::awaitable<void> refresh_people(std::vector<user_id> ids);
  /// Writes last seen times; a failure is logged (the next departure writes again).
  void record_last_seen(const std::vector<cluster::presence_update>& offline);
  /// The store request for a TEXT whose recipient and quota were checked (content and
  /// attachment are moved out of `req`).
  send_request make_send_request(user_id sender, user_id recipient, protocol::text_request& req, unix_ms now) const;
  /// A TEXT handed to the store has its answer (socket or HTTP): wakes a shutdown waiting for the last.
  void text_settled();
  /// The recipient a TEXT or TYPING names (to, to_id or both), or why it cannot go to them.
  boost::asio::awaitable<result<user>> resolve_recipient(const user& me, const std::optional<std::string>& to_username,
                                                         std::optional<user_id> to_id);
  /// A message is durable: the recipient's devices get TEXT, the sender's other devices SENT
  /// (all of them when `device_id` is 0, a send over HTTP).
  void publish_stored(const send_result& r, const user& sender, const user& recipient, std::uint64_t device_id,
                      std::chrono::steady_clock::time_point taken);
  boost::asio::awaitable<void> on_mark_read(connection& conn, protocol::mark_read_request req);
  // EDIT and DELETE (message_changes.cpp): every device of every member hears of the change,
  // the one that made it included.
  boost::asio::awaitable<void> on_edit(connection& conn, protocol::edit_message_request req);
  boost::asio::awaitable<void> on_delete(connection& conn, protocol::delete_messages_request req);
  /// Publishes one frame per stream entry a change wrote, to the entry's owner, at its pos.
  void publish_changes(const std::vector<stream_entry>& stream,
                       const std::function<std::string(const stream_entry&)>& frame_at);
  boost::asio::awaitable<void> on_search(connection& conn, protocol::search_request req);
  boost::asio::awaitable<void> on_previews(connection& conn, protocol::previews_request req);
  boost::asio::awaitable<void> on_history(connection& conn, protocol::history_request req);
  void on_ack(connection& conn, const protocol::ack_request& req);
  /// The device's limits, made on first use; nullptr for a connection not attached.
  device_limits* limits_of(const connection& conn);
  /// Whether the TEXT (or an EDIT, `ref`) may go on; if not, it has been answered (ERR, or
  /// the connection ended).
  bool admit_text(connection& conn, const std::optional<std::string>& mark,
                  protocol::event ref = protocol::event::text);
  /// Charges a TEXT's (or an EDIT's) content to the sender's quota; if refused, it has been answered.
  bool charge_quota(connection& conn, std::size_t bytes, unix_ms now, const std::optional<std::string>& mark,
                    protocol::event ref = protocol::event::text);
  /// Refuses a read (search or history) that came `wait` too early, with ERR and the count.
  void refuse_read(connection& conn, std::chrono::milliseconds wait, protocol::event type);
  /// A fresh token of the same user replaces the device's (and its expiry); anything else is
  /// refused and the device keeps its token.
  void on_refresh_token(connection& conn, const protocol::refresh_token_request& req);
  /// Ends a device because of its token ("token expired", "token revoked").
  void end_for_token(device& d, std::string_view reason);
  /// The end of a token's life as the session sees it: exp plus the clock skew allowed.
  static std::int64_t token_deadline(const auth::token_claims& token);
  /// Sends each pending message of `me` with an id above `after` that the device has not had
  /// yet; a failed read is reported to the device with `report_errors`. Returns false when
  /// the device went away.
  boost::asio::awaitable<bool> push_pending(std::uint64_t device_id, const user& me, bool report_errors,
                                            message_id after = 0);
  /// Sends one page of pending messages; false when the device went away.
  boost::asio::awaitable<bool> push_page(std::uint64_t device_id, const user& me, const std::vector<message>& page);
  // ---- device sync (device_sync.cpp) ----
  /// After CHATPREVIEWS: the stream after `since` (or, expired, ERR sync_expired and the
  /// pending messages), then SYNCED. False when the device went away.
  boost::asio::awaitable<bool> resume_stream(std::uint64_t device_id, const user& me, stream_pos since,
                                             storage::session_snapshot& start);
  /// After CHATPREVIEWS without `since`: the pending messages, then SYNCED. False when the
  /// device went away.
  boost::asio::awaitable<bool> start_fresh(std::uint64_t device_id, const user& me, const storage::session_snapshot& start);
  /// Sends the device every event of its stream after `after` that it has not had, page by
  /// page as it drains, starting with `first` when given (already read); `latest` becomes the
  /// stream's newest position once every page was read (unchanged after a failed read, which
  /// is reported with `report_errors`). False when the device went away.
  boost::asio::awaitable<bool> replay_stream(std::uint64_t device_id, const user& me, stream_pos after,
                                             std::optional<stream_page> first, bool report_errors,
                                             stream_pos& latest);
  /// Renders one stream event from the store's current state and sends it unless the device
  /// had it. False when the device went away.
  boost::asio::awaitable<bool> push_stream_event(std::uint64_t device_id, const user& me, const stream_event& ev,
                                                 peers_by_conversation& peers);
  /// The other member of `chat` for `me`, 0 when it cannot be found.
  boost::asio::awaitable<user_id> peer_in(const user& me, conversation_id chat, peers_by_conversation& peers);
  /// SYNCED, and the device's positions count from `latest` on.
  void send_synced(device& d, stream_pos latest);
  /// Whether a live or held event goes to the device (not had yet); records its position.
  bool admit_position(device& d, stream_pos pos);
  /// RECEIVED, MARK_READ and READ_STATE for what a read or receipt wrote to the streams;
  /// `reader_device` (0: none) gets no READ_STATE and has its position recorded.
  void publish_receipts(const std::vector<stream_entry>& stream, user_id reader, unix_ms at,
                        std::uint64_t reader_device);

  /// Ends a device's sync: reads what it is owed while a recheck is due, then sends the
  /// events held meanwhile in order, then lets live events through.
  boost::asio::awaitable<void> catch_up(std::uint64_t device_id, user me, bool report_errors);
  /// Queues a message to the device unless it had it already; true when queued.
  bool push_message(device& d, message_id id, const shared_frame& frame);
  /// Waits until the device can take `bytes` more without passing the pending watermark (an
  /// empty queue always can), woken by the connection (connection::when_queue_at_most).
  /// Returns the device, or nullptr when it closed or went away.
  boost::asio::awaitable<device*> wait_for_room(std::uint64_t device_id, std::size_t bytes);

  void on_stored(std::uint64_t device_id, const user& sender, const user& recipient,
                 const std::optional<std::string>& mark, std::size_t charged, unix_ms charged_at,
                 std::chrono::steady_clock::time_point taken, result<send_result> r);
  void queue_receipt(user_id recipient, message_id id);
  void on_marked_delivered(user_id recipient, result<delivered_result> r);
  void send_error(connection& conn, const error& err, int ref_type = -1,
                  const std::optional<std::string>& mark = {});
  void send_to_device(device& d, const cluster::user_event& ev);
  void send_now(device& d, const cluster::user_event& ev);
  /// Whether an event for `uid` can reach a device other than `except_device`: one of this
  /// node's, or any when the bus spans nodes. An event that cannot is not even encoded.
  bool reachable(user_id uid, std::uint64_t except_device = 0) const;
  device* find_device(std::uint64_t id);

  /// A store callback that hands its result to `fn` on the I/O thread.
  template <class T, class Fn>
  storage::callback<T> on_io(Fn fn);

  boost::asio::any_io_executor io_;
  storage::store& store_;
  cluster::bus& bus_;
  const clock& clock_;
  metrics::server_metrics& metrics_;
  service_options options_;
  protocol::decode_limits decode_limits_;
  user_directory users_;
  storage_quota quota_;
  left_over_buckets left_over_;
  token_service tokens_;
  token_expiry expiry_;
  limits::keyed_limiter http_sends_;  // per user id
  message_observer* observer_ = nullptr;

  std::unordered_map<std::uint64_t, device> devices_;
  std::size_t texts_in_flight_ = 0;
  std::function<void()> texts_settled_;
  std::unordered_map<user_id, std::vector<std::uint64_t>> devices_by_user_;

  // Receipts are collected for receipt_delay into one mark_delivered per recipient.
  std::unordered_map<user_id, std::vector<message_id>> receipts_;
  boost::asio::steady_timer receipts_timer_;
  bool receipts_flush_scheduled_ = false;

  // Typing and presence (typing.cpp, presence.cpp).
  typing_tracker typing_;
  boost::asio::steady_timer typing_timer_;
  bool typing_timer_armed_ = false;
  pair_conversations conversations_;
  local_people people_;
  presence_here here_;
  presence_board board_;
  presence_watchers watchers_;
  boost::asio::steady_timer presence_timer_;
  bool presence_timer_armed_ = false;

  // Guards store callbacks that arrive after the service is gone (at shutdown).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatrix::chat
