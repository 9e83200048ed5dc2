// The cluster_e2e fixture: Redis per test process, a database and three chatrix nodes per
// test, and the frame helpers of the scenarios. See cluster_fixture.hpp.
#include "e2e/cluster_fixture.hpp"

#include "support/test_store.hpp"

#include <algorithm>
#include <csignal>
#include <deque>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <sys/wait.h>

namespace chatrix::test {

std::unique_ptr<redis_instance> cluster_e2e::redis_;

namespace {

std::string describe_status(const std::optional<int>& st) {
  if (!st) return "still running or killed after the grace period";
  if (WIFEXITED(*st)) return "exit status " + std::to_string(WEXITSTATUS(*st));
  if (WIFSIGNALED(*st)) return "signal " + std::to_string(WTERMSIG(*st));
  return "status " + std::to_string(*st);
}

}  // namespace

bool cluster_listing::lists_address(const std::string& address) const {
  for (const auto& n : nodes)
    if (n.address == address) return true;
  return false;
}

bool cluster_listing::lists_id(const std::string& id) const {
  for (const auto& n : nodes)
    if (n.id == id) return true;
  return false;
}

void cluster_e2e::SetUpTestSuite() {
  // A write to a socket a killed node left behind must fail, not kill the test runner.
  std::signal(SIGPIPE, SIG_IGN);
  redis_ = std::make_unique<redis_instance>();
}

void cluster_e2e::TearDownTestSuite() { redis_.reset(); }

void cluster_e2e::SetUp() {
  if (!redis_->running()) redis_->start();  // a failed test may have left it down
  redis_->command({"FLUSHALL"});
  // The run's shared PostgreSQL (ctest fixture pg_shared_server) or a private one.
  database_url_ = create_test_database();
  const char* const names[] = {"a", "b", "c"};
  for (std::size_t i = 0; i < initial_nodes() && i < std::size(names); ++i) start_node(names[i]);
}

void cluster_e2e::TearDown() {
  // Every node the test did not stop must still be running and must stop cleanly: a node
  // that crashed unnoticed, or hangs on SIGTERM, fails the test. One SIGTERM to each, all at
  // once so that their shutdowns (about a second each) overlap. Only one: a second SIGTERM
  // (as server_process::stop() would send) can land after the node has removed its signal
  // handler at the very end of its shutdown and kill it with "signal 15" instead of exit 0.
  std::vector<cluster_node*> running;
  for (auto& n : nodes_) {
    if (n.expect_dead) continue;
    if (n.proc->alive()) {
      ::kill(n.proc->pid(), SIGTERM);
      running.push_back(&n);
    } else {
      ADD_FAILURE() << "node " << n.name << " died during the test (" << describe_status(n.proc->last_status())
                    << ")";
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (auto* n : running) {
    while (n->proc->alive() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    if (n->proc->alive()) {
      n->proc->kill_hard();
      ADD_FAILURE() << "node " << n->name << " did not exit within 10 s of SIGTERM (killed)";
      continue;
    }
    const auto st = n->proc->last_status();
    if (!st || !WIFEXITED(*st) || WEXITSTATUS(*st) != 0)
      ADD_FAILURE() << "node " << n->name << " did not exit 0 after SIGTERM (" << describe_status(st) << ")";
  }
  if (HasFailure()) {
    for (const auto& n : nodes_)
      std::cerr << "---- node " << n.name << " (" << n.address() << ") log tail ----\n" << n.proc->log_tail(40);
    // The last lines of redis-server's own log (its temp dir goes with the test process).
    std::ifstream redis_log(redis_->dir() / "redis.log");
    std::deque<std::string> tail;
    for (std::string line; std::getline(redis_log, line);) {
      tail.push_back(std::move(line));
      if (tail.size() > 15) tail.pop_front();
    }
    std::cerr << "---- redis-server log tail ----\n";
    for (const auto& line : tail) std::cerr << "  | " << line << '\n';
  }
  nodes_.clear();  // every process is gone before its database is dropped
  drop_test_database(database_url_);
}

std::size_t cluster_e2e::start_node(const std::string& name) {
  // The port is picked here (bound, released, then given to the node), so a rare collision
  // with another process is possible: then the node fails to listen and we try another.
  std::string last_error;
  for (int attempt = 0; attempt < 3; ++attempt) {
    cluster_node n;
    n.name = name;
    n.port = free_loopback_port();
    auto env = node_env();
    env.insert_or_assign("SERVER_PORT", n.address());
    env.insert_or_assign("SERVER_HOST", n.address());
    env.insert_or_assign("REDISADDR", redis_->address());
    env.insert_or_assign("DB_CONNECTION_URL", database_url_);
    env.try_emplace("LOG_LEVEL", "info");  // cluster membership changes are logged at info
    n.proc = std::make_unique<server_process>(std::move(env));
    try {
      n.proc->start();
    } catch (const std::exception& e) {
      last_error = e.what();
      continue;
    }
    if (n.proc->port() != n.port) throw std::runtime_error("node " + name + " listens on an unexpected port");
    nodes_.push_back(std::move(n));
    return nodes_.size() - 1;
  }
  throw std::runtime_error("node " + name + " did not start: " + last_error);
}

test_user cluster_e2e::make_user(const std::string& username, std::size_t via) {
  test_user u = register_user(node(via).port, username, "password-" + username, username + " Test");
  if (u.id <= 0) throw std::runtime_error("register answer for " + username + " has no user.id");
  return u;
}

session cluster_e2e::connect(const test_user& user, std::size_t i, bool acks) {
  session s;
  s.ws = std::make_unique<ws_client>();
  s.ws->connect(node(i).port);
  s.ws->set_label("ws of " + user.username + " on node " + node(i).name);
  s.ws->ignore_type(ev_synced);  // as connect_authed: these tests do not look for it
  if (!sessions_see_people()) {
    s.ws->ignore_type(ev_typing);
    s.ws->ignore_type(ev_presence);
  }
  json::object hello{{"token", user.token}};
  if (acks) hello["acks"] = true;
  s.ws->send_text(json::serialize(hello));
  s.profile = body_of(s.ws->recv_type(ev_profile_info, 10s));
  s.previews = body_of(s.ws->recv_type(ev_chat_previews, 10s));
  return s;
}

cluster_listing cluster_e2e::cluster_of(std::size_t i) {
  auto res = http_request(node(i).port, "GET", "/cluster");
  if (res.status != 200) throw std::runtime_error("GET /cluster on node " + node(i).name + ": " + std::to_string(res.status));
  const auto body = res.json();
  cluster_listing out;
  out.self_id = str_field(body, "node_id");
  const auto& list = body.at("nodes");
  if (!list.is_array()) throw std::runtime_error("GET /cluster: \"nodes\" is not an array: " + res.body);
  for (const auto& n : list.as_array()) out.nodes.push_back({str_field(n, "id"), str_field(n, "address")});
  return out;
}

bool cluster_e2e::wait_listing(std::size_t i, const std::function<bool(const cluster_listing&)>& pred,
                               std::chrono::milliseconds timeout, cluster_listing* last) {
  // A request that fails at the connection level is retried until the deadline: it was
  // seen once (in ~40 runs) as a refused connect to a node that was listening, which looks
  // like loopback port reuse (ports are picked by bind-and-release); a node that is really
  // gone still fails here at the deadline, and the fixture's TearDown reports its death.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_error;
  for (;;) {
    try {
      auto l = cluster_of(i);
      last_error.clear();
      const bool ok = pred(l);
      if (last) *last = l;
      if (ok) return true;
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (!last_error.empty()) ADD_FAILURE() << "GET /cluster on node " << node(i).name << ": " << last_error;
      return false;
    }
    std::this_thread::sleep_for(100ms);
  }
}

bool pump(ws_client& ws, const std::function<void(const json::value&)>& on_frame, const std::function<bool()>& done,
          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    auto f = ws.recv(std::min<std::chrono::milliseconds>(left, 100ms));
    if (!f) {
      if (ws.closed()) return done();  // recv() returns nothing more once closed and drained
      continue;
    }
    boost::system::error_code ec;
    auto v = json::parse(*f, ec);
    if (ec) throw std::runtime_error("frame is not JSON: " + *f);
    on_frame(v);
  }
  return true;
}

int type_of(const json::value& frame) {
  if (!frame.is_object()) return -1;
  const auto* t = frame.as_object().if_contains("type");
  if (!t || !(t->is_int64() || t->is_uint64())) return -1;
  return static_cast<int>(to_i64(*t));
}

std::vector<std::int64_t> ids_of(const json::value& v) {
  const json::value* arr = &v;
  if (v.is_object()) arr = &v.at("message_ids");
  if (!arr->is_array()) throw std::runtime_error("not a list of ids: " + json::serialize(v));
  std::vector<std::int64_t> out;
  for (const auto& id : arr->as_array()) out.push_back(to_i64(id));
  return out;
}

std::int64_t index_in(const std::string& content, const std::string& prefix) {
  if (content.size() <= prefix.size() || content.compare(0, prefix.size(), prefix) != 0) return -1;
  const auto digits = content.substr(prefix.size());
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return -1;
  return std::stoll(digits);
}

}  // namespace chatrix::test
