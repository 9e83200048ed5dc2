// Multi-process cluster tests: per test, three real chatrix nodes on one fresh PostgreSQL
// database and one redis-server (shared by the test process, FLUSHALL per test), plus the
// client-side helpers the scenarios share (sessions, frame pumps, GET /cluster).
#pragma once

#include "cluster/redis_instance.hpp"
#include "support/chat_fixture.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chatrix::test {

/// One chatrix node of the test cluster. Its port is chosen before start, because
/// SERVER_HOST (what GET /cluster shows) must be known when the process starts.
struct cluster_node {
  std::string name;  // "a", "b", "c": for failure messages
  std::uint16_t port = 0;
  std::unique_ptr<server_process> proc;
  bool expect_dead = false;  // the test killed or stopped it on purpose
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

/// A live node as GET /cluster reports it.
struct listed_node {
  std::string id;
  std::string address;
};

/// What GET /cluster answered on one node.
struct cluster_listing {
  std::string self_id;
  std::vector<listed_node> nodes;
  bool lists_address(const std::string& address) const;
  bool lists_id(const std::string& id) const;
};

class cluster_e2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  /// Settings every node starts with besides the cluster's own (a derived fixture's).
  virtual std::map<std::string, std::string> node_env() const { return {}; }
  /// Whether connect()'s sessions get typing (17) and presence (18) frames; most tests skip them.
  virtual bool sessions_see_people() const { return false; }
  /// How many nodes SetUp starts ("a", "b", "c" in that order).
  virtual std::size_t initial_nodes() const { return 3; }

  static redis_instance& redis() { return *redis_; }
  cluster_node& node(std::size_t i) { return nodes_.at(i); }

  /// Starts one more node (same database, Redis and JWT secret) and returns its index.
  std::size_t start_node(const std::string& name);

  /// Registers `username` through node `via` (any node: they share the database).
  test_user make_user(const std::string& username, std::size_t via = 0);
  /// Opens a WebSocket to node `i`, authenticates (with "acks": true when asked) and consumes
  /// PROFILE_INFO and CHATPREVIEWS.
  session connect(const test_user& user, std::size_t i, bool acks = false);
  /// GET /cluster on node `i`.
  cluster_listing cluster_of(std::size_t i);
  /// Polls GET /cluster on node `i` until `pred` holds or `timeout` (a failure guard only).
  bool wait_listing(std::size_t i, const std::function<bool(const cluster_listing&)>& pred,
                    std::chrono::milliseconds timeout, cluster_listing* last = nullptr);

  static std::unique_ptr<redis_instance> redis_;
  std::string database_url_;
  std::vector<cluster_node> nodes_;
};

/// Reads frames from `ws` and hands each (parsed) to `on_frame` until `done()` holds, the
/// connection has ended and every queued frame is consumed, or `timeout` passes. Returns
/// done(). Non-JSON frames fail the test.
bool pump(ws_client& ws, const std::function<void(const json::value&)>& on_frame, const std::function<bool()>& done,
          std::chrono::milliseconds timeout);

/// The "type" of a frame (-1 when it has none).
int type_of(const json::value& frame);

/// The message ids of a RECEIVED body ({"message_ids": [...]}) or a MARK_READ body ([...]).
std::vector<std::int64_t> ids_of(const json::value& ids_or_body);

/// A TEXT's content "<prefix><n>" → n (-1 when the content has another form).
std::int64_t index_in(const std::string& content, const std::string& prefix);

}  // namespace chatrix::test
