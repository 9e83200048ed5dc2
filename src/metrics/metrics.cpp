#include "metrics/metrics.hpp"

namespace chatrix::metrics {

namespace {

template <class Atomic>
void line(std::string& out, const char* name, const char* type, const char* help, const Atomic& value) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  out += name;
  out += ' ';
  out += std::to_string(value.load(std::memory_order_relaxed));
  out += '\n';
}

}  // namespace

std::string render_prometheus(const server_metrics& m) {
  std::string out;
  out.reserve(6144);
  line(out, "chatrix_connections_open", "gauge", "Authenticated WebSocket connections now open.", m.connections_open);
  line(out, "chatrix_connections_total", "counter", "WebSocket connections accepted.", m.connections_total);
  line(out, "chatrix_auth_failures_total", "counter", "Sessions refused at authentication.", m.auth_failures);
  line(out, "chatrix_frames_received_total", "counter", "Frames received from authenticated clients.", m.frames_received);
  line(out, "chatrix_errors_sent_total", "counter", "ERR frames sent.", m.errors_sent);
  line(out, "chatrix_messages_stored_total", "counter", "Messages stored durably.", m.messages_stored);
  line(out, "chatrix_messages_duplicate_total", "counter", "Retries recognised and not stored again.", m.messages_duplicate);
  line(out, "chatrix_messages_delivered_total", "counter", "Messages marked delivered to their recipient.", m.messages_delivered);
  line(out, "chatrix_messages_read_total", "counter", "Messages marked read.", m.messages_read);
  line(out, "chatrix_pending_pushed_total", "counter", "Pending messages pushed on connect.", m.pending_pushed);
  line(out, "chatrix_slow_consumer_disconnects_total", "counter", "Connections cut off for not reading.", m.slow_consumer_disconnects);
  line(out, "chatrix_http_requests_total", "counter", "HTTP requests handled.", m.http_requests);
  line(out, "chatrix_store_errors_total", "counter", "Store operations that failed.", m.store_errors);
  line(out, "chatrix_limited_login_username_total", "counter", "Logins refused by LOGIN_FAILURE_LIMIT.", m.limited_login_username);
  line(out, "chatrix_limited_login_address_total", "counter", "Logins refused by LOGIN_ADDRESS_LIMIT.", m.limited_login_address);
  line(out, "chatrix_limited_register_total", "counter", "Registrations refused by REGISTER_LIMIT.", m.limited_register);
  line(out, "chatrix_limited_messages_total", "counter", "TEXT frames refused by MESSAGE_RATE/MESSAGE_BURST.", m.limited_messages);
  line(out, "chatrix_limited_reads_total", "counter", "Searches and history requests refused by their limits.", m.limited_reads);
  line(out, "chatrix_limited_connections_total", "counter", "Connections refused by a per-address or total limit.", m.limited_connections);
  line(out, "chatrix_quota_exceeded_total", "counter", "TEXT frames refused by STORAGE_QUOTA.", m.quota_exceeded);
  line(out, "chatrix_hash_queue_full_total", "counter", "Logins and registrations refused with 503: HASH_QUEUE full.", m.hash_queue_full);
  line(out, "chatrix_flood_disconnects_total", "counter", "Connections closed for flooding past MESSAGE_FLOOD_LIMIT.", m.flood_disconnects);
  line(out, "chatrix_unauthenticated_closed_total", "counter", "Connections closed before auth for control-frame floods.", m.unauthenticated_closed);
  line(out, "chatrix_login_failures_total", "counter", "Logins refused for a wrong password or an unknown user.", m.login_failures);
  line(out, "chatrix_bad_tokens_total", "counter", "Tokens refused (forged, expired, revoked, unknown user).", m.bad_tokens);
  line(out, "chatrix_tokens_revoked_total", "counter", "Token revocations made on this node.", m.tokens_revoked);
  line(out, "chatrix_sessions_closed_token_total", "counter", "Live sockets closed because their token expired or was revoked.", m.sessions_closed_token);
  line(out, "chatrix_http_timeouts_total", "counter", "HTTP connections cut off at a request deadline.", m.http_timeouts);
  line(out, "chatrix_origin_refused_total", "counter", "WebSocket upgrades refused by WS_ORIGINS.", m.origin_refused);
  return out;
}

}  // namespace chatrix::metrics
