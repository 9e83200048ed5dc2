#include "http/file_routes.hpp"

#include "auth/random_id.hpp"
#include "chat/await.hpp"
#include "core/log.hpp"
#include "http/bearer.hpp"
#include "http/body_stream.hpp"
#include "http/file_headers.hpp"
#include "http/target.hpp"
#include "protocol/codec.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <span>

namespace chatrix::http {

namespace asio = boost::asio;
using chat::await_callback;

namespace {

error too_large(std::uint64_t max_bytes) {
  return make_error(errc::body_too_large, "the file is larger than FILE_MAX_BYTES (" + std::to_string(max_bytes) + " bytes)");
}

/// A store write's outcome: false means the write did not fit the file's state (an id taken,
/// a chunk out of turn), a fault of this server, never of the client.
std::optional<error> write_failed(const result<bool>& r) {
  if (!r) return r.error();
  if (!*r) return make_error(errc::internal, "the file could not be stored");
  return std::nullopt;
}

error quota_used_up(std::chrono::milliseconds wait) {
  return make_limited(errc::quota_exceeded, "today's storage quota is used up; it starts again at 00:00 UTC",
                      wait.count());
}

std::string file_json(const file_info& f) {
  std::string out = "{\"id\":";
  protocol::append_json_string(out, f.id);
  out += ",\"name\":";
  protocol::append_json_string(out, f.name);
  out += ",\"type\":";
  protocol::append_json_string(out, f.type);
  out += ",\"size\":" + std::to_string(f.size) + '}';
  return out;
}

}  // namespace

file_routes::file_routes(chat::account_service& accounts, chat::chat_service& chat, storage::store& store,
                         const clock& clock, file_options options)
    : accounts_(accounts), chat_(chat), store_(store), clock_(clock), options_(options), uploads_(options.upload_limit) {}

asio::awaitable<response> file_routes::upload(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  const auto target = parse_target(req.target);
  const auto* name = target ? target->param("name") : nullptr;
  if (name == nullptr || !valid_file_name(*name))
    co_return error_response(make_error(
        errc::invalid_field, "the name parameter must be 1 to 255 bytes of UTF-8 without control characters or '/'"));
  // The transport hands an upload its body unread (router::streams_body); one that did not
  // (a caller of handle() that read the body itself) gets an error, not a crash.
  if (req.body_in == nullptr) co_return error_response(make_error(errc::internal, "the upload's body is not readable"));
  auto& body = *req.body_in;
  const auto length = body.length();
  if (length && *length > options_.max_bytes) co_return error_response(too_large(options_.max_bytes));
  if (const auto wait = uploads_.take(std::to_string(who->id), std::chrono::steady_clock::now()); wait.count() > 0)
    co_return error_response(
        make_limited(errc::rate_limited, "too many uploads (FILE_UPLOAD_LIMIT); retry after retry_after_ms", wait.count()));
  // A Content-Length is charged whole before any byte is read; a chunked body chunk by chunk.
  const unix_ms now = clock_.now_ms();
  std::uint64_t charged = 0;
  if (length && *length > 0) {
    if (const auto wait = chat_.charge_storage(who->id, *length, now); wait.count() > 0)
      co_return error_response(quota_used_up(wait));
    charged = *length;
  }
  auto refused = [&](const error& err) {
    chat_.refund_storage(who->id, charged, now);
    return error_response(err);
  };

  storage::stored_file file;
  file.info = file_info{auth::random_id(), *name, upload_type(req.content_type), 0};
  file.owner = who->id;
  file.created_at = now;
  const auto id = file.info.id;
  auto made = co_await await_callback<bool>([&](auto done) { store_.create_file(file, done); });
  if (auto err = write_failed(made)) co_return refused(*err);

  std::uint64_t size = 0;
  int chunks = 0;
  for (bool ended = false; !ended;) {
    // One store chunk at a time, written (and awaited) before more is read: a fast client
    // waits for the store (TCP backpressure) instead of filling memory.
    std::string chunk(storage::file_chunk_bytes, '\0');
    std::size_t filled = 0;
    while (filled < chunk.size()) {
      auto n = co_await body.read(std::span<char>(chunk).subspan(filled));
      if (!n) co_return refused(n.error());
      if (*n == 0) {
        ended = true;
        break;
      }
      filled += *n;
      if (size + filled > options_.max_bytes) co_return refused(too_large(options_.max_bytes));
    }
    if (filled == 0) break;
    chunk.resize(filled);
    if (!length) {
      if (const auto wait = chat_.charge_storage(who->id, filled, now); wait.count() > 0)
        co_return refused(quota_used_up(wait));
      charged += filled;
    }
    size += filled;
    auto stored = co_await await_callback<bool>(
        [&](auto done) { store_.append_file_chunk(id, chunks, std::move(chunk), done); });
    if (auto err = write_failed(stored)) co_return refused(*err);
    ++chunks;
  }
  auto finished = co_await await_callback<bool>(
      [&](auto done) { store_.finish_file(id, static_cast<std::int64_t>(size), chunks, done); });
  if (auto err = write_failed(finished)) co_return refused(*err);
  file.info.size = static_cast<std::int64_t>(size);
  co_return response{201, file_json(file.info)};
}

asio::awaitable<response> file_routes::download(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  const auto target = parse_target(req.target);
  const auto not_found = make_error(errc::not_found, "no such file");
  // File ids are 32 characters; anything much longer is not one (and is not sent to the store).
  if (!target || target->segments.size() != 3 || target->segments[2].size() > 64)
    co_return error_response(not_found);
  const auto id = target->segments[2];
  auto found = co_await await_callback<std::optional<storage::stored_file>>(
      [&](auto done) { store_.file_for(who->id, id, done); });
  if (!found) co_return error_response(found.error());
  if (!*found) co_return error_response(not_found);
  const auto& file = **found;

  response head{200, {}, file.info.type};
  // Never rendered by the browser (a page or script uploaded as text/html would run with
  // this origin's rights otherwise): saved as a file, its type taken as given.
  head.headers.emplace_back("Content-Disposition", attachment_disposition(file.info.name));
  head.headers.emplace_back("X-Content-Type-Options", "nosniff");
  head.headers.emplace_back("Cache-Control", "private, no-store");
  response answered{200, {}};
  answered.streamed = true;
  if (req.body_out == nullptr) co_return error_response(make_error(errc::internal, "the answer cannot be streamed"));
  if (!co_await req.body_out->start(std::move(head), static_cast<std::uint64_t>(file.info.size))) co_return answered;
  if (req.method == "HEAD") co_return answered;
  for (int i = 0; i < file.chunks; ++i) {
    auto bytes = co_await await_callback<std::string>([&](auto cb) { store_.read_file_chunk(id, i, cb); });
    if (!bytes) {
      // The status is sent already: the connection closes short of the Content-Length,
      // which tells the client the download failed.
      spdlog::warn("file {}: reading chunk {} failed: {}", id, i, bytes.error().message);
      answered.status = 500;
      co_return answered;
    }
    if (!co_await req.body_out->write(*bytes)) co_return answered;
  }
  co_return answered;
}

}  // namespace chatrix::http
