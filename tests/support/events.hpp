// The wire protocol's event codes as the tests write them (ev_text...), in one place.
#pragma once

namespace chatrix::test {

// Event codes of the wire protocol.
enum ev : int {
  ev_text = 0,
  ev_delivered = 1,
  ev_mark_read = 2,
  ev_err = 3,
  ev_profile_info = 4,
  ev_chat_previews = 5,
  ev_search_request = 6,
  ev_search_response = 7,
  ev_history_request = 8,
  ev_history_response = 9,
  ev_received = 10,
  ev_ack = 11,
  ev_sent = 12,
  ev_synced = 13,
  ev_edit = 14,
  ev_delete = 15,
  ev_read_state = 16,
  ev_typing = 17,
  ev_presence = 18,
  ev_refresh_token = 19,
};

}  // namespace chatrix::test
