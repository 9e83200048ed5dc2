// The Prometheus text format as /metrics writes it: label and HELP escaping, histogram
// series, and the whole server exposition read back line by line with the format's grammar
// (every sample belongs to a family declared once, by HELP then TYPE, before its samples).
#include "metrics/exposition.hpp"
#include "metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace chatrix::metrics {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "the exposition ends with a newline";
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

struct sample {
  std::string name;
  std::map<std::string, std::string> labels;  // values unescaped
  double value = 0;
};

/// One sample line by the text format 0.0.4 grammar, or a test failure.
sample parse_sample(const std::string& line) {
  static const std::regex shape(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  std::smatch m;
  if (!std::regex_match(line, m, shape)) {
    ADD_FAILURE() << "not a sample line: " << line;
    return {};
  }
  sample s;
  s.name = m[1];
  const std::string labels = m[3];
  for (std::size_t i = 0; i < labels.size();) {
    const auto eq = labels.find("=\"", i);
    if (eq == std::string::npos) {
      ADD_FAILURE() << "bad labels in " << line;
      return s;
    }
    const std::string key = labels.substr(i, eq - i);
    EXPECT_TRUE(std::regex_match(key, std::regex("[a-zA-Z_][a-zA-Z0-9_]*"))) << line;
    std::string value;
    std::size_t j = eq + 2;
    for (; j < labels.size() && labels[j] != '"'; ++j) {
      if (labels[j] == '\\') {
        if (++j == labels.size()) break;
        EXPECT_TRUE(labels[j] == '\\' || labels[j] == '"' || labels[j] == 'n') << "bad escape in " << line;
        value += labels[j] == 'n' ? '\n' : labels[j];
      } else {
        value += labels[j];
      }
    }
    EXPECT_LT(j, labels.size()) << "unterminated label value in " << line;
    s.labels[key] = value;
    i = j + 1;
    if (i < labels.size()) {
      EXPECT_EQ(labels[i], ',') << line;
      ++i;
    }
  }
  const std::string v = m[4];
  if (v == "+Inf") {
    s.value = std::numeric_limits<double>::infinity();
  } else {
    std::size_t used = 0;
    s.value = std::stod(v, &used);
    EXPECT_EQ(used, v.size()) << line;
  }
  return s;
}

/// Checks the grammar of a whole exposition; returns every sample by family.
std::map<std::string, std::vector<sample>> parse_exposition(const std::string& text) {
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::map<std::string, std::vector<sample>> out;
  std::string current;
  for (const auto& line : lines_of(text)) {
    if (line.rfind("# HELP ", 0) == 0) {
      const auto name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helped.insert(name).second) << "HELP twice for " << name;
      current = name;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream in(line.substr(7));
      std::string name, type;
      in >> name >> type;
      EXPECT_EQ(name, current) << "TYPE right after its HELP";
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      EXPECT_TRUE(types.emplace(name, type).second) << "TYPE twice for " << name;
      if (type == "counter") {
        EXPECT_TRUE(name.ends_with("_total")) << "a counter's name ends in _total: " << name;
      }
      continue;
    }
    EXPECT_NE(line.rfind('#', 0), 0u) << "unknown comment: " << line;
    auto s = parse_sample(line);
    std::string family = s.name;
    if (types[current] == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        if (family.ends_with(suffix) && family.substr(0, family.size() - std::string(suffix).size()) == current)
          family = current;
    }
    EXPECT_EQ(family, current) << "a sample outside its family: " << line;
    out[family].push_back(std::move(s));
  }
  for (const auto& [name, type] : types) {
    EXPECT_TRUE(out.contains(name)) << "no sample for " << name;
    if (type != "histogram") continue;
    // Buckets cumulative, +Inf last and equal to _count.
    double last = 0;
    double inf = -1, count = -2;
    for (const auto& s : out[name]) {
      if (s.name == name + "_bucket") {
        EXPECT_GE(s.value, last) << name << " buckets are cumulative";
        last = s.value;
        if (s.labels.at("le") == "+Inf") inf = s.value;
      } else if (s.name == name + "_count") {
        count = s.value;
      }
    }
    EXPECT_EQ(inf, count) << name;
  }
  return out;
}

TEST(exposition, label_values_escape_backslash_quote_and_newline) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)" "\n" "d"), R"(a\\b\"c\nd)");
  EXPECT_EQ(escape_label_value("plain_code"), "plain_code");
  EXPECT_EQ(escape_help("say \"hi\"\\\n"), "say \"hi\"\\\\\\n");
  EXPECT_EQ(exposition::label("code", "a\"b"), R"(code="a\"b")");
}

TEST(exposition, an_escaped_label_reads_back_as_the_original) {
  std::string text;
  exposition out(text);
  out.family("test_total", "counter", "A test\\counter.\nSecond line.");
  out.sample("test_total", exposition::label("what", "x\"y\\z\nw"), std::uint64_t{3});
  const auto parsed = parse_exposition(text);
  ASSERT_EQ(parsed.at("test_total").size(), 1u);
  EXPECT_EQ(parsed.at("test_total")[0].labels.at("what"), "x\"y\\z\nw");
  EXPECT_EQ(parsed.at("test_total")[0].value, 3);
  EXPECT_NE(text.find("# HELP test_total A test\\\\counter.\\nSecond line.\n"), std::string::npos) << text;
}

TEST(exposition, a_histogram_is_cumulative_buckets_then_sum_and_count_in_base_units) {
  latency_histogram h;
  h.observe(std::chrono::microseconds(50));
  h.observe(std::chrono::milliseconds(2));
  h.observe(std::chrono::seconds(20));
  std::string text;
  exposition out(text);
  out.family("x_seconds", "histogram", "x.");
  out.histogram_samples("x_seconds", exposition::label("kind", "a"), h.read());
  EXPECT_NE(text.find("x_seconds_bucket{kind=\"a\",le=\"0.0001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{kind=\"a\",le=\"0.0025\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{kind=\"a\",le=\"10\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{kind=\"a\",le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_sum{kind=\"a\"} 20.00205\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_count{kind=\"a\"} 3\n"), std::string::npos) << text;
  parse_exposition(text);
}

TEST(server_exposition, every_line_follows_the_format_and_the_old_names_are_kept) {
  server_metrics m;
  server_metrics::add(m.messages_stored, 5);
  m.error_sent(errc::rate_limited);
  m.error_sent(errc::rate_limited);
  m.error_sent(errc::not_found);
  m.connections_in(connection_state::open).fetch_add(2);
  m.send_stored.observe(std::chrono::milliseconds(3));
  m.store.commit_writes.observe(7);
  const auto parsed = parse_exposition(render_prometheus(m));

  // Names that tests, docs and dashboards use; they must never change.
  for (const char* name :
       {"chatrix_connections_open", "chatrix_connections_total", "chatrix_auth_failures_total",
        "chatrix_frames_received_total", "chatrix_errors_sent_total", "chatrix_messages_stored_total",
        "chatrix_messages_duplicate_total", "chatrix_messages_delivered_total", "chatrix_messages_read_total",
        "chatrix_pending_pushed_total", "chatrix_slow_consumer_disconnects_total", "chatrix_http_requests_total",
        "chatrix_store_errors_total", "chatrix_limited_login_username_total", "chatrix_limited_login_address_total",
        "chatrix_limited_register_total", "chatrix_limited_messages_total", "chatrix_limited_reads_total",
        "chatrix_limited_connections_total", "chatrix_quota_exceeded_total", "chatrix_hash_queue_full_total",
        "chatrix_flood_disconnects_total", "chatrix_unauthenticated_closed_total", "chatrix_login_failures_total",
        "chatrix_bad_tokens_total", "chatrix_tokens_revoked_total", "chatrix_sessions_closed_token_total",
        "chatrix_http_timeouts_total", "chatrix_origin_refused_total", "chatrix_push_sent_total",
        "chatrix_push_failed_total", "chatrix_push_dropped_total"})
    EXPECT_TRUE(parsed.contains(name)) << name;
  EXPECT_EQ(parsed.at("chatrix_messages_stored_total").at(0).value, 5);

  std::map<std::string, double> errors;
  for (const auto& s : parsed.at("chatrix_errors_total")) errors[s.labels.at("code")] = s.value;
  EXPECT_EQ(errors.size(), error_code_count) << "every code is listed, zeros included";
  EXPECT_EQ(errors.at("rate_limited"), 2);
  EXPECT_EQ(errors.at("not_found"), 1);
  EXPECT_EQ(errors.at("internal"), 0);

  std::map<std::string, double> states;
  for (const auto& s : parsed.at("chatrix_websocket_connections")) states[s.labels.at("state")] = s.value;
  EXPECT_EQ(states, (std::map<std::string, double>{{"authenticating", 0}, {"closing", 0}, {"open", 2}}));

  std::set<std::string> queues;
  for (const auto& s : parsed.at("chatrix_queue_depth")) queues.insert(s.labels.at("queue"));
  EXPECT_EQ(queues, (std::set<std::string>{"bus_events", "password_hashes", "pushes", "store_writes"}));

  for (const char* name : {"chatrix_send_stored_seconds", "chatrix_send_delivered_seconds", "chatrix_store_commit_seconds",
                           "chatrix_store_commit_writes", "chatrix_bus_publish_seconds", "chatrix_socket_queued_bytes",
                           "chatrix_cluster_nodes", "chatrix_bus_reconnects_total", "chatrix_bus_resyncs_total"})
    EXPECT_TRUE(parsed.contains(name)) << name;
  for (const auto& s : parsed.at("chatrix_send_stored_seconds")) {
    if (s.name == "chatrix_send_stored_seconds_sum") {
      EXPECT_DOUBLE_EQ(s.value, 0.003);
    }
  }
  for (const auto& s : parsed.at("chatrix_store_commit_writes")) {
    if (s.name == "chatrix_store_commit_writes_count") {
      EXPECT_EQ(s.value, 1);
    }
  }
}

TEST(server_exposition, last_error_code_is_the_last_errc) {
  // A code added after it would be counted nowhere: code_name falls back to "internal" for
  // values that are no errc, so the value after the last one must get that fallback.
  const auto next = static_cast<errc>(error_code_count);
  EXPECT_NE(static_cast<std::size_t>(errc::internal), error_code_count);
  EXPECT_EQ(code_name(next), "internal") << "update metrics::last_error_code";
  EXPECT_NE(code_name(last_error_code), "internal");
}

}  // namespace
}  // namespace chatrix::metrics
