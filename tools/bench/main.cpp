// chatrix-bench: a load generator for any server speaking the original Chatrix wire format.
// Options, account setup, file-descriptor limits and reports; the WebSocket work is in ws_runner.cpp.
#include "bench.hpp"

#include <CLI/CLI.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

using namespace chatrix::bench;

/// --url or --url2 as an endpoint (ws://host[:port][/path]; port 80 and /ws by default).
endpoint parse_url_option(const char* option, const std::string& text) {
  try {
    return chatrix::config::parse_websocket_address(text);
  } catch (const chatrix::config::address_error& e) {
    throw std::runtime_error(std::string(option) + " '" + text + "' " + e.what());
  }
}

/// The server's resident set from /proc/PID/status (VmRSS, in kB there), in bytes.
std::optional<std::uint64_t> read_rss(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      std::uint64_t kb = 0;
      if (fields >> kb) return kb * 1024;
    }
  }
  return std::nullopt;
}

/// Raises the soft open-file limit to the hard one and checks that `needed` descriptors fit.
bool ensure_fd_limit(std::uint64_t needed, std::string& why) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return true;  // cannot tell; let connect fail if it must
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  // Beyond the sockets: stdio, the epoll and eventfd descriptors per thread, HTTP setup sockets.
  constexpr std::uint64_t reserve = 64;
  if (lim.rlim_cur != RLIM_INFINITY && needed + reserve > lim.rlim_cur) {
    why = "needs " + std::to_string(needed) + " sockets plus " + std::to_string(reserve) +
          " spare descriptors, but the open-file limit is " + std::to_string(lim.rlim_cur) + " (hard " +
          std::to_string(lim.rlim_max) + ")";
    return false;
  }
  return true;
}

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
std::optional<double> read_cpu_s(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces, in parentheses): state is field 3,
  // utime and stime are fields 14 and 15.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

server_usage usage_of(const std::vector<int>& pids) {
  server_usage u;
  for (int pid : pids) {
    u.cpu_s += read_cpu_s(pid).value_or(0);
    u.rss += read_rss(pid).value_or(0);
  }
  return u;
}

int run_presence_mode(const endpoint& ws, const endpoint& ws2, int pairs, const std::string& prefix,
                      const std::string& password, int http_concurrency, int connect_concurrency,
                      const std::vector<int>& pids, double phase_timeout, bool json_out) {
  std::string why;
  if (!ensure_fd_limit(2 * static_cast<std::uint64_t>(pairs), why)) {
    std::fprintf(stderr, "chatrix-bench: refusing --presence %d: %s\n", pairs, why.c_str());
    return 2;
  }
  std::vector<std::string> lnames, wnames;
  for (int i = 0; i < pairs; ++i) {
    lnames.push_back(prefix + "pl_" + std::to_string(i));
    wnames.push_back(prefix + "pw_" + std::to_string(i));
  }
  if (!json_out) std::fprintf(stderr, "registering or logging in %d users, one message per pair...\n", 2 * pairs);
  presence_options opt;
  opt.leaver_url = ws;
  opt.watcher_url = ws2;
  opt.leavers = obtain_accounts(ws, lnames, password, http_concurrency);
  opt.watchers = obtain_accounts(ws2, wnames, password, http_concurrency);
  send_first_messages(ws, opt.leavers, opt.watchers, http_concurrency);
  opt.concurrency = connect_concurrency;
  opt.timeout_s = phase_timeout;
  opt.usage = [pids] { return usage_of(pids); };
  if (!json_out) std::fprintf(stderr, "connecting %d users...\n", 2 * pairs);
  const auto r = run_presence(opt);

  const double connect_cpu = r.online.cpu_s - r.before.cpu_s;
  const double leave_cpu = r.after.cpu_s - r.online.cpu_s;
  const auto mib = [](std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); };
  if (json_out) {
    std::printf(
        "{\"mode\":\"presence\",\"pairs\":%d,\"users\":%d,\"nodes\":%zu,\"connected\":%d,\"failed\":%d,"
        "\"connect_s\":%.3f,\"connect_per_s\":%.1f,\"frames_connect\":%llu,\"frames_disconnect\":%llu,"
        "\"offline_seen\":%d,\"last_offline_s\":%.3f,\"cpu_connect_s\":%.2f,\"cpu_leave_s\":%.2f,"
        "\"rss_before_mib\":%.1f,\"rss_online_mib\":%.1f,\"rss_after_mib\":%.1f}\n",
        pairs, 2 * pairs, pids.size(), r.connected, r.failed, r.connect_s,
        r.connect_s > 0 ? r.connected / r.connect_s : 0.0, static_cast<unsigned long long>(r.frames_connect),
        static_cast<unsigned long long>(r.frames_disconnect), r.offline_seen, r.last_offline_s, connect_cpu, leave_cpu,
        mib(r.before.rss), mib(r.online.rss), mib(r.after.rss));
  } else {
    std::printf("users %d (%d pairs), connected %d, failed %d\n", 2 * pairs, pairs, r.connected, r.failed);
    std::printf("connect + attach: %.2f s (%.0f/s)\n", r.connect_s, r.connect_s > 0 ? r.connected / r.connect_s : 0.0);
    std::printf("presence frames: %llu while connecting, %llu while the leavers left\n",
                static_cast<unsigned long long>(r.frames_connect), static_cast<unsigned long long>(r.frames_disconnect));
    std::printf("offline seen by %d of %d watchers; last offline %.3f s after the last close\n", r.offline_seen,
                pairs, r.last_offline_s);
    std::printf("server CPU: %.2f s connecting, %.2f s leaving; RSS %.1f -> %.1f -> %.1f MiB\n", connect_cpu,
                leave_cpu, mib(r.before.rss), mib(r.online.rss), mib(r.after.rss));
  }
  if (r.failed > 0) {
    std::fprintf(stderr, "chatrix-bench: %d connections failed; first error: %s\n", r.failed, r.first_error.c_str());
    return 2;
  }
  return 0;
}

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chatrix-bench: load generator for the Chatrix WebSocket protocol"};
  std::string url, url2, prefix = "bench_", password = "bench-password-1", source_ips;
  int pairs = 100, window = 16, size = 100, threads = 1, idle = 0, server_pid = 0, conns_per_user = 8, presence = 0;
  std::vector<int> usage_pids;
  double phase_timeout = 60;
  int http_concurrency = 4, connect_concurrency = 256, report_every = 0;
  double rate = 0, duration = 10, warmup = 0, drain = 5, settle = 1, hold = 0;
  long long max_lost = -1, max_duplicates = -1;
  bool json_out = false;

  app.add_option("--url", url, "WebSocket URL, e.g. ws://127.0.0.1:8080/ws (the HTTP API is at the same host:port)")->required();
  app.add_option("--url2", url2, "recipients connect here instead (e.g. a second node)");
  app.add_option("--pairs", pairs, "sender->recipient pairs")->check(CLI::Range(1, 1'000'000));
  auto* window_opt = app.add_option("--window", window, "closed loop: messages in flight per sender")->check(CLI::Range(1, 100'000));
  auto* rate_opt = app.add_option("--rate", rate, "open loop: total messages/s across all senders")->check(CLI::PositiveNumber);
  window_opt->excludes(rate_opt);
  app.add_option("--duration", duration, "measured seconds")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "seconds of load before measuring (not counted)")->check(CLI::NonNegativeNumber);
  app.add_option("--drain", drain, "seconds to wait after the run for outstanding acks and deliveries")->check(CLI::NonNegativeNumber);
  app.add_option("--size", size, "content bytes per message")->check(CLI::Range(1, 8192));
  app.add_option("--threads", threads, "client I/O threads, each with its own event loop")->check(CLI::Range(1, 256));
  app.add_option("--user-prefix", prefix, "usernames are <prefix>s_<i>, <prefix>r_<i>, <prefix>idle_<i>");
  app.add_option("--password", password, "password of the bench users (registered if new)");
  app.add_option("--http-concurrency", http_concurrency, "parallel register/login requests")->check(CLI::Range(1, 64));
  app.add_flag("--json", json_out, "print one JSON object as the last line of stdout");
  auto* idle_opt = app.add_option("--idle", idle, "idle mode: open N authenticated idle connections")->check(CLI::Range(1, 1'000'000));
  app.add_option("--server-pid", server_pid, "server process whose VmRSS is read (idle mode: before and after; with --report-every: each interval)");
  auto* report_opt = app.add_option("--report-every", report_every, "load mode: print the figures of every S seconds of the run (one line each)")->check(CLI::Range(1, 86'400));
  app.add_option("--conns-per-user", conns_per_user, "idle mode: connections (devices) per user")->check(CLI::Range(1, 10'000));
  app.add_option("--connect-concurrency", connect_concurrency, "connection attempts in flight per thread")->check(CLI::Range(1, 100'000));
  app.add_option("--settle", settle, "idle mode: seconds to wait before reading the server's memory")->check(CLI::NonNegativeNumber);
  app.add_option("--hold", hold, "idle mode: keep the connections open this many seconds more")->check(CLI::NonNegativeNumber);
  app.add_option("--source-ips", source_ips, "comma-separated local addresses to bind (e.g. 127.0.0.2,127.0.0.3)");
  app.add_option("--max-lost", max_lost, "exit 3 when more messages than this were lost (default: no check)");
  app.add_option("--max-duplicates", max_duplicates, "exit 3 when more duplicates than this were seen (default: no check)");
  idle_opt->excludes(window_opt)->excludes(rate_opt)->excludes(report_opt);
  auto* presence_opt =
      app.add_option("--presence", presence,
                     "presence mode: N pairs sharing a conversation come online, then one of each pair leaves")
          ->check(CLI::Range(1, 500'000));
  presence_opt->excludes(window_opt)->excludes(rate_opt)->excludes(report_opt)->excludes(idle_opt);
  app.add_option("--phase-timeout", phase_timeout, "presence mode: bound of each phase, seconds")
      ->check(CLI::PositiveNumber);
  app.add_option("--pids", usage_pids, "presence mode: server processes whose CPU time and VmRSS are summed")
      ->delimiter(',');
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;  // --help is 0; every usage error is 1 (CLI11 would use 100+)
  }

  try {
    const auto ws = parse_url_option("--url", url);
    const auto ws2 = url2.empty() ? ws : parse_url_option("--url2", url2);
    const auto sources = split_csv(source_ips);

    if (presence > 0)
      return run_presence_mode(ws, ws2, presence, prefix, password, http_concurrency, connect_concurrency, usage_pids,
                               phase_timeout, json_out);
    if (idle > 0) {
      std::string why;
      if (!ensure_fd_limit(static_cast<std::uint64_t>(idle), why)) {
        std::fprintf(stderr, "chatrix-bench: refusing --idle %d: %s\n", idle, why.c_str());
        return 2;
      }
      const int users = (idle + conns_per_user - 1) / conns_per_user;
      std::vector<std::string> names;
      for (int i = 0; i < users; ++i) names.push_back(prefix + "idle_" + std::to_string(i));
      if (!json_out) std::fprintf(stderr, "registering or logging in %d users...\n", users);
      idle_options opt;
      opt.url = ws;
      opt.accounts = obtain_accounts(ws, names, password, http_concurrency);
      opt.connections = idle;
      opt.threads = threads;
      opt.concurrency = connect_concurrency;
      opt.settle_s = settle;
      opt.hold_s = hold;
      opt.source_ips = sources;
      if (server_pid > 0) opt.read_server_rss = [server_pid] { return read_rss(server_pid); };
      if (!json_out) std::fprintf(stderr, "opening %d connections...\n", idle);
      const auto r = run_idle(opt);

      const double per_s = r.connect_s > 0 ? r.connections / r.connect_s : 0;
      std::optional<double> per_conn;
      if (r.rss_before && r.rss_after && r.connections > 0)
        per_conn = (static_cast<double>(*r.rss_after) - static_cast<double>(*r.rss_before)) / r.connections;
      if (json_out) {
        std::printf(
            "{\"mode\":\"idle\",\"requested\":%d,\"threads\":%d,\"users\":%d,\"connections\":%d,\"failed\":%d,"
            "\"connect_s\":%.3f,\"connect_per_s\":%.1f,\"rss_before_kib\":%s,\"rss_after_kib\":%s,"
            "\"bytes_per_connection\":%s}\n",
            idle, threads, users, r.connections, r.failed, r.connect_s, per_s,
            r.rss_before ? std::to_string(*r.rss_before / 1024).c_str() : "null",
            r.rss_after ? std::to_string(*r.rss_after / 1024).c_str() : "null",
            per_conn ? std::to_string(static_cast<long long>(std::llround(*per_conn))).c_str() : "null");
      } else {
        std::printf("idle connections:   %d of %d (%d failed)\n", r.connections, idle, r.failed);
        std::printf("connect + auth:     %.3f s, %.0f connections/s\n", r.connect_s, per_s);
        if (per_conn)
          std::printf("server memory:      %.1f MiB -> %.1f MiB, %.0f bytes per connection\n",
                      static_cast<double>(*r.rss_before) / 1048576.0, static_cast<double>(*r.rss_after) / 1048576.0,
                      *per_conn);
        else
          std::printf("server memory:      not measured (give --server-pid)\n");
        if (per_conn && *per_conn <= 0)
          std::printf("note: the server reused memory freed earlier; measure idle memory on a freshly started server\n");
      }
      if (r.failed > 0) {
        std::fprintf(stderr, "chatrix-bench: %d connections failed; first error: %s\n", r.failed, r.first_error.c_str());
        return 2;
      }
      return 0;
    }

    std::string why;
    if (!ensure_fd_limit(2 * static_cast<std::uint64_t>(pairs), why)) {
      std::fprintf(stderr, "chatrix-bench: refusing --pairs %d: %s\n", pairs, why.c_str());
      return 2;
    }
    std::vector<std::string> snames, rnames;
    for (int i = 0; i < pairs; ++i) {
      snames.push_back(prefix + "s_" + std::to_string(i));
      rnames.push_back(prefix + "r_" + std::to_string(i));
    }
    if (!json_out) std::fprintf(stderr, "registering or logging in %d users...\n", 2 * pairs);
    load_options opt;
    opt.sender_url = ws;
    opt.recipient_url = ws2;
    opt.senders = obtain_accounts(ws, snames, password, http_concurrency);
    opt.recipients = obtain_accounts(ws2, rnames, password, http_concurrency);
    opt.window = window;
    opt.rate = *rate_opt ? rate : 0;
    opt.warmup_s = warmup;
    opt.duration_s = duration;
    opt.drain_s = drain;
    opt.size = size;
    opt.threads = threads;
    opt.progress = !json_out;
    opt.source_ips = sources;
    opt.report_every_s = report_every;
    opt.on_report = [json_out, server_pid](const interval_report& rep) {
      const double secs = rep.seconds > 0 ? rep.seconds : 1;
      const auto rss = server_pid > 0 ? read_rss(server_pid) : std::nullopt;
      const std::string rss_kib = rss ? std::to_string(*rss / 1024) : "null";
      if (json_out)
        std::printf("{\"mode\":\"interval\",\"t_s\":%.1f,\"acked_per_s\":%.1f,\"delivered_per_s\":%.1f,"
                    "\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f,\"deliver_p99_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%llu,"
                    "\"rss_kib\":%s}\n",
                    rep.at_s, static_cast<double>(rep.acked) / secs, static_cast<double>(rep.delivered) / secs,
                    ms(rep.ack_ns.quantile(0.5)), ms(rep.ack_ns.quantile(0.99)), ms(rep.deliver_ns.quantile(0.99)),
                    ms(std::max(rep.ack_ns.max(), rep.deliver_ns.max())), static_cast<unsigned long long>(rep.errors),
                    rss_kib.c_str());
      else
        std::printf("[%6.0fs] acked/s %9.0f  ack p99 %8.3f ms  deliver p99 %8.3f ms  errors %llu  server RSS %s KiB\n",
                    rep.at_s, static_cast<double>(rep.acked) / secs, ms(rep.ack_ns.quantile(0.99)),
                    ms(rep.deliver_ns.quantile(0.99)), static_cast<unsigned long long>(rep.errors), rss_kib.c_str());
      std::fflush(stdout);
    };
    if (!json_out) std::fprintf(stderr, "connecting %d sockets...\n", 2 * pairs);
    const auto r = run_load(opt);

    if (r.errors > 0) std::fprintf(stderr, "chatrix-bench: %llu errors; the first: %s\n", static_cast<unsigned long long>(r.errors), r.first_error.c_str());
    const double secs = r.measured_s > 0 ? r.measured_s : 1;
    const double acked_per_s = static_cast<double>(r.acked) / secs;
    const double delivered_per_s = static_cast<double>(r.delivered) / secs;
    const double max_ms = ms(std::max(r.ack_ns.max(), r.deliver_ns.max()));
    if (json_out) {
      std::printf(
          "{\"mode\":\"%s\",\"pairs\":%d,\"window\":%d,\"rate\":%.0f,\"duration_s\":%.3f,\"size\":%d,\"threads\":%d,"
          "\"acked_per_s\":%.1f,\"delivered_per_s\":%.1f,"
          "\"ack_p50_ms\":%.3f,\"ack_p90_ms\":%.3f,\"ack_p99_ms\":%.3f,"
          "\"deliver_p50_ms\":%.3f,\"deliver_p90_ms\":%.3f,\"deliver_p99_ms\":%.3f,\"max_ms\":%.3f,"
          "\"errors\":%llu,\"lost\":%llu,\"duplicates\":%llu,\"out_of_order\":%llu,\"sent\":%llu,"
          "\"unacked\":%llu,\"stale\":%llu}\n",
          opt.rate > 0 ? "open" : "closed", pairs, opt.rate > 0 ? 0 : window, opt.rate, r.measured_s, size, threads,
          acked_per_s, delivered_per_s, ms(r.ack_ns.quantile(0.5)), ms(r.ack_ns.quantile(0.9)),
          ms(r.ack_ns.quantile(0.99)), ms(r.deliver_ns.quantile(0.5)), ms(r.deliver_ns.quantile(0.9)),
          ms(r.deliver_ns.quantile(0.99)), max_ms, static_cast<unsigned long long>(r.errors),
          static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.duplicates),
          static_cast<unsigned long long>(r.out_of_order), static_cast<unsigned long long>(r.sent),
          static_cast<unsigned long long>(r.unacked), static_cast<unsigned long long>(r.stale));
    } else {
      std::printf("%s loop, %d pairs, %s, %d-byte messages, %d client thread(s), %.2f s measured\n",
                  opt.rate > 0 ? "open" : "closed", pairs,
                  opt.rate > 0 ? (std::to_string(static_cast<long long>(opt.rate)) + " msg/s offered").c_str()
                               : ("window " + std::to_string(window)).c_str(),
                  size, threads, r.measured_s);
      std::printf("sent %llu   acked %.0f/s   delivered %.0f/s\n", static_cast<unsigned long long>(r.sent), acked_per_s,
                  delivered_per_s);
      std::printf("ack     (send -> DELIVERED) p50 %.3f  p90 %.3f  p99 %.3f ms\n", ms(r.ack_ns.quantile(0.5)),
                  ms(r.ack_ns.quantile(0.9)), ms(r.ack_ns.quantile(0.99)));
      std::printf("deliver (send -> recipient) p50 %.3f  p90 %.3f  p99 %.3f ms\n", ms(r.deliver_ns.quantile(0.5)),
                  ms(r.deliver_ns.quantile(0.9)), ms(r.deliver_ns.quantile(0.99)));
      std::printf("max %.3f ms\n", max_ms);
      std::printf("errors %llu   lost %llu   duplicates %llu   out of order %llu   unacked %llu   stale %llu\n",
                  static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.lost),
                  static_cast<unsigned long long>(r.duplicates), static_cast<unsigned long long>(r.out_of_order),
                  static_cast<unsigned long long>(r.unacked), static_cast<unsigned long long>(r.stale));
    }
    if ((max_lost >= 0 && r.lost > static_cast<unsigned long long>(max_lost)) ||
        (max_duplicates >= 0 && r.duplicates > static_cast<unsigned long long>(max_duplicates)))
      return 3;
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chatrix-bench: %s\n", e.what());
    return 2;
  }
}
