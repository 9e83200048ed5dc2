// chatrix-bench's WebSocket side: the load run (sender/recipient pairs) and the idle run.
// The only translation unit that instantiates Beast WebSocket code (it dominates compile time).
// Beast does the opening handshake only; the frames go straight over the TCP socket (ws_codec.hpp),
// so that a connection costs one read per batch of incoming frames and one gathered write per
// batch of outgoing ones (see README.md, "Data path").
#include "bench.hpp"
#include "ws_codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <netinet/in.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // linux/in.h; glibc's netinet/in.h may lack it
#endif

namespace chatrix::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using ws_stream = websocket::stream<tcp::socket>;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// ---- incoming frame scanning ----
// The bench reads two fields per message at up to ~100k frames/s on a machine it shares with the
// server, so it scans the JSON text for the few keys it needs instead of building a DOM.

/// Position just after `"key"` + optional spaces + ':' + optional spaces, or npos.
std::size_t find_key(std::string_view s, std::string_view quoted_key, std::size_t from = 0) {
  for (auto pos = s.find(quoted_key, from); pos != std::string_view::npos; pos = s.find(quoted_key, pos + 1)) {
    auto p = pos + quoted_key.size();
    while (p < s.size() && (s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r')) ++p;
    if (p < s.size() && s[p] == ':') {
      ++p;
      while (p < s.size() && (s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r')) ++p;
      return p;
    }
  }
  return std::string_view::npos;
}

std::optional<std::int64_t> int_at(std::string_view s, std::size_t pos) {
  if (pos >= s.size()) return std::nullopt;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), v);
  if (ec != std::errc{}) return std::nullopt;
  return v;
}

/// Reads "r<nonce> s<index> n<seq> " at the start of a TEXT's content.
struct content_tag {
  std::uint64_t nonce = 0;
  std::int64_t index = -1;
  std::int64_t seq = -1;
};

std::optional<content_tag> parse_tag(std::string_view c) {
  content_tag t;
  auto field = [&](char letter, auto& out) {
    if (c.empty() || c.front() != letter) return false;
    auto [end, ec] = std::from_chars(c.data() + 1, c.data() + c.size(), out);
    if (ec != std::errc{} || end == c.data() + c.size() || *end != ' ') return false;
    c.remove_prefix(static_cast<std::size_t>(end - c.data()) + 1);
    return true;
  };
  if (!field('r', t.nonce) || !field('s', t.index) || !field('n', t.seq)) return std::nullopt;
  return t;
}

struct frame_fields {
  int type = -1;
  std::optional<std::int64_t> mark;
  std::string_view content;  // raw (still JSON-escaped) text; only its ASCII tag is read
};

/// Fast path: scan; fall back to a real parse when the scan finds no type (unusual formatting).
frame_fields scan_frame(std::string_view s, std::string& scratch) {
  frame_fields f;
  if (auto p = find_key(s, "\"type\""); p != std::string_view::npos) {
    if (auto t = int_at(s, p)) {
      f.type = static_cast<int>(*t);
      if (f.type == 1 || f.type == 3) {
        if (auto m = find_key(s, "\"mark\"", p); m != std::string_view::npos) f.mark = int_at(s, m);
      } else if (f.type == 0) {
        if (auto c = find_key(s, "\"content\"", p); c != std::string_view::npos && c < s.size() && s[c] == '"')
          f.content = s.substr(c + 1);
      }
      return f;
    }
  }
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  if (ec || !v.is_object()) return f;
  const auto& o = v.get_object();
  if (auto* t = o.if_contains("type"); t && t->is_number()) f.type = static_cast<int>(t->to_number<std::int64_t>(ec));
  const auto* body = o.if_contains("body");
  if (!body || !body->is_object()) return f;
  if (auto* m = body->get_object().if_contains("mark"); m && m->is_number()) f.mark = m->to_number<std::int64_t>(ec);
  if (auto* c = body->get_object().if_contains("content"); c && c->is_string()) {
    scratch.assign(c->get_string().begin(), c->get_string().end());
    f.content = scratch;
  }
  return f;
}

// ---- shared run state ----

enum class phase : int { setup, warmup, measure, drain, done };

struct run_control {
  std::atomic<int> current{static_cast<int>(phase::setup)};
  std::atomic<int> ready{0};   // authenticated connections
  std::atomic<int> failed{0};  // connections that failed before or during setup
  std::atomic<std::uint64_t> last_ready_ns{0};
  std::mutex mu;
  std::string first_error;

  phase get() const { return static_cast<phase>(current.load(std::memory_order_relaxed)); }
  void set(phase p) { current.store(static_cast<int>(p), std::memory_order_relaxed); }
  void note_error(const std::string& what) {
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = what;
  }
};

struct worker;
class connection;

/// One tracked message of a pair, kept until both its DELIVERED and its delivery are seen.
struct entry {
  std::uint64_t sent_ns = 0;
  bool counted = false;  // sent inside the measured window: its latencies go to the histograms
  bool acked = false;
  bool delivered = false;
  bool failed = false;  // answered with ERR: never stored, never delivered
  bool settled = false;
};

struct pair_state {
  int index = 0;
  connection* sender = nullptr;
  connection* recipient = nullptr;
  std::string frame_head;    // {"type":0,"body":{"to":"...","content":"r<nonce> s<i> n
  std::size_t content_fixed = 0;  // content bytes in frame_head
  std::uint64_t next_seq = 0;
  std::uint64_t base_seq = 0;  // seq of entries.front()
  std::deque<entry> entries;   // bounded by what is in flight or undelivered
  int in_flight = 0;           // sent, not yet acked or failed (the closed-loop window)
  std::int64_t last_delivered = -1;
};

enum class role { sender, recipient, idle };

/// Per-thread state: one io_context, its connections and pairs, and its statistics. Counters are
/// atomics only so the main thread can print progress; each is written by its own thread alone.
struct worker {
  asio::io_context io{1};
  run_control* ctl = nullptr;
  const load_options* load = nullptr;
  std::uint64_t nonce = 0;
  std::vector<std::unique_ptr<connection>> conns;
  std::vector<std::unique_ptr<pair_state>> pairs;
  std::vector<asio::ip::address> sources;
  ws::mask_prng masks{std::random_device{}() | std::uint64_t{std::random_device{}()} << 32};
  std::vector<connection*> dirty;  // connections with frames queued since the last flush()
  std::string payload;             // send_one's scratch

  histogram ack_ns, deliver_ns;
  histogram interval_ack_ns, interval_deliver_ns;  // since the last report (--report-every)
  std::atomic<std::uint64_t> sent{0}, acked{0}, delivered{0}, errors{0}, outstanding{0};
  std::uint64_t duplicates = 0, out_of_order = 0, stale = 0;

  // connection launching with bounded concurrency
  std::size_t next_launch = 0;
  int launching = 0;
  int concurrency = 256;
  struct launch_spec {
    tcp::endpoint ep;
    std::string host;    // Host header, host:port
    std::string target;  // e.g. /ws
    std::string token;
  };
  std::vector<launch_spec> launch_plan;  // one per entry of conns

  // open loop
  double rate_share = 0;
  std::uint64_t open_start_ns = 0, open_sent = 0;
  std::size_t rr = 0;
  std::unique_ptr<asio::steady_timer> pacer;

  void launch_more();
  /// Starts one gathered write on every connection that queued frames (unless one is in flight:
  /// its completion writes them). Called once the handlers of an event have run, never per frame.
  void flush();
  void start_sending();
  void send_one(pair_state& p, std::uint64_t send_ns);
  void on_delivered(pair_state& p, std::int64_t seq, std::uint64_t at);
  void on_error_mark(pair_state& p, std::int64_t seq);
  void on_text(pair_state& p, std::string_view content, std::uint64_t at);
  void settle(pair_state& p, entry& e);
  void pace();
  bool sending() const {
    auto ph = ctl->get();
    return ph == phase::warmup || ph == phase::measure;
  }
};

class connection {
 public:
  connection(worker& w, role r, pair_state* p, std::size_t index)
      : w_(w),
        role_(r),
        pair_(p),
        index_(index),
        sock_(w.io),
        reader_(max_message_bytes, r == role::idle ? idle_read_buffer : load_read_buffer) {}

  asio::awaitable<void> run(tcp::endpoint ep, std::string host, std::string target, std::string token);
  /// Queues one text frame; worker::flush() writes it.
  void send(std::string_view text) { queue(ws::opcode::text, text); }
  /// Sends a close frame (1000) and shuts the write side down once it is out; reading goes on
  /// until the server's close frame or the end of the stream.
  void close() {
    if (!open_) return;
    open_ = false;
    queue_close(ws::close_normal);
    write_queued();
  }
  bool is_open() const { return open_; }
  /// Starts a write of everything queued unless one is in flight.
  void write_queued();

 private:
  // Load connections get a buffer that holds many frames per read; idle connections a small one
  // (an idle run opens thousands), which grows for a large message and shrinks afterwards.
  static constexpr std::size_t load_read_buffer = 64 * 1024;
  static constexpr std::size_t idle_read_buffer = 1024;
  static constexpr std::size_t max_message_bytes = 16 * 1024 * 1024;  // Beast's default limit

  void queue(ws::opcode op, std::string_view payload) {
    ws::append_frame(out_, op, payload, w_.masks.next());
    if (!dirty_) {
      dirty_ = true;
      w_.dirty.push_back(this);
    }
  }
  void queue_close(std::uint16_t code) {
    close_sent_ = true;
    queue(ws::opcode::close, ws::close_payload(code == ws::close_no_status ? ws::close_normal : code));
  }
  void read_more();
  void on_read(beast::error_code ec, std::size_t n);
  void on_written(beast::error_code ec);
  /// The connection failed: report it (fail) and close the socket, which ends every pending operation.
  void drop(const std::string& what);
  void handle(std::string_view text, std::uint64_t at);
  void fail(const std::string& what);

  friend struct worker;
  worker& w_;
  role role_;
  pair_state* pair_;
  std::size_t index_;
  tcp::socket sock_;
  ws::frame_reader reader_;
  std::string out_;      // frames queued for the next write
  std::string writing_;  // frames of the write in flight (empty: none)
  std::string scratch_;
  bool dirty_ = false;   // in w_.dirty
  bool authed_ = false;
  bool open_ = false;    // frames may be sent
  bool close_sent_ = false;
  bool close_received_ = false;
  bool dead_ = false;    // the socket is closed
  bool finished_ = false;  // counted in ready or failed
};

void connection::fail(const std::string& what) {
  if (!finished_) {
    finished_ = true;
    w_.ctl->failed.fetch_add(1);
    w_.ctl->note_error(what);
    --w_.launching;
    w_.launch_more();
  } else if (w_.ctl->get() != phase::done && role_ != role::idle) {
    // A load connection dropped mid-run: its messages show up as unacked or lost.
    w_.errors.fetch_add(1, std::memory_order_relaxed);
    w_.ctl->note_error(what);
  }
}

asio::awaitable<void> connection::run(tcp::endpoint ep, std::string host, std::string target, std::string token) {
  beast::error_code ec;
  sock_.open(ep.protocol(), ec);
  if (!ec && !w_.sources.empty()) {
    // Bind only the address; the port is chosen at connect time, per destination, so each
    // source address gets its own ephemeral port range.
    sock_.set_option(asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>(true), ec);
    sock_.bind(tcp::endpoint(w_.sources[index_ % w_.sources.size()], 0), ec);
  }
  if (ec) {
    fail("socket: " + ec.message());
    co_return;
  }
  if (auto [cec] = co_await sock_.async_connect(ep, use_tuple); cec) {
    fail("connect " + ep.address().to_string() + ":" + std::to_string(ep.port()) + ": " + cec.message());
    co_return;
  }
  sock_.set_option(tcp::no_delay(true), ec);
  {
    // Beast only for the HTTP upgrade; the socket comes back out of its stream afterwards. The
    // server sends nothing before the client's first frame (the token), so no frame bytes can
    // be left in Beast's handshake buffer.
    ws_stream ws(std::move(sock_));
    if (auto [hec] = co_await ws.async_handshake(host, target, use_tuple); hec) {
      fail("websocket handshake: " + hec.message());
      co_return;
    }
    sock_ = std::move(ws.next_layer());
  }
  open_ = true;
  send("{\"token\":" + json::serialize(json::string(token)) + "}");
  w_.flush();
  read_more();
}

void connection::write_queued() {
  if (!writing_.empty() || out_.empty() || dead_) return;
  writing_.swap(out_);
  asio::async_write(sock_, asio::buffer(writing_), [this](beast::error_code ec, std::size_t) { on_written(ec); });
}

void connection::on_written(beast::error_code ec) {
  writing_.clear();
  if (dead_) return;
  if (ec) {
    drop((authed_ ? "write: " : "auth: write: ") + ec.message());
    return;
  }
  if (!out_.empty()) {
    write_queued();
    return;
  }
  if (role_ == role::idle) std::string().swap(writing_);  // thousands of idle connections: keep no capacity
  if (close_sent_) {
    sock_.shutdown(tcp::socket::shutdown_send, ec);
    if (close_received_) {  // both close frames are out: the connection is done
      dead_ = true;
      sock_.close(ec);
    }
  }
}

void connection::read_more() {
  // A quarter of the initial buffer is the least a read asks for: reads stay large, and a tail
  // left by a partial frame is moved to the front instead of growing the buffer.
  const auto space = reader_.prepare(role_ == role::idle ? idle_read_buffer / 4 : load_read_buffer / 4);
  sock_.async_read_some(asio::buffer(space.data(), space.size()),
                        [this](beast::error_code ec, std::size_t n) { on_read(ec, n); });
}

void connection::on_read(beast::error_code ec, std::size_t n) {
  if (dead_) return;
  if (ec) {
    drop(authed_ ? "connection closed: " + ec.message() : "auth: connection closed: " + ec.message());
    return;
  }
  reader_.commit(n);
  const auto at = now_ns();
  // Every complete frame of this read is handled before anything is written: the frames the
  // handlers queue (next messages, pongs) leave in one write.
  for (;;) {
    const auto ev = reader_.next();
    switch (ev.kind) {
      case ws::event_kind::none:
        break;
      case ws::event_kind::text:
      case ws::event_kind::binary:
        handle(ev.payload, at);
        continue;
      case ws::event_kind::ping:
        if (!close_sent_) queue(ws::opcode::pong, ev.payload);
        continue;
      case ws::event_kind::pong:
        continue;
      case ws::event_kind::close: {
        close_received_ = true;
        open_ = false;
        if (!close_sent_) queue_close(ev.code);
        w_.flush();
        fail((authed_ ? "connection closed: close frame " : "auth: connection closed: close frame ") +
             std::to_string(ev.code));
        if (writing_.empty() && out_.empty()) {  // our close frame went out earlier
          dead_ = true;
          beast::error_code ignored;
          sock_.close(ignored);
        }
        return;  // nothing may follow a close frame; on_written closes the socket
      }
      case ws::event_kind::error:
        drop(std::string(authed_ ? "connection closed: " : "auth: connection closed: ") + "protocol error: " + ev.reason);
        return;
    }
    break;
  }
  w_.flush();
  reader_.shrink();
  read_more();
}

void connection::drop(const std::string& what) {
  if (dead_) return;
  dead_ = true;
  open_ = false;
  fail(what);
  beast::error_code ec;
  sock_.close(ec);
}

void connection::handle(std::string_view text, std::uint64_t at) {
  const auto f = scan_frame(text, scratch_);
  if (!authed_) {
    if (f.type == 4) {  // PROFILE_INFO: the session is authenticated
      authed_ = true;
      finished_ = true;
      w_.ctl->ready.fetch_add(1);
      auto prev = w_.ctl->last_ready_ns.load();
      while (at > prev && !w_.ctl->last_ready_ns.compare_exchange_weak(prev, at)) {
      }
      --w_.launching;
      w_.launch_more();
    } else if (f.type == 3) {
      fail("auth refused: " + std::string(text.substr(0, 200)));
    }
    return;
  }
  switch (f.type) {
    case 0:
      if (role_ == role::recipient) w_.on_text(*pair_, f.content, at);
      break;
    case 1:
      if (role_ == role::sender && f.mark) w_.on_delivered(*pair_, *f.mark, at);
      break;
    case 3:
      w_.errors.fetch_add(1, std::memory_order_relaxed);
      w_.ctl->note_error("ERR frame: " + std::string(text.substr(0, 200)));
      if (role_ == role::sender && f.mark) w_.on_error_mark(*pair_, *f.mark);
      break;
    default:
      break;  // CHATPREVIEWS, RECEIVED and the like carry nothing the bench measures
  }
}

// ---- worker: launching, sending and bookkeeping ----

void worker::launch_more() {
  while (launching < concurrency && next_launch < conns.size()) {
    const auto i = next_launch++;
    ++launching;
    const auto& spec = launch_plan[i];
    asio::co_spawn(io, conns[i]->run(spec.ep, spec.host, spec.target, spec.token), asio::detached);
  }
}

void worker::flush() {
  // write_queued() never completes inline, so no connection joins the list while it is walked.
  for (auto* c : dirty) {
    c->dirty_ = false;
    c->write_queued();
  }
  dirty.clear();
}

void worker::start_sending() {
  if (load->rate > 0) {
    open_start_ns = now_ns();
    pacer = std::make_unique<asio::steady_timer>(io);
    pace();
    return;
  }
  const auto t = now_ns();
  for (auto& p : pairs)
    for (int k = 0; k < load->window; ++k) send_one(*p, t);
  flush();
}

void worker::pace() {
  if (!sending()) return;
  // Messages are due at open_start + k/rate; each is stamped with its due time, not with when the
  // timer got round to it, so a late client or a stalled server shows as latency (no coordinated omission).
  const auto now = now_ns();
  const double per_ns = rate_share / 1e9;
  const auto due = static_cast<std::uint64_t>(static_cast<double>(now - open_start_ns) * per_ns);
  while (open_sent < due && !pairs.empty()) {
    const auto stamp = open_start_ns + static_cast<std::uint64_t>(static_cast<double>(open_sent) / per_ns);
    send_one(*pairs[rr++ % pairs.size()], stamp);
    ++open_sent;
  }
  flush();
  pacer->expires_after(std::chrono::microseconds(500));
  pacer->async_wait([this](beast::error_code ec) {
    if (!ec) pace();
  });
}

void worker::send_one(pair_state& p, std::uint64_t send_ns) {
  if (!p.sender->is_open()) return;
  const auto seq = p.next_seq++;
  const bool counted = ctl->get() == phase::measure;
  p.entries.push_back(entry{send_ns, counted});
  ++p.in_flight;
  outstanding.fetch_add(1, std::memory_order_relaxed);
  if (counted) sent.fetch_add(1, std::memory_order_relaxed);

  char digits[24];
  const auto len = static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, seq).ptr - digits);
  auto& frame = payload;  // reused: its capacity stays
  frame.assign(p.frame_head);
  frame.append(digits, len);
  frame += ' ';
  const auto content_len = p.content_fixed + len + 1;
  if (content_len < static_cast<std::size_t>(load->size)) frame.append(static_cast<std::size_t>(load->size) - content_len, 'x');
  frame += "\",\"mark\":";
  frame.append(digits, len);
  frame += "}}";
  p.sender->send(frame);
}

void worker::settle(pair_state& p, entry& e) {
  if (e.settled || !((e.acked && e.delivered) || e.failed)) return;
  e.settled = true;
  outstanding.fetch_sub(1, std::memory_order_relaxed);
  while (!p.entries.empty() && p.entries.front().settled) {
    p.entries.pop_front();
    ++p.base_seq;
  }
}

void worker::on_delivered(pair_state& p, std::int64_t seq, std::uint64_t at) {
  if (seq < 0 || static_cast<std::uint64_t>(seq) < p.base_seq || static_cast<std::uint64_t>(seq) >= p.next_seq) return;
  auto& e = p.entries[static_cast<std::size_t>(static_cast<std::uint64_t>(seq) - p.base_seq)];
  if (e.acked || e.failed) return;
  e.acked = true;
  --p.in_flight;
  if (e.counted) {
    ack_ns.record(at > e.sent_ns ? at - e.sent_ns : 0);
    interval_ack_ns.record(at > e.sent_ns ? at - e.sent_ns : 0);
  }
  if (ctl->get() == phase::measure) acked.fetch_add(1, std::memory_order_relaxed);
  settle(p, e);
  if (load->rate <= 0 && sending() && p.in_flight < load->window) send_one(p, now_ns());
}

void worker::on_error_mark(pair_state& p, std::int64_t seq) {
  if (seq < 0 || static_cast<std::uint64_t>(seq) < p.base_seq || static_cast<std::uint64_t>(seq) >= p.next_seq) return;
  auto& e = p.entries[static_cast<std::size_t>(static_cast<std::uint64_t>(seq) - p.base_seq)];
  if (e.acked || e.failed) return;
  e.failed = true;
  --p.in_flight;
  settle(p, e);
  if (load->rate <= 0 && sending() && p.in_flight < load->window) send_one(p, now_ns());
}

void worker::on_text(pair_state& p, std::string_view content, std::uint64_t at) {
  const auto tag = parse_tag(content);
  if (!tag || tag->nonce != nonce || tag->index != p.index || tag->seq < 0 ||
      static_cast<std::uint64_t>(tag->seq) >= p.next_seq) {
    ++stale;  // pending from an earlier run (or not ours at all)
    return;
  }
  const auto seq = static_cast<std::uint64_t>(tag->seq);
  if (seq < p.base_seq) {
    ++duplicates;  // settled entries were delivered already
    return;
  }
  auto& e = p.entries[static_cast<std::size_t>(seq - p.base_seq)];
  if (e.delivered) {
    ++duplicates;
    return;
  }
  e.delivered = true;
  if (tag->seq < p.last_delivered)
    ++out_of_order;
  else
    p.last_delivered = tag->seq;
  if (e.counted) {
    deliver_ns.record(at > e.sent_ns ? at - e.sent_ns : 0);
    interval_deliver_ns.record(at > e.sent_ns ? at - e.sent_ns : 0);
  }
  if (ctl->get() == phase::measure) delivered.fetch_add(1, std::memory_order_relaxed);
  settle(p, e);
}

tcp::endpoint resolve_one(const endpoint& ep) {
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(ep.host, ep.port);
  if (results.empty()) throw std::runtime_error("cannot resolve " + ep.host);
  return results.begin()->endpoint();
}

bool on_v4_loopback(const tcp::endpoint& ep) { return ep.address().is_v4() && ep.address().is_loopback(); }

/// The given local addresses; without any, 127.0.0.1 to 127.0.0.16 for a server on IPv4
/// loopback. With one source address the kernel's search for a free ephemeral port
/// (__inet_hash_connect) lengthens with every connection open: at 15,000 connections it took
/// a fifth of the generator's CPU, on the cores the server under test shares.
std::vector<asio::ip::address> parse_sources(const std::vector<std::string>& ips, bool server_on_v4_loopback) {
  std::vector<asio::ip::address> out;
  for (const auto& s : ips) out.push_back(asio::ip::make_address(s));
  if (out.empty() && server_on_v4_loopback)
    for (std::uint32_t i = 1; i <= 16; ++i) out.push_back(asio::ip::address_v4(0x7f000000u + i));
  return out;
}

/// Runs every worker on its own thread until `stop` is called; joins on destruction.
class thread_pool {
 public:
  explicit thread_pool(std::vector<std::unique_ptr<worker>>& ws) : workers_(ws) {
    for (auto& w : workers_) {
      guards_.emplace_back(asio::make_work_guard(w->io));
      threads_.emplace_back([&io = w->io] { io.run(); });
    }
  }
  /// Closes every open connection, gives the close handshakes `grace`, then stops the loops.
  void stop(std::chrono::milliseconds grace) {
    for (auto& w : workers_)
      asio::post(w->io, [&w] {
        if (w->pacer) w->pacer->cancel();
        for (auto& c : w->conns) c->close();
        w->flush();
      });
    guards_.clear();
    const auto deadline = std::chrono::steady_clock::now() + grace;
    for (auto& w : workers_)
      while (!w->io.stopped() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (auto& w : workers_) w->io.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  ~thread_pool() {
    if (!threads_.empty()) stop(std::chrono::milliseconds(0));
  }

 private:
  std::vector<std::unique_ptr<worker>>& workers_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

/// Waits until every connection is authenticated or one failed (load) / all finished (idle).
bool wait_for_setup(run_control& ctl, int total, bool stop_on_failure, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    const int ready = ctl.ready.load(), failed = ctl.failed.load();
    if (ready + failed >= total || (stop_on_failure && failed > 0)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::string host_header(const endpoint& ep) { return ep.host + ":" + ep.port; }

/// Moves every worker's interval histograms into `out`, each taken on its worker's own thread
/// (the histograms have no lock), and waits for all of them.
void take_interval_histograms(std::vector<std::unique_ptr<worker>>& workers, interval_report& out) {
  std::vector<std::promise<std::pair<histogram, histogram>>> taken(workers.size());
  for (std::size_t i = 0; i < workers.size(); ++i)
    asio::post(workers[i]->io, [w = workers[i].get(), &p = taken[i]] {
      p.set_value({std::exchange(w->interval_ack_ns, {}), std::exchange(w->interval_deliver_ns, {})});
    });
  for (auto& p : taken) {
    const auto [acks, deliveries] = p.get_future().get();
    out.ack_ns.merge(acks);
    out.deliver_ns.merge(deliveries);
  }
}

}  // namespace

load_result run_load(const load_options& opt) {
  const int pairs = static_cast<int>(opt.senders.size());
  if (pairs == 0 || opt.recipients.size() != opt.senders.size()) throw std::runtime_error("no pairs to run");
  run_control ctl;
  std::random_device rd;
  const std::uint64_t nonce = (std::uint64_t{rd()} << 20 ^ rd()) % 1'000'000'000'000ull;  // tells this run from old pending messages
  const auto sender_ep = resolve_one(opt.sender_url), recipient_ep = resolve_one(opt.recipient_url);
  const auto sources = parse_sources(opt.source_ips, on_v4_loopback(sender_ep) && on_v4_loopback(recipient_ep));

  const int threads = std::max(1, std::min(opt.threads, pairs));
  std::vector<std::unique_ptr<worker>> workers;
  for (int t = 0; t < threads; ++t) {
    auto w = std::make_unique<worker>();
    w->ctl = &ctl;
    w->load = &opt;
    w->nonce = nonce;
    w->sources = sources;
    workers.push_back(std::move(w));
  }
  // Sender i and recipient i share a thread, so a pair's bookkeeping never needs a lock.
  for (int i = 0; i < pairs; ++i) {
    auto& w = *workers[static_cast<std::size_t>(i % threads)];
    auto p = std::make_unique<pair_state>();
    p->index = i;
    p->frame_head = "{\"type\":0,\"body\":{\"to\":" + json::serialize(json::string(opt.recipients[static_cast<std::size_t>(i)].username)) +
                    ",\"content\":\"";
    const std::string tag = "r" + std::to_string(nonce) + " s" + std::to_string(i) + " n";
    p->frame_head += tag;
    p->content_fixed = tag.size();
    const auto base = w.conns.size();
    w.conns.push_back(std::make_unique<connection>(w, role::sender, p.get(), base));
    w.conns.push_back(std::make_unique<connection>(w, role::recipient, p.get(), base + 1));
    p->sender = w.conns[base].get();
    p->recipient = w.conns[base + 1].get();
    w.launch_plan.push_back({sender_ep, host_header(opt.sender_url), opt.sender_url.target,
                             opt.senders[static_cast<std::size_t>(i)].token});
    w.launch_plan.push_back({recipient_ep, host_header(opt.recipient_url), opt.recipient_url.target,
                             opt.recipients[static_cast<std::size_t>(i)].token});
    w.pairs.push_back(std::move(p));
  }
  for (auto& w : workers) {
    w->rate_share = opt.rate * static_cast<double>(w->pairs.size()) / pairs;
    asio::post(w->io, [&w] { w->launch_more(); });
  }

  thread_pool pool(workers);
  if (!wait_for_setup(ctl, 2 * pairs, true, 60) || ctl.failed.load() > 0) {
    pool.stop(std::chrono::milliseconds(500));
    std::lock_guard lock(ctl.mu);
    throw std::runtime_error("connection setup failed: " +
                             (ctl.first_error.empty() ? std::string("timed out after 60 s") : ctl.first_error));
  }

  using sclock = std::chrono::steady_clock;
  const auto t0 = sclock::now();
  ctl.set(opt.warmup_s > 0 ? phase::warmup : phase::measure);
  for (auto& w : workers) asio::post(w->io, [&w] { w->start_sending(); });

  auto total = [&](auto member) {
    std::uint64_t s = 0;
    for (auto& w : workers) s += ((*w).*member).load(std::memory_order_relaxed);
    return s;
  };
  auto measure_start = t0, measure_end = t0;
  if (opt.warmup_s > 0) {
    std::this_thread::sleep_until(t0 + std::chrono::duration<double>(opt.warmup_s));
    measure_start = sclock::now();
    ctl.set(phase::measure);
  }
  const auto end = measure_start + std::chrono::duration_cast<sclock::duration>(std::chrono::duration<double>(opt.duration_s));
  std::uint64_t last_acked = 0, last_delivered = 0;
  auto last_tick = measure_start;
  std::uint64_t reported_acked = 0, reported_delivered = 0;
  auto last_report = measure_start;
  for (int s = 1;; ++s) {
    const auto tick = std::min(end, measure_start + std::chrono::seconds(s));
    std::this_thread::sleep_until(tick);
    if (opt.report_every_s > 0 && opt.on_report && (s % opt.report_every_s == 0 || tick >= end)) {
      interval_report rep;
      rep.at_s = std::chrono::duration<double>(tick - measure_start).count();
      rep.seconds = std::chrono::duration<double>(tick - last_report).count();
      const auto a = total(&worker::acked), d = total(&worker::delivered);
      rep.acked = a - reported_acked;
      rep.delivered = d - reported_delivered;
      rep.errors = total(&worker::errors);
      take_interval_histograms(workers, rep);
      opt.on_report(rep);
      reported_acked = a, reported_delivered = d, last_report = tick;
    }
    if (opt.progress) {
      const auto a = total(&worker::acked), d = total(&worker::delivered);
      const double dt = std::chrono::duration<double>(tick - last_tick).count();
      std::fprintf(stderr, "\r[%5.1fs] acked/s %9.0f  delivered/s %9.0f  outstanding %7llu  errors %llu   ",
                   std::chrono::duration<double>(tick - measure_start).count(), dt > 0 ? (a - last_acked) / dt : 0.0,
                   dt > 0 ? (d - last_delivered) / dt : 0.0,
                   static_cast<unsigned long long>(total(&worker::outstanding)),
                   static_cast<unsigned long long>(total(&worker::errors)));
      std::fflush(stderr);
      last_acked = a, last_delivered = d, last_tick = tick;
    }
    if (tick >= end) break;
  }
  ctl.set(phase::drain);
  measure_end = sclock::now();
  if (opt.progress) std::fprintf(stderr, "\n");

  // Drain: no new sends; wait for every message to be acked and delivered, up to drain_s.
  const auto drain_deadline = sclock::now() + std::chrono::duration<double>(opt.drain_s);
  while (sclock::now() < drain_deadline && total(&worker::outstanding) > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ctl.set(phase::done);
  pool.stop(std::chrono::milliseconds(1000));

  load_result r;
  {
    std::lock_guard lock(ctl.mu);
    r.first_error = ctl.first_error;
  }
  r.measured_s = std::chrono::duration<double>(measure_end - measure_start).count();
  for (auto& w : workers) {
    r.sent += w->sent.load();
    r.acked += w->acked.load();
    r.delivered += w->delivered.load();
    r.errors += w->errors.load();
    r.duplicates += w->duplicates;
    r.out_of_order += w->out_of_order;
    r.stale += w->stale;
    r.ack_ns.merge(w->ack_ns);
    r.deliver_ns.merge(w->deliver_ns);
    for (auto& p : w->pairs)
      for (const auto& e : p->entries) {
        if (e.settled) continue;
        if (e.acked && !e.delivered)
          ++r.lost;
        else if (!e.acked && !e.failed)
          ++r.unacked;
      }
  }
  return r;
}

idle_result run_idle(const idle_options& opt) {
  if (opt.accounts.empty() || opt.connections <= 0) throw std::runtime_error("nothing to connect");
  run_control ctl;
  const auto ep = resolve_one(opt.url);
  const auto sources = parse_sources(opt.source_ips, on_v4_loopback(ep));
  const int threads = std::max(1, opt.threads);
  std::vector<std::unique_ptr<worker>> workers;
  for (int t = 0; t < threads; ++t) {
    auto w = std::make_unique<worker>();
    w->ctl = &ctl;
    w->sources = sources;
    w->concurrency = std::max(1, opt.concurrency);
    workers.push_back(std::move(w));
  }
  for (int i = 0; i < opt.connections; ++i) {
    auto& w = *workers[static_cast<std::size_t>(i % threads)];
    // The index picks the source address, so spread by global index, not per thread.
    w.conns.push_back(std::make_unique<connection>(w, role::idle, nullptr, static_cast<std::size_t>(i)));
    w.launch_plan.push_back({ep, host_header(opt.url), opt.url.target,
                             opt.accounts[static_cast<std::size_t>(i) % opt.accounts.size()].token});
  }
  idle_result r;
  if (opt.read_server_rss) r.rss_before = opt.read_server_rss();

  const auto first_ns = now_ns();
  for (auto& w : workers) asio::post(w->io, [&w] { w->launch_more(); });
  thread_pool pool(workers);
  // Generous: a server that accepts 1,000 connections/s still finishes 20,000 in time.
  wait_for_setup(ctl, opt.connections, false, 30 + opt.connections / 1000.0);
  r.connections = ctl.ready.load();
  r.failed = ctl.failed.load();
  const auto last = ctl.last_ready_ns.load();
  r.connect_s = last > first_ns ? static_cast<double>(last - first_ns) / 1e9 : 0;
  {
    std::lock_guard lock(ctl.mu);
    r.first_error = ctl.first_error;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(opt.settle_s));
  if (opt.read_server_rss) r.rss_after = opt.read_server_rss();
  if (opt.hold_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(opt.hold_s));
  ctl.set(phase::done);
  pool.stop(std::chrono::milliseconds(2000));
  return r;
}

}  // namespace chatrix::bench
