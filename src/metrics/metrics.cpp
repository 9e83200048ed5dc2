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
  out.reserve(2048);
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
  return out;
}

}  // namespace chatrix::metrics
