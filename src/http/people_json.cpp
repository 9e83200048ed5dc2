#include "http/people_json.hpp"

#include "protocol/codec.hpp"

namespace chatrix::http {

void append_person_fields(std::string& out, const user& u) {
  out += "\"id\":" + std::to_string(u.id) + ",\"username\":";
  protocol::append_json_string(out, u.deleted ? std::string_view() : std::string_view(u.username));
  out += ",\"name\":";
  protocol::append_json_string(out, u.deleted ? std::string_view("Deleted account") : std::string_view(u.name));
  if (u.deleted) out += ",\"deleted\":true";
}

void append_account(std::string& out, const user& u) {
  out += '{';
  append_person_fields(out, u);
  out += ",\"show_presence\":";
  out += u.show_presence ? "true" : "false";
  out += '}';
}

void append_block(std::string& out, const block_entry& b) {
  out += '{';
  append_person_fields(out, b.blocked);
  out += ",\"blocked_at\":";
  protocol::append_json_string(out, protocol::format_rfc3339(b.created_at));
  out += '}';
}

void append_device(std::string& out, const push_device& d) {
  out += "{\"platform\":";
  protocol::append_json_string(out, d.platform);
  out += ",\"token\":";
  protocol::append_json_string(out, d.token);
  out += ",\"created_at\":";
  protocol::append_json_string(out, protocol::format_rfc3339(d.created_at));
  out += '}';
}

}  // namespace chatrix::http
