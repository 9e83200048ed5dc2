// POST /v1/files and GET /v1/files/{id}: uploads stored chunk by chunk as they arrive, and
// downloads read chunk by chunk as they are written, so that no file is ever held whole in
// memory (docs/storage.md, "Files"; docs/security.md, "Files").
#pragma once

#include "chat/account_service.hpp"
#include "chat/chat_service.hpp"
#include "core/clock.hpp"
#include "http/router.hpp"
#include "limits/keyed_limiter.hpp"
#include "storage/store.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>

namespace chatrix::http {

struct file_options {
  std::uint64_t max_bytes = 25ull * 1024 * 1024;                   // FILE_MAX_BYTES
  limits::rate upload_limit{30, std::chrono::minutes(1)};          // FILE_UPLOAD_LIMIT, per user on this node
};

/// Thread-safety: I/O thread only.
class file_routes {
 public:
  file_routes(chat::account_service& accounts, chat::chat_service& chat, storage::store& store, const clock& clock,
              file_options options);

  /// POST /v1/files?name=<name>, the raw bytes as the body (request::body_in) ->
  /// 201 {"id", "name", "type", "size"}. Refused before any byte of the body is read: 401,
  /// 400 invalid_field (name), 429 rate_limited (FILE_UPLOAD_LIMIT) or quota_exceeded
  /// (STORAGE_QUOTA, charged with the Content-Length), 413 body_too_large (Content-Length
  /// over FILE_MAX_BYTES). While streaming: 413 once a chunked body passes FILE_MAX_BYTES,
  /// 429 quota_exceeded once it passes the quota; the partial file is abandoned (it stays
  /// incomplete, which no download ever serves).
  boost::asio::awaitable<response> upload(const request& req);
  /// GET or HEAD /v1/files/{id}: the bytes through request::body_out, or 404 not_found for
  /// anybody but the uploader and the participants of a conversation where it was sent.
  boost::asio::awaitable<response> download(const request& req);

 private:
  chat::account_service& accounts_;
  chat::chat_service& chat_;
  storage::store& store_;
  const clock& clock_;
  file_options options_;
  limits::keyed_limiter uploads_;  // per user id
};

}  // namespace chatrix::http
