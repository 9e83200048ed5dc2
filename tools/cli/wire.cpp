#include "wire.hpp"

#include "cli_error.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace chatrix::cli {

namespace json = boost::json;

namespace {

cli_error protocol_broken(const std::string& what) {
  return cli_error("bad_response", "unexpected answer from the server: " + what, exit_status::unreachable);
}

}  // namespace

frame parse_frame(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) throw protocol_broken("a frame that is not JSON");
  const auto& object = as_object(value, "frame");
  frame out;
  out.type = static_cast<int>(int_field(object, "type"));
  if (const auto* body = object.if_contains("body")) out.body = *body;
  if (const auto* pos = object.if_contains("pos"); pos && (pos->is_int64() || pos->is_uint64()))
    out.pos = pos->to_number<std::int64_t>();
  return out;
}

std::string encode_frame(event type, json::value body) {
  return json::serialize(json::object{{"type", static_cast<int>(type)}, {"body", std::move(body)}});
}

error_reply error_of(const json::value& body) {
  error_reply out;
  if (const auto* object = body.if_object()) {
    if (const auto* code = object->if_contains("code"); code && code->is_string()) out.code = code->get_string();
    if (const auto* reason = object->if_contains("error"); reason && reason->is_string())
      out.reason = reason->get_string();
  }
  return out;
}

error_reply http_error_of(unsigned status, std::string_view body) {
  boost::system::error_code ec;
  const json::value value = json::parse(body, ec);
  error_reply out = ec ? error_reply{} : error_of(value);
  if (out.code.empty()) out.code = "http_" + std::to_string(status);
  if (out.reason.empty()) out.reason = "the server answered HTTP " + std::to_string(status);
  return out;
}

user user_of(const json::value& value) {
  const auto& object = as_object(value, "user");
  user out;
  out.id = int_field(object, "id");
  out.username = string_field(object, "username");
  out.name = object.contains("name") && object.at("name").is_string() ? std::string(object.at("name").get_string())
                                                                       : std::string();
  return out;
}

const json::object& as_object(const json::value& value, std::string_view what) {
  if (!value.is_object()) throw protocol_broken(std::string(what) + " is not an object");
  return value.get_object();
}

std::int64_t int_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (!value || !(value->is_int64() || value->is_uint64()))
    throw protocol_broken("no integer \"" + std::string(key) + "\"");
  return value->to_number<std::int64_t>();
}

std::string string_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (!value || !value->is_string()) throw protocol_broken("no string \"" + std::string(key) + "\"");
  return std::string(value->get_string());
}

std::int64_t int_field_or(const json::object& object, std::string_view key, std::int64_t fallback) {
  const auto* value = object.if_contains(key);
  if (!value || value->is_null()) return fallback;
  return int_field(object, key);
}

bool bool_field_or(const json::object& object, std::string_view key, bool fallback) {
  const auto* value = object.if_contains(key);
  if (!value || !value->is_bool()) return fallback;
  return value->get_bool();
}

}  // namespace chatrix::cli
