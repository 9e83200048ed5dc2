// The bus contract suite's plumbing: a factory per bus implementation and the parameterized
// fixture. An implementation joins the suite by instantiating bus_contract with its backend
// (see in_process_bus_contract_test.cpp, redis_bus_contract_test.cpp).
#pragma once

#include "cluster/bus.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace chatrix::cluster::testing {

/// Makes buses of one implementation, all on one io_context, as nodes of one cluster.
struct bus_factory {
  virtual ~bus_factory() = default;
  /// A bus for node `id`, not started.
  virtual std::unique_ptr<bus> make(boost::asio::io_context& io, const std::string& id) = 0;
  /// A started bus routes both ways (in_process_bus: at once; redis_bus: once connected).
  virtual bool ready(const bus& b) const = 0;
};

struct bus_backend {
  std::string name;
  std::function<std::unique_ptr<bus_factory>()> make_factory;
};

inline void PrintTo(const bus_backend& b, std::ostream* os) { *os << b.name; }

struct bus_backend_name {
  std::string operator()(const ::testing::TestParamInfo<bus_backend>& info) const { return info.param.name; }
};

/// Records what a bus hands over, and on which thread.
struct recording_sink final : event_sink {
  std::vector<user_event> got;
  std::vector<std::thread::id> threads;
  std::vector<revocation> revocations;
  int resyncs = 0;
  struct presence_call {
    std::string node;
    std::vector<presence_update> updates;
  };
  std::vector<presence_call> presence;
  std::vector<std::pair<std::string, unix_ms>> gone;
  std::vector<user_id> changed;
  std::vector<presence_update> local;  // what local_presence() answers
  int local_asked = 0;

  void revoked(const revocation& r) override { revocations.push_back(r); }
  void deliver_local(const user_event& ev) override {
    got.push_back(ev);
    threads.push_back(std::this_thread::get_id());
  }
  void presence_changed(const std::string& node, const std::vector<presence_update>& updates) override {
    presence.push_back({node, updates});
  }
  void node_gone(const std::string& node, unix_ms at) override { gone.emplace_back(node, at); }
  std::vector<presence_update> local_presence() override {
    ++local_asked;
    return local;
  }
  void user_changed(user_id id) override { changed.push_back(id); }
  void resync() override { ++resyncs; }

  /// Every update heard from `node`, in order.
  std::vector<presence_update> presence_from(const std::string& node) const {
    std::vector<presence_update> out;
    for (const auto& c : presence)
      if (c.node == node) out.insert(out.end(), c.updates.begin(), c.updates.end());
    return out;
  }
};

class bus_contract : public ::testing::TestWithParam<bus_backend> {
 protected:
  void SetUp() override { factory_ = GetParam().make_factory(); }
  void TearDown() override { buses_.clear(); }

  /// A started node, ready to route.
  bus& start_node(const std::string& id, recording_sink& sink);
  /// Runs the io_context until `pred()` holds (false after `timeout`).
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void run_for(std::chrono::milliseconds d);
  /// Connects a device of `user` on `b` and waits until it is visible to other nodes.
  void connect_visible(bus& b, user_id user);

  boost::asio::io_context io_;
  std::unique_ptr<bus_factory> factory_;
  recording_sink sink_a_, sink_b_;  // declared before the buses: they outlive them
  std::vector<std::unique_ptr<bus>> buses_;
};

/// The cases that need two nodes on one bus: instantiated only for buses that span nodes.
class multi_node_bus_contract : public bus_contract {};

}  // namespace chatrix::cluster::testing
