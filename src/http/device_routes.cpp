// GET, POST and DELETE /v1/devices: the push tokens a user's apps registered, which push
// webhooks carry (docs/protocol.md, "Push for offline devices").
#include "chat/await.hpp"
#include "http/bearer.hpp"
#include "http/json_body.hpp"
#include "http/people_json.hpp"
#include "http/people_routes.hpp"

#include <algorithm>

namespace chatrix::http {

namespace asio = boost::asio;
using chat::await_callback;

namespace {

constexpr std::size_t max_platform_bytes = 32;
constexpr std::size_t max_token_bytes = 4096;

/// 1-32 of [a-z0-9_-]: a name the app server switches on ("fcm", "apns", "webpush").
bool valid_platform(std::string_view p) {
  return !p.empty() && p.size() <= max_platform_bytes && std::all_of(p.begin(), p.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

/// 1-4096 printable ASCII bytes: every push service's tokens are, and nothing else reaches a
/// webhook body or a log line unescaped.
bool valid_token(std::string_view t) {
  return !t.empty() && t.size() <= max_token_bytes &&
         std::all_of(t.begin(), t.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

/// The {"platform", "token"} of POST and DELETE /v1/devices.
result<push_device> read_device(const request& req) {
  auto fields = read_fields(req, {"platform", "token"});
  if (!fields) return fields.error();
  auto& f = *fields;
  if (!valid_platform(f[0])) return make_error(errc::invalid_field, "platform must be 1-32 of a-z, 0-9, _ and -");
  if (!valid_token(f[1])) return make_error(errc::invalid_field, "token must be 1-4096 printable ASCII characters");
  return push_device{std::move(f[0]), std::move(f[1]), 0};
}

}  // namespace

asio::awaitable<response> people_routes::devices(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  auto rows = co_await await_callback<std::vector<push_device>>([&](auto done) { store_.push_devices(who->id, done); });
  if (!rows) co_return error_response(rows.error());
  std::string body = "{\"devices\":[";
  for (std::size_t i = 0; i < rows->size(); ++i) {
    if (i) body += ',';
    append_device(body, (*rows)[i]);
  }
  body += "]}";
  co_return response{200, std::move(body)};
}

asio::awaitable<response> people_routes::add_device(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  auto device = read_device(req);
  if (!device) co_return error_response(device.error());
  device->created_at = clock_.now_ms();
  auto added = co_await await_callback<bool>([&](auto done) { store_.add_push_device(who->id, *device, done); });
  if (!added) co_return error_response(added.error());
  if (!*added) {
    // Known already: answered as it was first registered.
    auto rows = co_await await_callback<std::vector<push_device>>(
        [&](auto done) { store_.push_devices(who->id, done); });
    if (!rows) co_return error_response(rows.error());
    const auto it = std::find_if(rows->begin(), rows->end(), [&](const push_device& d) {
      return d.platform == device->platform && d.token == device->token;
    });
    if (it != rows->end()) device->created_at = it->created_at;
  }
  std::string body;
  append_device(body, *device);
  co_return response{*added ? 201u : 200u, std::move(body)};
}

asio::awaitable<response> people_routes::remove_device(const request& req) {
  auto who = co_await bearer_user(accounts_, req);
  if (!who) co_return bearer_refused(who.error());
  auto device = read_device(req);
  if (!device) co_return error_response(device.error());
  auto removed = co_await await_callback<bool>(
      [&](auto done) { store_.remove_push_device(who->id, device->platform, device->token, done); });
  if (!removed) co_return error_response(removed.error());
  if (!*removed) co_return error_response(make_error(errc::not_found, "no such device registered"));
  co_return response{204, {}};
}

}  // namespace chatrix::http
