#include "metrics/metrics.hpp"

#include "metrics/exposition.hpp"

namespace chatrix::metrics {

namespace {

constexpr const char* connection_state_names[connection_state_count] = {"authenticating", "open", "closing"};

void gauge_family(exposition& out, const char* name, const char* help, const gauge& value) {
  out.family(name, "gauge", help);
  out.sample(name, {}, value.load(std::memory_order_relaxed));
}

void counter_family(exposition& out, const char* name, const char* help, const counter& value) {
  out.family(name, "counter", help);
  out.sample(name, {}, value.load(std::memory_order_relaxed));
}

void histogram_family(exposition& out, const char* name, const char* help, const histogram& h) {
  out.family(name, "histogram", help);
  out.histogram_samples(name, {}, h.read());
}

/// The series added with the histograms; the flat list above them keeps its order and names.
void render_detail(exposition& out, const server_metrics& m) {
  out.family("chatrix_errors_total", "counter", "ERR frames and HTTP error answers sent, by error code.");
  // Every code is listed, zeros included, so that rate() sees a series from its first error.
  for (std::size_t i = 0; i < error_code_count; ++i)
    out.sample("chatrix_errors_total", exposition::label("code", code_name(static_cast<errc>(i))),
               m.errors_by_code[i].load(std::memory_order_relaxed));
  out.family("chatrix_websocket_connections", "gauge",
             "WebSocket connections by phase: authenticating (token awaited), open, closing (close handshake).");
  for (std::size_t i = 0; i < connection_state_count; ++i)
    out.sample("chatrix_websocket_connections", exposition::label("state", connection_state_names[i]),
               m.websocket_connections[i].load(std::memory_order_relaxed));
  gauge_family(out, "chatrix_socket_queued_bytes", "Bytes queued to WebSocket sockets and not yet written.",
               m.socket_queued_bytes);
  out.family("chatrix_queue_depth", "gauge", "Items waiting in a bounded queue, by queue.");
  out.sample("chatrix_queue_depth", exposition::label("queue", "store_writes"),
             m.store.queued_writes.load(std::memory_order_relaxed));
  out.sample("chatrix_queue_depth", exposition::label("queue", "password_hashes"),
             m.hash_queue.load(std::memory_order_relaxed));
  out.sample("chatrix_queue_depth", exposition::label("queue", "bus_events"),
             m.cluster.queued_events.load(std::memory_order_relaxed));
  out.sample("chatrix_queue_depth", exposition::label("queue", "pushes"), m.push_queue.load(std::memory_order_relaxed));

  histogram_family(out, "chatrix_send_stored_seconds",
                   "From a TEXT taken to its DELIVERED queued to the sender (stored durably).", m.send_stored);
  histogram_family(out, "chatrix_send_delivered_seconds",
                   "From a TEXT taken to its frame queued to a recipient device on the same node.", m.send_delivered);
  histogram_family(out, "chatrix_store_commit_seconds", "Store write transactions: BEGIN to COMMIT done.",
                   m.store.commit_seconds);
  histogram_family(out, "chatrix_store_commit_writes", "Writes group-committed in one store transaction.",
                   m.store.commit_writes);
  histogram_family(out, "chatrix_bus_publish_seconds", "Redis bus: PUBLISH written to its reply.",
                   m.cluster.publish_seconds);
  gauge_family(out, "chatrix_cluster_nodes", "Live nodes as this node last saw them, itself included.",
               m.cluster.nodes);
  counter_family(out, "chatrix_bus_reconnects_total", "Redis links (commands, subscription) re-established after a loss.",
                 m.cluster.reconnects);
  counter_family(out, "chatrix_bus_resyncs_total", "Resyncs: local devices re-read from the store after the bus lost events.",
                 m.cluster.resyncs);
  counter_family(out, "chatrix_bus_ephemeral_dropped_total",
                 "Ephemeral events (typing) the Redis bus did not route: its queue was half full, or Redis was down.",
                 m.cluster.ephemeral_dropped);
}

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
  out.reserve(16384);
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
  line(out, "chatrix_typing_dropped_total", "counter", "Typing indicators not sent to a device that was catching up or had a backlog.", m.typing_dropped);
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
  line(out, "chatrix_push_sent_total", "counter", "Push webhooks the receiver took (2xx).", m.push_sent);
  line(out, "chatrix_push_failed_total", "counter", "Push attempts that failed (network, timeout, non-2xx, store).", m.push_failed);
  line(out, "chatrix_push_dropped_total", "counter", "Pushes dropped: PUSH_QUEUE full, given up, or refused.", m.push_dropped);
  exposition detail(out);
  render_detail(detail, m);
  return out;
}

}  // namespace chatrix::metrics
