// Plain interfaces between chatrix-bench's parts: options, account setup over HTTP, and the
// WebSocket runners (all Beast WebSocket code lives in ws_runner.cpp to keep compile time down).
#pragma once

#include "config/address.hpp"
#include "histogram.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace chatrix::bench {

/// ws://host:port/path split into parts, by the server's own address parser; the HTTP API is
/// at http://host:port.
using endpoint = config::websocket_address;

struct account {
  std::string username;
  std::string token;
};

/// Registers each username (or logs in when registration answers 409), using `concurrency`
/// blocking HTTP workers with keep-alive. Throws std::runtime_error on the first failure.
std::vector<account> obtain_accounts(const endpoint& http, const std::vector<std::string>& usernames,
                                     const std::string& password, int concurrency);

/// POSTs one TEXT ("hello") from from[i] to to[i] over /v1/messages, so that each pair shares
/// a conversation. Throws std::runtime_error on the first failure.
void send_first_messages(const endpoint& http, const std::vector<account>& from, const std::vector<account>& to,
                         int concurrency);

/// The figures of one interval of the measured window (--report-every), for long runs that
/// record how throughput and latency change over time (tools/bench/soak.sh).
struct interval_report {
  double at_s = 0;             // the interval's end, from the start of the measured window
  double seconds = 0;          // its length
  std::uint64_t acked = 0;     // DELIVERED frames that arrived in it
  std::uint64_t delivered = 0; // recipient TEXTs that arrived in it
  std::uint64_t errors = 0;    // ERR frames and dropped connections so far, whole run
  histogram ack_ns;            // latencies of the messages acked in it
  histogram deliver_ns;        // latencies of the messages delivered in it
};

struct load_options {
  endpoint sender_url;
  endpoint recipient_url;
  std::vector<account> senders;     // pair i: senders[i] -> recipients[i]
  std::vector<account> recipients;
  int window = 16;                  // closed loop: messages in flight per sender
  double rate = 0;                  // > 0: open loop, total messages/s across senders
  double warmup_s = 0;
  double duration_s = 10;
  double drain_s = 5;
  int size = 100;
  int threads = 1;
  bool progress = true;             // live line on stderr each second
  int report_every_s = 0;           // > 0: on_report gets each interval of this many seconds
  std::function<void(const interval_report&)> on_report;
  std::vector<std::string> source_ips;
};

struct load_result {
  double measured_s = 0;
  std::uint64_t sent = 0;           // sent inside the measured window
  std::uint64_t acked = 0;          // DELIVERED arriving inside the window
  std::uint64_t delivered = 0;      // TEXT arriving at recipients inside the window
  std::uint64_t errors = 0;         // ERR frames, whole run
  std::uint64_t lost = 0;           // acked but never delivered, whole run
  std::uint64_t unacked = 0;        // sent, no DELIVERED nor ERR by the end of the drain
  std::uint64_t duplicates = 0;     // one (sender, seq) delivered twice to its recipient
  std::uint64_t out_of_order = 0;   // a seq below one already delivered from the same sender
  std::uint64_t stale = 0;          // TEXTs from earlier runs (pending on the server), ignored
  std::string first_error;          // the first ERR frame or dropped connection, for the log
  histogram ack_ns;                 // send -> DELIVERED, messages sent in the window
  histogram deliver_ns;             // send -> recipient's TEXT, messages sent in the window
};

/// Connects 2 * pairs sockets, runs the load and drains. Throws std::runtime_error when the
/// connections cannot be set up.
load_result run_load(const load_options& opt);

struct idle_options {
  endpoint url;
  std::vector<account> accounts;    // connection i authenticates as accounts[i % size]
  int connections = 0;
  int threads = 1;
  int concurrency = 256;            // connection attempts in flight per thread
  double settle_s = 1;              // wait before reading the server's memory again
  double hold_s = 0;                // keep the connections open this much longer
  std::vector<std::string> source_ips;
  std::function<std::optional<std::uint64_t>()> read_server_rss;  // bytes
};

struct idle_result {
  int connections = 0;              // authenticated (PROFILE_INFO received)
  int failed = 0;
  double connect_s = 0;             // first connect to last PROFILE_INFO
  std::optional<std::uint64_t> rss_before;
  std::optional<std::uint64_t> rss_after;
  std::string first_error;
};

idle_result run_idle(const idle_options& opt);

/// What the measured servers have used so far: CPU seconds (user + system) and resident
/// memory, summed over their processes.
struct server_usage {
  double cpu_s = 0;
  std::uint64_t rss = 0;
};

/// Presence mode: pairs of users who share a conversation (send_first_messages), the leaver of
/// each pair on `leaver_url`, the watcher on `watcher_url` (another node, for a cluster).
/// Everyone connects; then the leavers disconnect while the watchers wait for their partner's
/// offline presence frame (18); then the watchers disconnect.
struct presence_options {
  endpoint leaver_url;
  endpoint watcher_url;
  std::vector<account> leavers;   // pair i: leavers[i] and watchers[i]
  std::vector<account> watchers;
  int concurrency = 256;          // connection attempts in flight
  double timeout_s = 60;          // bound of each phase
  double quiet_s = 1;             // a phase's presence traffic is over after this long without a frame
  std::function<server_usage()> usage;  // sampled between the phases
};

struct presence_result {
  int connected = 0;              // authenticated (PROFILE_INFO received)
  int failed = 0;
  double connect_s = 0;           // first connect to last PROFILE_INFO
  std::uint64_t frames_connect = 0;     // presence frames received while everyone came online
  std::uint64_t frames_disconnect = 0;  // ... while the leavers left (by the watchers)
  int offline_seen = 0;           // watchers that got their partner's offline
  double last_offline_s = 0;      // the last leaver's close to the last offline frame
  server_usage before, online, after;  // before connecting, online and quiet, leavers gone and quiet
  std::string first_error;
};

presence_result run_presence(const presence_options& opt);

}  // namespace chatrix::bench
