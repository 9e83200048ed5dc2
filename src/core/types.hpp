// Domain vocabulary: ids, users, messages and previews as every layer sees them.
// Plain data; no I/O, no JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chatrix {

using user_id = std::int64_t;
using message_id = std::int64_t;
using conversation_id = std::int64_t;

/// Milliseconds since the Unix epoch (UTC).
using unix_ms = std::int64_t;

/// A user's public profile.
struct user {
  user_id id = 0;
  std::string username;  // as registered (case kept); unique without regard to case
  std::string name;      // display name
  // Filled by the store wherever it reads a user row (by id, by name, previews' peers);
  // left at these defaults by search results.
  bool deleted = false;               // DELETE /v1/me: shown as "Deleted account", never found by name
  bool show_presence = true;          // PATCH /v1/me {"show_presence"}: online and last seen shared
  std::optional<unix_ms> last_seen;   // when the user's last device went away (none: never, or deleted)
};

/// A user with the stored password hash; never leaves the auth layer.
struct user_credentials {
  user account;
  std::string password_hash;
};

struct new_user {
  std::string username;
  std::string name;
  std::string password_hash;
  unix_ms created_at = 0;
  /// A deleted account deleted before this gives its username up (USERNAME_QUARANTINE);
  /// one deleted later still holds it (errc::username_taken). 0: none gives it up.
  unix_ms reclaim_deleted_before = 0;
};

/// PATCH /v1/me: the fields to change (nullopt: unchanged).
struct profile_update {
  user_id id = 0;
  std::optional<std::string> name;
  std::optional<bool> show_presence;
};

/// One user blocked by another (GET /v1/blocks).
struct block_entry {
  user blocked;
  unix_ms created_at = 0;
};

/// Who a user blocked, and who blocked them: the pairs that see nothing of each other's
/// typing and presence, and whose messages to the blocker are withheld.
struct block_relations {
  std::vector<user_id> blocked;     // by the user
  std::vector<user_id> blocked_by;  // users who blocked the user
};

/// A device's push token (POST /v1/devices), carried in push webhooks.
struct push_device {
  std::string platform;  // "fcm", "apns", "webpush", ... as the app registered it
  std::string token;
  unix_ms created_at = 0;
};

/// What DELETE /v1/me changed (store::delete_account).
struct account_deletion {
  std::vector<user_id> partners;      // users who shared a conversation with the account
  std::int64_t messages_erased = 0;   // the account's messages whose content was erased
  std::int64_t files_erased = 0;
};

/// A position in one user's event stream: grows with every event of that user, gap-free
/// (each event takes the next number), in the order the events were committed.
using stream_pos = std::int64_t;

/// An uploaded file, as a message carries it (`POST /v1/files`).
struct file_info {
  std::string id;    // opaque, unguessable (128 random bits, base64url)
  std::string name;  // the file name the uploader gave
  std::string type;  // the Content-Type of the upload
  std::int64_t size = 0;
};

/// One stored message of a 1:1 conversation.
struct message {
  message_id id = 0;
  conversation_id conversation = 0;
  std::int64_t seq = 0;  // gap-free, starting at 1, within the conversation
  user_id sender = 0;
  user_id recipient = 0;
  std::string content;
  unix_ms created_at = 0;
  std::optional<unix_ms> delivered_at;  // first receipt by any recipient device
  std::optional<unix_ms> read_at;
  std::optional<message_id> reply_to;   // a message of the same conversation
  std::optional<file_info> attachment;
  std::optional<unix_ms> edited_at;     // the last edit
  std::optional<unix_ms> deleted_at;    // deleted for everyone: content is "" (and gone from the database)
};

/// A request to store one message. `mark` is the client's mark as JSON text, a number
/// spelled as the client sent it and a string in canonical form (e.g. `17`, `1.50` or
/// `"abc"`), kept so that retries can be recognised: the same text is the same mark.
struct send_request {
  user_id sender = 0;
  user_id recipient = 0;
  std::string content;
  std::optional<std::string> mark;
  unix_ms now = 0;
  unix_ms retry_window = 0;  // a matching message newer than now - retry_window is a retry
  std::optional<message_id> reply_to;     // must be a message of the same conversation (errc::invalid_field)
  std::optional<std::string> attachment;  // a file id the sender uploaded (errc::invalid_field otherwise)
};

/// What an event in a user's stream is about (docs/protocol.md, "Sync").
enum class stream_kind : std::uint8_t {
  message = 0,    // a message to or from the user: TEXT (to them) or SENT (from them)
  received = 1,   // a device of the recipient has the user's messages: RECEIVED
  read = 2,       // the recipient read the user's messages: MARK_READ notice
  read_self = 3,  // the user read messages on one device: READ_STATE (16) for the others
  edited = 4,     // EDIT (14)
  deleted = 5,    // DELETE (15)
};

/// One event a write added to some user's stream. `ids`: the message (message, edited) or
/// messages (the others) it is about, all in `conversation`.
struct stream_entry {
  user_id owner = 0;
  stream_pos pos = 0;
  stream_kind kind = stream_kind::message;
  conversation_id conversation = 0;
  std::vector<message_id> ids;
  unix_ms at = 0;
};

/// A stream event read back for a device catching up: the entry, plus the messages it names
/// as they are now (edited content, or deleted), in `ids` order, for kinds message and
/// edited; other kinds need only the ids.
struct stream_event {
  stream_entry entry;
  std::vector<message> messages;
};

/// One page of a user's stream after a position (store::stream_events).
struct stream_page {
  std::vector<stream_event> events;  // oldest first
  stream_pos latest = 0;             // the newest position of the stream (0: no event yet)
  bool expired = false;              // `since` is pruned (SYNC_RETENTION) or beyond `latest`: no events
};

struct send_result {
  message stored;
  bool duplicate = false;  // true: a retry; `stored` is the original message
  std::vector<stream_entry> stream;  // the events added (none for a duplicate)
  /// The recipient has blocked the sender: stored for the sender only, never shown to the
  /// recipient (no TEXT, not pending, not in their stream, history or previews; no push).
  bool withheld = false;
};

/// A message whose state changed, with who has to hear about it.
struct message_ref {
  message_id id = 0;
  user_id sender = 0;
  user_id recipient = 0;
};

/// What marking messages read changed. Reading a message also counts as receiving it, so
/// a message read before any device reported it received becomes delivered too.
struct read_result {
  std::vector<message_ref> read;       // not read before, in the order first given
  std::vector<message_ref> delivered;  // those of `read` that were not delivered before either
  std::vector<stream_entry> stream;    // received, read and read_self events added
};

/// What marking messages delivered changed (store::mark_delivered).
struct delivered_result {
  std::vector<message_ref> delivered;  // not delivered before
  std::vector<stream_entry> stream;    // received events added, one per sender and conversation
};

struct edit_request {
  user_id editor = 0;
  message_id id = 0;
  std::string content;
  unix_ms now = 0;
  unix_ms window = 0;  // EDIT_WINDOW: created_at + window < now -> errc::edit_window_closed
};

/// The message as edited, and the edited events (one per member of the conversation).
struct edit_result {
  message edited;
  std::vector<stream_entry> stream;
};

struct delete_request {
  user_id requester = 0;
  std::vector<message_id> ids;  // all in one conversation
  unix_ms now = 0;
};

struct delete_result {
  conversation_id conversation = 0;
  std::vector<message_id> deleted;  // newly deleted (deleting twice is not an error, and not news)
  unix_ms deleted_at = 0;
  std::vector<stream_entry> stream;  // deleted events, one per member (none when nothing changed)
};

/// Where a page of previews starts: after the row with this (updated_at, conversation) in
/// most-recent-first order.
struct preview_cursor {
  unix_ms updated_at = 0;
  conversation_id conversation = 0;
};

/// Whether a viewer sees a user online, and the last seen the viewer may see (the chat
/// layer decides: blocks, show_presence on both sides).
struct presence_view {
  bool online = false;
  std::optional<unix_ms> last_seen;
};

/// One row of CHATPREVIEWS: the other party and the conversation's latest state.
struct chat_preview {
  user peer;
  conversation_id conversation = 0;
  std::optional<message> last;
  std::int64_t unread = 0;  // messages to the viewer not yet read
  unix_ms updated_at = 0;
  presence_view presence;  // the peer's, as the viewer may see it: filled by the chat layer, not the store
};

}  // namespace chatrix
