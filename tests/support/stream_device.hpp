// A device that keeps its place in its user's event stream (docs/protocol.md, "Sync"): it
// connects with "since", reads the catch-up up to SYNCED, and sums each frame that carries a
// stream position up as (type, pos, message ids), so that what two devices saw, or what one
// saw live and another caught up, can be compared.
#pragma once

#include "support/chat_fixture.hpp"

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace chatrix::test {

/// A frame's top-level "pos" (a JSON integer). Throws (a test failure) when it has none.
std::int64_t pos_of(const json::value& frame);
bool has_pos(const json::value& frame);

/// One stream event as a device saw it.
struct stream_item {
  int type = -1;
  std::int64_t pos = 0;
  std::vector<std::int64_t> ids;  // the message(s) it is about, in the frame's order
  bool operator==(const stream_item&) const = default;
};

/// The item of a frame that carries a position: ids from "msg_id" (TEXT, SENT), "message_id"
/// (DELIVERED, EDIT), "message_ids" (RECEIVED, DELETE, READ_STATE) or the bare array of a
/// MARK_READ notice. Throws for a frame without pos or of another type.
stream_item item_of(const json::value& frame);

std::vector<stream_item> items_of(const std::vector<json::value>& frames);

/// "type@pos[ids]" for failure messages.
std::string describe(const std::vector<stream_item>& items);

/// from + 1, from + 2, ... from + n.
std::vector<std::int64_t> positions_after(std::int64_t from, std::int64_t n);
std::vector<std::int64_t> positions_of(const std::vector<stream_item>& items);
/// The message ids of the TEXTs among the items of one or more connections.
std::set<std::int64_t> text_ids_of(std::initializer_list<std::vector<stream_item>> connections);

/// The next `n` frames of `ws`, each of which must carry a stream position; throws when they
/// do not come within `timeout`.
std::vector<json::value> next_stream_frames(ws_client& ws, std::size_t n, std::chrono::milliseconds timeout = 10s);
std::vector<stream_item> next_items(ws_client& ws, std::size_t n);
/// The same, ordered by position: events that reach a device live from different writers (or
/// nodes) may overtake each other on the way; a catch-up, by contrast, comes oldest first.
std::vector<stream_item> next_items_by_pos(ws_client& ws, std::size_t n);

/// What one device saw live, by position.
using seen_items = std::map<std::int64_t, stream_item>;
/// Adds `item`; a position seen before fails the test (nothing twice on one connection).
void remember(seen_items& seen, const stream_item& item);

/// Reads a sending device's frames until DELIVERED came for `sends` messages and, with
/// `receipts`, RECEIVED for all of them (one by one or together, interleaved with the
/// DELIVEREDs, maybe with receipts of earlier messages); remembers each in `seen` and returns
/// the message ids in send order. Any other frame fails the test.
std::vector<std::int64_t> await_sent(ws_client& ws, std::size_t sends, seen_items& seen, bool receipts = true);

/// Request bodies: MARK_READ (2) of a sender's messages, EDIT (14), DELETE (15).
json::object mark_read_body(const std::string& sender, const std::vector<std::int64_t>& message_ids);
json::object edit_body(std::int64_t message_id, const std::string& content);
json::object delete_body(const std::vector<std::int64_t>& message_ids);

/// What a device got from its authentication up to and including SYNCED.
struct synced_session {
  session s;
  std::vector<json::value> backlog;  // between CHATPREVIEWS and SYNCED, in order
  std::int64_t latest = -1;          // SYNCED's pos
};

/// Connects to 127.0.0.1:`port` as `user`, sends the token (and "since" when given), and reads
/// PROFILE_INFO, CHATPREVIEWS and every frame up to SYNCED (13), which must come within
/// `timeout`.
synced_session connect_synced(std::uint16_t port, const test_user& user, std::optional<std::int64_t> since,
                              std::chrono::milliseconds timeout = 10s);

/// The positions one device has had, as a client keeps them: a contiguous watermark (what it
/// sends as "since" next time) and the positions it has had above it.
class stream_positions {
 public:
  explicit stream_positions(std::int64_t watermark) : watermark_(watermark) {}
  /// Records `pos`; false when it was had already (at or below the watermark, or above it).
  bool take(std::int64_t pos);
  std::int64_t watermark() const { return watermark_; }

 private:
  std::int64_t watermark_;
  std::set<std::int64_t> above_;
};

}  // namespace chatrix::test
