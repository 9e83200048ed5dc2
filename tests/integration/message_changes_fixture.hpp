// Helpers of the edit, delete, reply and attachment suites: frames a test waits for with the
// stream's bookkeeping frames (RECEIVED, SYNCED, READ_STATE) skipped, and history read back.
#pragma once

#include "support/chat_fixture.hpp"

#include <string>

namespace chatrix::test {

class message_changes_test : public chat_test {
 protected:
  /// The next frame of `type`, skipping the frames that may come at any time in between.
  static json::value next(const session& s, int type) {
    return s->recv_type_skipping(type, {ev_received, ev_synced, ev_read_state}, 10s);
  }
  /// Sends a TEXT and returns the DELIVERED body.
  static json::value send(const session& s, const json::object& text_body) {
    s->send_json(ev_text, text_body);
    return body_of(next(s, ev_delivered));
  }
  static std::int64_t send_id(const session& s, const json::object& text_body) {
    return int_field(send(s, text_body), "message_id");
  }
  /// The answer to a frame that must be refused: the ERR's code, after checking its ref_type.
  static std::string refusal(const session& s, int ref_type) {
    auto frame = next(s, ev_err);
    EXPECT_EQ(int_field(body_of(frame), "ref_type"), ref_type) << json::serialize(frame);
    return err_code(frame);
  }
  static void edit(const session& s, std::int64_t id, const std::string& content) {
    s->send_json(ev_edit, json::object{{"message_id", id}, {"content", content}});
  }
  static void remove(const session& s, const json::array& ids) {
    s->send_json(ev_delete, json::object{{"message_ids", ids}});
  }
  /// History rows of the conversation of `me` and `peer`, oldest first (empty for null).
  static json::array history(const session& s, std::int64_t me, std::int64_t peer) {
    s->send_json(ev_history_request, json::object{{"user1_id", me}, {"user2_id", peer}});
    auto body = body_of(next(s, ev_history_response));
    return body.is_null() ? json::array{} : body.as_array();
  }
  // Rows and previews come back as json::value: the helpers (field_of...) take one, and
  // handing them a json::object would make a temporary value that a reference outlives.
  static json::value row(const json::array& rows, std::int64_t id) {
    for (const auto& r : rows)
      if (int_field(r, "id") == id) return r;
    throw std::runtime_error("no history row " + std::to_string(id) + " in " + json::serialize(rows));
  }
  /// The preview row of the conversation with `peer`, as a new device of `who` sees it.
  json::value preview_with(const test_user& who, std::int64_t peer) {
    session fresh = connect_authed(who);
    for (const auto& p : fresh.previews.as_array())
      if (int_field(p, "id") == peer) return p;
    throw std::runtime_error("no preview with user " + std::to_string(peer) + ": " + json::serialize(fresh.previews));
  }
};

}  // namespace chatrix::test
