// Runs the bus contract suite (bus_contract.cpp) on the single-node bus.
#include "bus_contract.hpp"

#include "cluster/in_process_bus.hpp"

namespace chatrix::cluster::testing {
namespace {

struct in_process_factory final : bus_factory {
  std::unique_ptr<bus> make(boost::asio::io_context&, const std::string& id) override {
    return std::make_unique<in_process_bus>(node_info{id, id + ".example:8080", 1, 0, 0});
  }
  bool ready(const bus&) const override { return true; }
};

INSTANTIATE_TEST_SUITE_P(in_process, bus_contract,
                         ::testing::Values(bus_backend{"in_process", [] {
                                                         return std::unique_ptr<bus_factory>(new in_process_factory);
                                                       }}),
                         bus_backend_name{});
// A single-node bus: the cases across nodes do not apply.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(multi_node_bus_contract);

}  // namespace
}  // namespace chatrix::cluster::testing
