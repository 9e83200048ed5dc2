// spawn_logged (src/core/spawn.hpp): a coroutine's exception reaches its cleanup instead of
// vanishing, and a coroutine that returns runs no cleanup.
#include "core/spawn.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <stdexcept>

namespace asio = boost::asio;

namespace {

asio::awaitable<void> fails() {
  throw std::runtime_error("broken");
  co_return;
}

asio::awaitable<void> succeeds(bool& ran) {
  ran = true;
  co_return;
}

}  // namespace

TEST(spawn_logged, runs_the_cleanup_after_an_exception) {
  asio::io_context io;
  int cleanups = 0;
  chatrix::spawn_logged(io, fails(), "test coroutine", [&] { ++cleanups; });
  io.run();
  EXPECT_EQ(cleanups, 1);
}

TEST(spawn_logged, runs_no_cleanup_when_the_coroutine_returns) {
  asio::io_context io;
  int cleanups = 0;
  bool ran = false;
  chatrix::spawn_logged(io, [&ran] { return succeeds(ran); }, "test coroutine", [&] { ++cleanups; });
  io.run();
  EXPECT_TRUE(ran);
  EXPECT_EQ(cleanups, 0);
}

TEST(spawn_logged, without_a_cleanup_the_failure_is_only_logged) {
  asio::io_context io;
  chatrix::spawn_logged(io, fails(), "test coroutine");
  EXPECT_NO_THROW(io.run());
}
