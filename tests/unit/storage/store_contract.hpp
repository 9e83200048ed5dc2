// The storage contract suite's plumbing: a factory per backend, the parameterized fixture,
// and helpers that wait for store callbacks. A backend joins the suite by instantiating
// store_contract with its factory (see sqlite_store_test.cpp).
#pragma once

#include "storage/store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace chatrix {
// Readable gtest output for error codes.
inline void PrintTo(errc code, std::ostream* os) { *os << code_name(code); }
}  // namespace chatrix

namespace chatrix::storage::testing {

inline constexpr std::chrono::seconds callback_timeout{30};

/// Makes stores of one backend over one private database.
struct store_factory {
  virtual ~store_factory() = default;
  /// A store over this factory's database: empty on the first call, and the same data
  /// again on later calls (after the previous store was shut down).
  virtual std::unique_ptr<store> make() = 0;
  /// A store over a separate, empty database whose write queue holds at most
  /// `max_queued_writes` calls and which takes no write off its queue before `gate` is
  /// ready. nullptr if the backend has no such knob (the tests using it are skipped).
  virtual std::unique_ptr<store> make_gated(std::size_t max_queued_writes, std::shared_future<void> gate) = 0;
};

/// One backend as a test parameter.
struct store_backend {
  std::string name;
  std::function<std::unique_ptr<store_factory>()> make_factory;
};

inline void PrintTo(const store_backend& b, std::ostream* os) { *os << b.name; }

struct backend_name {
  std::string operator()(const ::testing::TestParamInfo<store_backend>& info) const { return info.param.name; }
};

/// Starts an asynchronous store call and waits for its callback, e.g.
///   auto r = await<user>([&](auto done) { s.create_user(u, done); });
/// Throws (failing the test) if the callback does not come within the timeout.
template <class T, class Start>
result<T> await(Start&& start, std::chrono::milliseconds timeout = callback_timeout) {
  // shared_ptr: after a timeout the callback may still come, and must not touch a dead promise.
  auto promise = std::make_shared<std::promise<result<T>>>();
  auto future = promise->get_future();
  std::forward<Start>(start)(callback<T>([promise](result<T> r) { promise->set_value(std::move(r)); }));
  if (future.wait_for(timeout) != std::future_status::ready) {
    throw std::runtime_error("timed out waiting for a store callback");
  }
  return future.get();
}

/// Collects the results of many calls issued without waiting, in the order their
/// callbacks ran, each with the tag given when the callback was made.
template <class T>
class completion_log {
 public:
  struct entry {
    int tag;
    result<T> outcome;
    std::thread::id thread;
  };

  /// The callback holds the log's state, so a test that stops early leaves no dangling
  /// callback behind.
  callback<T> make(int tag) {
    return [state = state_, tag](result<T> r) {
      {
        std::lock_guard lock(state->mutex);
        state->entries.push_back(entry{tag, std::move(r), std::this_thread::get_id()});
      }
      state->cv.notify_all();
    };
  }

  /// Waits until `n` callbacks ran; false on timeout.
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = callback_timeout) {
    std::unique_lock lock(state_->mutex);
    return state_->cv.wait_for(lock, timeout, [&] { return state_->entries.size() >= n; });
  }

  std::vector<entry> entries() const {
    std::lock_guard lock(state_->mutex);
    return state_->entries;
  }

  std::size_t size() const {
    std::lock_guard lock(state_->mutex);
    return state_->entries.size();
  }

 private:
  struct state {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<entry> entries;
  };
  std::shared_ptr<state> state_ = std::make_shared<state>();
};

/// Opens a gate on destruction unless it was opened already, so that a failing
/// assertion cannot leave a gated store's writer blocked forever. Declare it after the
/// gated store so that it is destroyed (and opens the gate) first.
class gate_guard {
 public:
  gate_guard() : future_(promise_.get_future().share()) {}
  gate_guard(const gate_guard&) = delete;
  gate_guard& operator=(const gate_guard&) = delete;
  ~gate_guard() { open(); }

  std::shared_future<void> future() const { return future_; }
  void open() {
    if (!opened_) {
      opened_ = true;
      promise_.set_value();
    }
  }

 private:
  std::promise<void> promise_;
  std::shared_future<void> future_;
  bool opened_ = false;
};

/// The contract suite's fixture: a fresh store per test, plus shorthands for the calls
/// most tests need to succeed (they throw, failing the test, on an error result).
class store_contract : public ::testing::TestWithParam<store_backend> {
 protected:
  void SetUp() override {
    factory_ = GetParam().make_factory();
    store_ = factory_->make();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    if (store_) store_->shutdown();
    store_.reset();
  }

  store& db() { return *store_; }

  /// Shuts the store down and opens a new one over the same database.
  void reopen() {
    store_->shutdown();
    store_.reset();
    store_ = factory_->make();
  }

  user add_user(const std::string& username, const std::string& name = "") {
    return await<user>([&](auto done) {
             db().create_user(new_user{username, name.empty() ? username : name, "hash:" + username, next_time()},
                              done);
           })
        .value();
  }

  send_result send(user_id from, user_id to, const std::string& content, std::optional<std::string> mark = {},
                   unix_ms now = 0, unix_ms retry_window = 0) {
    send_request req{from, to, content, std::move(mark), now ? now : next_time(), retry_window};
    return await<send_result>([&](auto done) { db().append_message(req, done); }).value();
  }

  std::vector<message> history_of(user_id a, user_id b, std::optional<message_id> before = {}, int limit = 50) {
    return await<std::vector<message>>([&](auto done) { db().history(a, b, before, limit, done); }).value();
  }

  std::vector<message> pending_for(user_id recipient, message_id after = 0, int limit = 50) {
    return await<std::vector<message>>([&](auto done) { db().pending_messages(recipient, after, limit, done); })
        .value();
  }

  std::vector<user> search(const std::string& fragment, int limit = 50) {
    return await<std::vector<user>>([&](auto done) { db().search_users(fragment, limit, done); }).value();
  }

  /// Strictly increasing fake clock, so that "most recent" is well defined.
  unix_ms next_time() { return clock_ += 10; }

  std::unique_ptr<store_factory> factory_;
  std::unique_ptr<store> store_;
  unix_ms clock_ = 1'700'000'000'000;
};

}  // namespace chatrix::storage::testing
