// Runs the storage contract suite (tests/unit/storage/store_contract.cpp, the same
// assertions as for SQLite) against postgres_store, on one throwaway PostgreSQL per binary
// with a fresh database per test.

#include "store_contract.hpp"

#include "storage/postgres/postgres_store.hpp"
#include "support/pg_instance.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace chatrix::storage::testing {
namespace {

/// Started on first use, stopped when the binary exits: one server for all tests here.
chatrix::testing::pg_instance& server() {
  static chatrix::testing::pg_instance instance;
  return instance;
}

postgres_options test_options() {
  postgres_options opts;
  opts.pool_size = 2;
  return opts;
}

class postgres_factory final : public store_factory {
 public:
  std::unique_ptr<store> make() override { return std::make_unique<postgres_store>(url_, test_options()); }

  std::unique_ptr<store> make_gated(std::size_t max_queued_writes, std::shared_future<void> gate) override {
    postgres_options opts = test_options();
    opts.max_queued_writes = max_queued_writes;
    opts.before_write_batch = [gate] { gate.wait(); };
    return std::make_unique<postgres_store>(server().create_database(), std::move(opts));
  }

 private:
  std::string url_ = server().create_database();
};

INSTANTIATE_TEST_SUITE_P(postgres, store_contract,
                         ::testing::Values(store_backend{"postgres",
                                                         [] { return std::make_unique<postgres_factory>(); }}),
                         backend_name{});

}  // namespace
}  // namespace chatrix::storage::testing
