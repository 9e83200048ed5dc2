// The event codes of the Chatrix protocol (docs/protocol.md, Events): the original client's,
// 10 and up documented extensions. Depends on nothing, so that a client (tools/cli) shares the
// codes without linking the server's libraries.
#pragma once

namespace chatrix::protocol {

enum class event : int {
  text = 0,
  delivered = 1,
  mark_read = 2,
  err = 3,
  profile_info = 4,
  chat_previews = 5,
  search_request = 6,
  search_response = 7,
  history_request = 8,
  history_response = 9,
  received = 10,  // extension: the recipient's device has the messages
  ack = 11,       // extension: a device confirms receipt
  sent = 12,      // extension: own message sent from another device
  synced = 13,    // extension: a device has every event of its stream up to body.pos
  edit = 14,      // extension: the sender edits a message; every device of both learns of it
  remove = 15,    // extension: DELETE, the sender deletes messages for everyone
  read_state = 16,  // extension: the user read messages on another device
  typing = 17,      // extension: someone is (or stopped) typing to the user; never stored
  presence = 18,    // extension: someone the user shares a conversation with came online or went offline
  refresh_token = 19,  // extension: a fresh token for a live session, and the server's answer
};

}  // namespace chatrix::protocol
