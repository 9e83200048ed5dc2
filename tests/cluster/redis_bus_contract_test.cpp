// Runs the bus contract suite (bus_contract.cpp) on redis_bus, every node of a test on one
// throwaway redis-server.
#include "bus_contract.hpp"

#include "cluster/redis/redis_bus.hpp"
#include "redis_instance.hpp"

namespace chatrix::cluster::testing {
namespace {

struct redis_factory final : bus_factory {
  test::redis_instance redis;  // one per test: the factory lives as long as the fixture
  const system_clock clock;    // likewise, so it outlives every bus it made

  std::unique_ptr<bus> make(boost::asio::io_context& io, const std::string& id) override {
    redis::redis_bus_options o;
    o.address = redis.parsed_address();
    o.node_id = id;
    o.advertised_address = id + ".example:8080";
    o.heartbeat = std::chrono::milliseconds(200);
    return std::make_unique<redis::redis_bus>(io, o, clock);
  }
  bool ready(const bus& b) const override { return static_cast<const redis::redis_bus&>(b).connected(); }
};

const bus_backend redis_backend{"redis", [] { return std::unique_ptr<bus_factory>(new redis_factory); }};
INSTANTIATE_TEST_SUITE_P(redis, bus_contract, ::testing::Values(redis_backend), bus_backend_name{});
INSTANTIATE_TEST_SUITE_P(redis, multi_node_bus_contract, ::testing::Values(redis_backend), bus_backend_name{});

}  // namespace
}  // namespace chatrix::cluster::testing
