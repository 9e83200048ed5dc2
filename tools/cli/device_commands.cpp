// devices: the push tokens of the account over HTTP (/v1/devices). The push webhook carries
// them when a message reached none of the user's connected devices (docs/protocol.md).
#include "command_support.hpp"
#include "http_api.hpp"
#include "session_access.hpp"

#include <boost/json/serialize.hpp>

namespace chatrix::cli {

namespace json = boost::json;

namespace {

json::object device_body(const device_options& options) {
  return {{"platform", options.platform}, {"token", options.token}};
}

void print_device(const context& ctx, const json::value& row, const std::string& verb) {
  const auto& device = as_object(row, "device");
  const std::string platform = string_field(device, "platform");
  const std::string token = string_field(device, "token");
  const json::value created_at = device.contains("created_at") ? device.at("created_at") : json::value(nullptr);
  const std::string when = created_at.is_string() ? std::string(created_at.get_string()) : json::serialize(created_at);
  ctx.out.record({{"platform", platform}, {"token", token}, {"created_at", created_at}},
                 verb + platform + " " + token + "  (registered " + when + ")");
}

}  // namespace

void run_devices(const context& ctx) {
  const saved_login login = require_login();
  const json::value answer = get_json(server_for(ctx, login), login.token, "/v1/devices");
  const auto* rows = as_object(answer, "devices").if_contains("devices");
  if (!rows || !rows->is_array()) return;
  for (const auto& row : rows->get_array()) print_device(ctx, row, "");
}

void run_device_add(const context& ctx, const device_options& options) {
  const saved_login login = require_login();
  print_device(ctx,
               call_json(server_for(ctx, login), login.token, http_request::method::post, "/v1/devices",
                         device_body(options)),
               "registered ");
}

void run_device_remove(const context& ctx, const device_options& options) {
  const saved_login login = require_login();
  call_json(server_for(ctx, login), login.token, http_request::method::del, "/v1/devices", device_body(options));
  ctx.out.record({{"platform", options.platform}, {"token", options.token}, {"removed", true}},
                 "removed " + options.platform + " " + options.token);
}

}  // namespace chatrix::cli
