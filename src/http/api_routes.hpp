// The HTTP API for app servers and bots (docs/openapi.yaml): my conversations, one
// conversation's messages, and sending (the account itself: people_routes). Every route
// takes a Bearer token; a send takes the socket's path (chat_service::send_over_http), so
// devices see it exactly like a socket send.
#pragma once

#include "chat/account_service.hpp"
#include "chat/chat_service.hpp"
#include "http/router.hpp"
#include "storage/store.hpp"

#include <boost/asio/awaitable.hpp>

namespace chatrix::http {

/// Thread-safety: I/O thread only.
class api_routes {
 public:
  api_routes(chat::account_service& accounts, chat::chat_service& chat, storage::store& store);

  /// GET /v1/conversations?before=&limit= -> {"conversations": [...], "next": cursor | null}.
  boost::asio::awaitable<response> conversations(const request& req);
  /// GET /v1/conversations/{chat_id}/messages?before_id=&after_id=&limit= -> {"messages": [...]}.
  boost::asio::awaitable<response> conversation_messages(const request& req);
  /// POST /v1/messages, a TEXT body -> 201 (200 for a retry) {"message_id", "chat_id", "seq", "duplicate"}.
  boost::asio::awaitable<response> send_message(const request& req);

 private:
  chat::account_service& accounts_;
  chat::chat_service& chat_;
  storage::store& store_;
};

}  // namespace chatrix::http
