// What the shutdown waits on: the registry wakes its waiter on the events (the last session
// leaving, the last frame ending, notify) and at the deadline, and not otherwise.
#include "net/session_registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>

namespace asio = boost::asio;
using chatrix::net::session_registry;
using namespace std::chrono_literals;

namespace {

class session_registry_test : public ::testing::Test {
 protected:
  /// Starts one wait_for_change(); `woken` turns true when it returns.
  void start_waiting() {
    woken_ = false;
    asio::co_spawn(io_, registry_.wait_for_change(), [this](std::exception_ptr) { woken_ = true; });
    io_.poll();
    io_.restart();
  }
  /// Runs what is ready now (no timer can expire meanwhile with a deadline far away).
  void poll() {
    io_.poll();
    io_.restart();
  }

  asio::io_context io_;
  session_registry registry_{io_.get_executor()};
  bool woken_ = false;
};

}  // namespace

TEST_F(session_registry_test, wakes_when_the_last_session_leaves) {
  registry_.add(1, {});
  registry_.add(2, {});
  registry_.begin_stopping(std::chrono::steady_clock::now() + 1h);
  start_waiting();
  EXPECT_FALSE(woken_);
  registry_.remove(1);
  poll();
  EXPECT_FALSE(woken_) << "one session is still reading";
  registry_.remove(1);
  poll();
  EXPECT_FALSE(woken_) << "removing twice counts once";
  registry_.remove(2);
  poll();
  EXPECT_TRUE(woken_);
  EXPECT_TRUE(registry_.empty());
}

TEST_F(session_registry_test, wakes_when_the_last_frame_in_progress_ends) {
  registry_.begin_stopping(std::chrono::steady_clock::now() + 1h);
  {
    session_registry::frame_in_progress first(registry_);
    start_waiting();
    {
      session_registry::frame_in_progress second(registry_);
      EXPECT_EQ(registry_.frames_in_progress(), 2u);
    }
    poll();
    EXPECT_FALSE(woken_);
  }
  poll();
  EXPECT_TRUE(woken_);
  EXPECT_EQ(registry_.frames_in_progress(), 0u);
}

TEST_F(session_registry_test, wakes_on_notify) {
  registry_.begin_stopping(std::chrono::steady_clock::now() + 1h);
  start_waiting();
  EXPECT_FALSE(woken_);
  registry_.notify();
  poll();
  EXPECT_TRUE(woken_);
}

TEST_F(session_registry_test, events_before_the_shutdown_wake_nobody) {
  registry_.add(1, {});
  {
    session_registry::frame_in_progress frame(registry_);
  }
  registry_.remove(1);
  EXPECT_FALSE(registry_.stopping());
  EXPECT_FALSE(registry_.deadline_passed());
}

TEST_F(session_registry_test, the_deadline_ends_the_wait) {
  registry_.add(1, {});
  const auto start = std::chrono::steady_clock::now();
  registry_.begin_stopping(start + 50ms);
  start_waiting();
  EXPECT_FALSE(woken_);
  io_.run_for(2s);
  EXPECT_TRUE(woken_);
  EXPECT_TRUE(registry_.deadline_passed());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
}
