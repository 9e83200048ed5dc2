#include "http/people_json.hpp"

#include "protocol/codec.hpp"
#include "protocol/json_out.hpp"

namespace chatrix::http {

void append_account(std::string& out, const user& u) {
  protocol::detail::append_user_fields(out, u);
  out += ",\"show_presence\":";
  out += u.show_presence ? "true" : "false";
  out += '}';
}

void append_block(std::string& out, const block_entry& b) {
  protocol::detail::append_user_fields(out, b.blocked);
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
