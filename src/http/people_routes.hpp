// The routes of a person's own account (docs/openapi.yaml): who am I and its settings
// (GET/PATCH /v1/me), the export of everything kept about them (GET /v1/me/export), deletion
// (DELETE /v1/me), the people they blocked (/v1/blocks) and their push devices (/v1/devices).
// Every route takes a Bearer token. The rules are chat::account_control's; these read the
// request and write the answer.
#pragma once

#include "chat/account_control.hpp"
#include "chat/account_service.hpp"
#include "core/clock.hpp"
#include "http/router.hpp"
#include "limits/keyed_limiter.hpp"
#include "storage/store.hpp"

#include <boost/asio/awaitable.hpp>

namespace chatrix::http {

/// Thread-safety: I/O thread only.
class people_routes {
 public:
  /// `export_limit`: EXPORT_LIMIT, per user on this node.
  people_routes(chat::account_service& accounts, chat::account_control& control, storage::store& store,
                const clock& clock, limits::rate export_limit);

  // ---- the account (account_routes.cpp) ----

  /// GET /v1/me -> {"id", "username", "name", "show_presence"}.
  boost::asio::awaitable<response> me(const request& req);
  /// PATCH /v1/me {"name"?, "show_presence"?} -> 200, the account as GET /v1/me shows it.
  boost::asio::awaitable<response> update_me(const request& req);
  /// DELETE /v1/me {"password"} -> 204. 400 invalid_field without a password, 401
  /// bad_credentials for a wrong one.
  boost::asio::awaitable<response> delete_me(const request& req);
  /// GET /v1/me/export: the account, blocks, devices and every conversation with its messages,
  /// one JSON document written chunk by chunk through request::body_out as it is read
  /// (account_export.cpp). 429 rate_limited past EXPORT_LIMIT.
  boost::asio::awaitable<response> export_account(const request& req);

  // ---- blocks and push devices (block_routes.cpp, device_routes.cpp) ----

  /// GET /v1/blocks -> {"blocks": [{"id", "username", "name", "blocked_at"}]}.
  boost::asio::awaitable<response> blocks(const request& req);
  /// POST /v1/blocks {"username"} -> 201 (200 when blocked already) {"id", "username", "name", "blocked_at"}.
  boost::asio::awaitable<response> block(const request& req);
  /// DELETE /v1/blocks/{username} -> 204; 404 when not blocked.
  boost::asio::awaitable<response> unblock(const request& req);
  /// GET /v1/devices -> {"devices": [{"platform", "token", "created_at"}]}.
  boost::asio::awaitable<response> devices(const request& req);
  /// POST /v1/devices {"platform", "token"} -> 201 (200 when known) {"platform", "token", "created_at"}.
  boost::asio::awaitable<response> add_device(const request& req);
  /// DELETE /v1/devices {"platform", "token"} -> 204; 404 when not registered.
  boost::asio::awaitable<response> remove_device(const request& req);

 private:
  /// Writes the export of `who` to `req.body_out`.
  boost::asio::awaitable<response> write_export(const request& req, const user& who);

  chat::account_service& accounts_;
  chat::account_control& control_;
  storage::store& store_;
  const clock& clock_;
  limits::keyed_limiter exports_;  // per user id
};

}  // namespace chatrix::http
