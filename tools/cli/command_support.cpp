#include "command_support.hpp"

#include "session_access.hpp"

namespace chatrix::cli {

chat_session open_session(const context& ctx, std::optional<std::int64_t> since) {
  const saved_login login = require_login();
  return chat_session(server_for(ctx, login), login.token, since);
}

clock::time_point deadline_after(double seconds) {
  return clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) {
    if (!text.empty()) text += ' ';
    text += word;
  }
  return text;
}

bool about_connection(const frame& f) {
  const auto* object = f.body.if_object();
  return is(f, event::err) && (!object || !object->contains("ref_type"));
}

bool refuses(const frame& f, event type) {
  if (!is(f, event::err)) return false;
  const auto* object = f.body.if_object();
  const auto* ref = object ? object->if_contains("ref_type") : nullptr;
  return !ref || (ref->is_int64() && ref->get_int64() == static_cast<int>(type));
}

boost::json::array id_array(const std::vector<std::int64_t>& ids) {
  boost::json::array out;
  for (const auto id : ids) out.push_back(id);
  return out;
}

}  // namespace chatrix::cli
