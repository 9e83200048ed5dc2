// The chat domain's rules, driven through chat_service with fake devices, a real SQLite store
// in a temp dir and a bus that can drop events (to prove resync delivers what was lost).
#include "chat/chat_service.hpp"
#include "storage/sqlite/sqlite_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <future>
#include <random>
#include <utility>

namespace asio = boost::asio;
namespace json = boost::json;
using namespace chatrix;

namespace {

/// Records every frame sent to it; completes writes when told to.
class fake_device final : public chat::connection {
 public:
  fake_device(chat::chat_service& chat, user u, std::uint64_t id, bool acks = false)
      : chat_(chat), user_(std::move(u)), id_(id), acks_(acks) {}

  std::uint64_t device_id() const noexcept override { return id_; }
  const user& account() const noexcept override { return user_; }
  bool explicit_acks() const noexcept override { return acks_; }
  bool is_open() const noexcept override { return true; }
  std::size_t queued_bytes() const noexcept override { return 0; }
  void send(chat::shared_frame frame, message_id receipt) override {
    frames.push_back(json::parse(*frame).as_object());
    // The write completes at once, as a socket write would shortly after.
    if (receipt != 0) chat_.on_written(*this, receipt);
  }
  void when_queue_at_most(std::size_t, std::function<void()> ready) override { ready(); }
  void may_read_again() override {}
  void close_for_error() override {}
  void end_session(const error& reason) override { ended.push_back(reason); }

  std::vector<json::object> of_type(int type) const {
    std::vector<json::object> out;
    for (const auto& f : frames)
      if (f.at("type").as_int64() == type) out.push_back(f);
    return out;
  }

  std::vector<json::object> frames;
  std::vector<error> ended;  // end_session calls

 private:
  chat::chat_service& chat_;
  user user_;
  std::uint64_t id_;
  bool acks_;
};

/// A device whose queue empties only when the test says so: a client that reads slowly.
class slow_device final : public chat::connection {
 public:
  slow_device(user u, std::uint64_t id) : user_(std::move(u)), id_(id) {}

  std::uint64_t device_id() const noexcept override { return id_; }
  const user& account() const noexcept override { return user_; }
  bool explicit_acks() const noexcept override { return true; }
  bool is_open() const noexcept override { return open_; }
  std::size_t queued_bytes() const noexcept override { return queued_; }
  void send(chat::shared_frame frame, message_id) override {
    if (!open_) return;
    frames.push_back(json::parse(*frame).as_object());
    queued_ += frame->size();
  }
  void when_queue_at_most(std::size_t bytes, std::function<void()> ready) override {
    if (!open_ || queued_ <= bytes) {
      ready();
      return;
    }
    waiters_.emplace_back(bytes, std::move(ready));
  }
  void may_read_again() override { ++read_again; }
  void close_for_error() override { close(); }
  void end_session(const error&) override { close(); }

  /// The client read everything queued.
  void drain() {
    queued_ = 0;
    release();
  }
  void close() {
    open_ = false;
    release();
  }
  bool waited_on() const { return !waiters_.empty(); }

  std::vector<json::object> frames;
  int read_again = 0;

 private:
  void release() {
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& [at_most, ready] : waiters) {
      if (!open_ || queued_ <= at_most) {
        ready();
      } else {
        waiters_.emplace_back(at_most, std::move(ready));
      }
    }
  }

  user user_;
  std::uint64_t id_;
  bool open_ = true;
  std::size_t queued_ = 0;
  std::vector<std::pair<std::size_t, std::function<void()>>> waiters_;
};

/// The in-process bus, with a switch that drops every event (a lost publish).
class lossy_bus final : public cluster::bus {
 public:
  void start(cluster::event_sink& sink) override { sink_ = &sink; }
  void publish(cluster::user_event ev) override {
    if (!sink_ || dropping) return;
    // As the Redis bus does: a loss is reported in the event stream before the next event.
    if (std::exchange(resync_before_next, false)) sink_->resync();
    sink_->deliver_local(ev);
  }
  void publish_revocation(const cluster::revocation& r) override {
    if (sink_) sink_->revoked(r);
  }
  void device_connected(user_id, std::function<void()> visible) override {
    if (visible) visible();
  }
  void device_disconnected(user_id) override {}
  void publish_presence(std::vector<cluster::presence_update> updates) override {
    if (sink_) sink_->presence_changed("test", updates);
  }
  void publish_user_changed(user_id id) override {
    if (sink_) sink_->user_changed(id);
  }
  void stop() override { sink_ = nullptr; }
  bool spans_nodes() const noexcept override { return false; }
  std::string node_id() const override { return "test"; }
  std::vector<cluster::node_info> nodes() const override { return {}; }
  void recover() { sink_->resync(); }
  bool dropping = false;
  bool resync_before_next = false;

 private:
  cluster::event_sink* sink_ = nullptr;
};

class fixed_clock final : public clock {
 public:
  std::chrono::system_clock::time_point now() const override { return t; }
  std::chrono::system_clock::time_point t = std::chrono::system_clock::now();
};

class chat_service_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("chatrix-chat-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    store_ = std::make_unique<storage::sqlite_store>(dir_ / "chat.db");
    chat_ = std::make_unique<chat::chat_service>(io_.get_executor(), *store_, bus_, tokens_, clock_, metrics_,
                                                 chat::service_options{});
    alice_ = make_user("alice");
    bob_ = make_user("bob");
    carol_ = make_user("carol");
  }
  /// A service with other options, for the tests of flow control.
  void restart_chat(chat::service_options options) {
    chat_.reset();
    chat_ = std::make_unique<chat::chat_service>(io_.get_executor(), *store_, bus_, tokens_, clock_, metrics_, options);
  }
  void TearDown() override {
    chat_.reset();
    store_->shutdown();
    std::filesystem::remove_all(dir_);
  }

  user make_user(const std::string& name) {
    std::promise<result<user>> p;
    store_->create_user(new_user{name, name + " N.", "hash", 1}, [&](result<user> r) { p.set_value(std::move(r)); });
    return p.get_future().get().value();
  }

  /// Runs the I/O loop until `done` holds (or a generous guard expires).
  template <class Pred>
  void run_until(Pred done) {
    for (int i = 0; i < 2000 && !done(); ++i) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(done());
  }
  void settle() {
    for (int i = 0; i < 40; ++i) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(5));
    }
  }

  /// A token of the device's user, valid for an hour, its jti named after the device.
  auth::token_claims token_of(const chat::connection& d) const {
    const auto now = std::chrono::floor<std::chrono::seconds>(clock_.t.time_since_epoch()).count();
    return auth::token_claims{d.account().id, now, now, now + 3600, "jti-" + std::to_string(d.device_id())};
  }

  void attach(fake_device& d) {
    bool done = false;
    auto token = token_of(d);
    asio::co_spawn(io_, chat_->attach(d, std::move(token)), [&](std::exception_ptr) { done = true; });
    run_until([&] { return done; });
  }
  /// Attaches as a device whose first frame carried `since`.
  void attach_since(fake_device& d, stream_pos since) {
    bool done = false;
    auto token = token_of(d);
    asio::co_spawn(io_, chat_->attach(d, std::move(token), since), [&](std::exception_ptr) { done = true; });
    run_until([&] { return done; });
  }
  void frame(fake_device& d, const std::string& text) {
    bool done = false;
    asio::co_spawn(io_, chat_->handle_frame(d, text), [&](std::exception_ptr) { done = true; });
    run_until([&] { return done; });
  }
  void text(fake_device& d, const std::string& to, const std::string& content, int mark = 1) {
    frame(d, R"({"type":0,"body":{"to":")" + to + R"(","content":")" + content + R"(","mark":)" +
                 std::to_string(mark) + "}}");
  }

  std::filesystem::path dir_;
  asio::io_context io_;
  // Store callbacks arrive from other threads: keep run_for waiting for them.
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<storage::sqlite_store> store_;
  lossy_bus bus_;
  auth::token_codec tokens_{"a test secret of enough bytes!!", std::chrono::hours(1)};
  fixed_clock clock_;
  metrics::server_metrics metrics_;
  std::unique_ptr<chat::chat_service> chat_;
  user alice_, bob_, carol_;
};

}  // namespace

TEST_F(chat_service_test, attach_sends_profile_then_previews) {
  fake_device a(*chat_, alice_, 1);
  attach(a);
  ASSERT_EQ(a.frames.size(), 3u);
  EXPECT_EQ(a.frames[0].at("type").as_int64(), 4);
  EXPECT_EQ(a.frames[0].at("body").at("username").as_string(), "alice");
  EXPECT_EQ(a.frames[1].at("type").as_int64(), 5);
  EXPECT_TRUE(a.frames[1].at("body").is_null());
  EXPECT_EQ(a.frames[2].at("type").as_int64(), 13);  // SYNCED: nothing pending
}

TEST_F(chat_service_test, delivered_only_after_storage_then_text_received_and_sent_sync) {
  fake_device a(*chat_, alice_, 1), a2(*chat_, alice_, 2), b(*chat_, bob_, 3);
  attach(a);
  attach(a2);
  attach(b);
  text(a, "bob", "hello", 7);
  run_until([&] { return !a.of_type(1).empty() && !a.of_type(10).empty(); });
  auto delivered = a.of_type(1)[0].at("body").as_object();
  EXPECT_EQ(delivered.at("mark").as_int64(), 7);
  ASSERT_EQ(b.of_type(0).size(), 1u);
  EXPECT_EQ(b.of_type(0)[0].at("body").at("msg_id"), delivered.at("message_id"));
  EXPECT_EQ(b.of_type(0)[0].at("body").at("from").as_string(), "alice");
  // The sender's other device sees the message; the sending device does not get it back.
  EXPECT_EQ(a2.of_type(12).size(), 1u);
  EXPECT_TRUE(a.of_type(12).empty());
  // The completed write to bob's legacy device is the receipt: every alice device hears it.
  EXPECT_EQ(a.of_type(10)[0].at("body").at("message_ids").as_array()[0], delivered.at("message_id"));
  run_until([&] { return !a2.of_type(10).empty(); });
}

TEST_F(chat_service_test, explicit_ack_devices_confirm_with_ack) {
  fake_device a(*chat_, alice_, 1), b(*chat_, bob_, 3, /*acks=*/true);
  attach(a);
  attach(b);
  text(a, "bob", "hello");
  run_until([&] { return !b.of_type(0).empty(); });
  settle();
  EXPECT_TRUE(a.of_type(10).empty()) << "no receipt before the device's ACK";
  auto id = b.of_type(0)[0].at("body").at("msg_id").as_int64();
  frame(b, R"({"type":11,"body":{"message_ids":[)" + std::to_string(id) + "]}}");
  run_until([&] { return !a.of_type(10).empty(); });
}

TEST_F(chat_service_test, reading_without_ack_is_the_receipt_reported_before_read) {
  fake_device a(*chat_, alice_, 1), b(*chat_, bob_, 3, /*acks=*/true);
  attach(a);
  attach(b);
  text(a, "bob", "hello");
  run_until([&] { return !b.of_type(0).empty(); });
  settle();
  ASSERT_TRUE(a.of_type(10).empty()) << "no receipt before the device's ACK";
  const auto id = b.of_type(0)[0].at("body").at("msg_id").as_int64();
  frame(b, R"({"type":2,"body":{"message_ids":[)" + std::to_string(id) + "]}}");
  run_until([&] { return !a.of_type(2).empty(); });
  std::vector<std::int64_t> types;
  for (const auto& f : a.frames) {
    const auto t = f.at("type").as_int64();
    if (t == 10 || t == 2) types.push_back(t);
  }
  EXPECT_EQ(types, (std::vector<std::int64_t>{10, 2})) << "RECEIVED once, then READ";
  EXPECT_EQ(a.of_type(10)[0].at("body").at("message_ids").as_array()[0].as_int64(), id);
  EXPECT_EQ(a.of_type(10)[0].at("body").at("to_id").as_int64(), bob_.id);
  // The ACK that comes late reports nothing again.
  frame(b, R"({"type":11,"body":{"message_ids":[)" + std::to_string(id) + "]}}");
  settle();
  EXPECT_EQ(a.of_type(10).size(), 1u);
}

TEST_F(chat_service_test, refusals_store_nothing) {
  fake_device a(*chat_, alice_, 1), b(*chat_, bob_, 3);
  attach(a);
  text(a, "nobody", "x", 1);
  text(a, "alice", "x", 2);
  frame(a, R"({"type":0,"body":{"to":"bob","to_id":)" + std::to_string(carol_.id) + R"(,"content":"x","mark":3}})");
  auto errs = a.of_type(3);
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_EQ(errs[0].at("body").at("code").as_string(), "unknown_recipient");
  EXPECT_EQ(errs[0].at("body").at("mark").as_int64(), 1);
  EXPECT_EQ(errs[1].at("body").at("code").as_string(), "self_message");
  EXPECT_EQ(errs[2].at("body").at("code").as_string(), "recipient_mismatch");
  attach(b);
  settle();
  EXPECT_TRUE(b.of_type(0).empty()) << "nothing was stored, so nothing is pending";
}

TEST_F(chat_service_test, pending_pushed_once_on_connect_in_order) {
  fake_device a(*chat_, alice_, 1);
  attach(a);
  const auto content = [](int i) { return std::string("m").append(std::to_string(i)); };
  for (int i = 0; i < 5; ++i) text(a, "bob", content(i), i + 1);
  run_until([&] { return a.of_type(1).size() == 5; });
  fake_device b(*chat_, bob_, 3);
  attach(b);
  ASSERT_EQ(b.frames.size(), 8u);
  EXPECT_EQ(b.frames[0].at("type").as_int64(), 4);
  EXPECT_EQ(b.frames[1].at("type").as_int64(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.frames[2 + i].at("body").at("content").as_string(), content(i));
  EXPECT_EQ(b.frames[7].at("type").as_int64(), 13);
  run_until([&] { return a.of_type(10).size() >= 1; });
  settle();
  chat_->detach(b);
  fake_device b2(*chat_, bob_, 4);
  attach(b2);
  EXPECT_TRUE(b2.of_type(0).empty()) << "delivered messages are not pushed again";
}

TEST_F(chat_service_test, only_the_recipient_marks_read) {
  fake_device a(*chat_, alice_, 1), b(*chat_, bob_, 3), c(*chat_, carol_, 5);
  attach(a);
  attach(b);
  attach(c);
  text(a, "bob", "secret");
  run_until([&] { return !b.of_type(0).empty(); });
  auto id = std::to_string(b.of_type(0)[0].at("body").at("msg_id").as_int64());
  frame(c, R"({"type":2,"body":{"to":"alice","message_ids":[)" + id + "]}}");
  ASSERT_EQ(c.of_type(3).size(), 1u);
  EXPECT_EQ(c.of_type(3)[0].at("body").at("code").as_string(), "forbidden");
  settle();
  EXPECT_TRUE(a.of_type(2).empty());
  frame(b, R"({"type":2,"body":{"to":"alice","message_ids":[)" + id + "]}}");
  run_until([&] { return !a.of_type(2).empty(); });
  EXPECT_EQ(a.of_type(2)[0].at("body").as_array()[0].as_int64(), std::stoll(id));
}

TEST_F(chat_service_test, history_only_for_participants) {
  fake_device a(*chat_, alice_, 1), c(*chat_, carol_, 5);
  attach(a);
  attach(c);
  text(a, "bob", "hi");
  run_until([&] { return !a.of_type(1).empty(); });
  frame(c, R"({"type":8,"body":{"user1_id":)" + std::to_string(alice_.id) + R"(,"user2_id":)" +
               std::to_string(bob_.id) + "}}");
  ASSERT_EQ(c.of_type(3).size(), 1u);
  EXPECT_EQ(c.of_type(3)[0].at("body").at("code").as_string(), "forbidden");
  frame(a, R"({"type":8,"body":{"user1_id":)" + std::to_string(alice_.id) + R"(,"user2_id":)" +
               std::to_string(bob_.id) + "}}");
  ASSERT_EQ(a.of_type(9).size(), 1u);
  EXPECT_EQ(a.of_type(9)[0].at("body").as_array().size(), 1u);
}

TEST_F(chat_service_test, resync_delivers_what_the_bus_lost_exactly_once) {
  fake_device a(*chat_, alice_, 1), b(*chat_, bob_, 3, /*acks=*/true);
  attach(a);
  attach(b);
  text(a, "bob", "first", 1);
  run_until([&] { return b.of_type(0).size() == 1; });
  bus_.dropping = true;
  text(a, "bob", "lost", 2);
  run_until([&] { return a.of_type(1).size() == 2; });
  settle();
  EXPECT_EQ(b.of_type(0).size(), 1u);
  bus_.dropping = false;
  bus_.recover();
  run_until([&] { return b.of_type(0).size() == 2; });
  EXPECT_EQ(b.of_type(0)[1].at("body").at("content").as_string(), "lost");
  bus_.recover();  // "first" is still pending (no ACK) but this device already has it
  settle();
  EXPECT_EQ(b.of_type(0).size(), 2u);
}

TEST_F(chat_service_test, resync_replays_the_stream_to_a_device_with_since_without_repeats) {
  fake_device a(*chat_, alice_, 1), b(*chat_, bob_, 3, /*acks=*/true), b2(*chat_, bob_, 4);
  attach(a);
  attach_since(b, 0);
  ASSERT_EQ(b.of_type(13).size(), 1u);
  text(a, "bob", "first", 1);
  run_until([&] { return b.of_type(0).size() == 1; });
  bus_.dropping = true;
  text(a, "bob", "lost", 2);
  run_until([&] { return a.of_type(1).size() == 2; });
  // Another device of Bob's has both and reads them: the READ_STATE to `b` is lost too.
  attach(b2);
  const auto first = a.of_type(1)[0].at("body").at("message_id").as_int64();
  const auto lost = a.of_type(1)[1].at("body").at("message_id").as_int64();
  frame(b2, R"({"type":2,"body":{"message_ids":[)" + std::to_string(first) + "," + std::to_string(lost) + "]}}");
  settle();
  EXPECT_EQ(b.of_type(0).size(), 1u);
  bus_.dropping = false;
  bus_.recover();
  run_until([&] { return b.of_type(0).size() == 2 && b.of_type(16).size() == 1; });
  EXPECT_EQ(b.of_type(0)[1].at("body").at("content").as_string(), "lost");
  EXPECT_EQ(b.of_type(16)[0].at("body").at("message_ids"), (json::array{first, lost}));
  bus_.recover();  // everything is had: nothing again
  settle();
  EXPECT_EQ(b.of_type(0).size(), 2u);
  EXPECT_EQ(b.of_type(16).size(), 1u);
  // Every stream frame once, in stream order: 1 (first), 2 (lost), 3 (the read).
  std::vector<std::int64_t> positions;
  for (const auto& f : b.frames)
    if (f.contains("pos")) positions.push_back(f.at("pos").as_int64());
  EXPECT_EQ(positions, (std::vector<std::int64_t>{1, 2, 3}));
}

TEST_F(chat_service_test, live_events_after_a_resync_wait_for_the_lost_ones) {
  fake_device a(*chat_, alice_, 1), b(*chat_, bob_, 3);
  attach(a);
  attach(b);
  bus_.dropping = true;
  text(a, "bob", "lost", 1);
  run_until([&] { return a.of_type(1).size() == 1; });
  bus_.dropping = false;
  // The bus reports the loss just before the next event, which is newer than the lost one.
  bus_.resync_before_next = true;
  text(a, "bob", "live", 2);
  run_until([&] { return b.of_type(0).size() == 2; });
  EXPECT_EQ(b.of_type(0)[0].at("body").at("content").as_string(), "lost");
  EXPECT_EQ(b.of_type(0)[1].at("body").at("content").as_string(), "live");
  settle();
  EXPECT_EQ(b.of_type(0).size(), 2u);
  // Live again afterwards.
  text(a, "bob", "after", 3);
  run_until([&] { return b.of_type(0).size() == 3; });
}

TEST_F(chat_service_test, messages_lost_while_a_device_catches_up_keep_their_order) {
  fake_device a(*chat_, alice_, 1), b(*chat_, bob_, 3);
  attach(a);
  attach(b);
  bus_.dropping = true;
  text(a, "bob", "lost 1", 1);
  run_until([&] { return a.of_type(1).size() == 1; });
  bus_.dropping = false;
  bus_.recover();  // b catches up (not run yet)
  bus_.dropping = true;
  text(a, "bob", "lost 2", 2);  // lost while b catches up
  run_until([&] { return a.of_type(1).size() == 2; });
  bus_.dropping = false;
  bus_.resync_before_next = true;
  text(a, "bob", "live", 3);
  run_until([&] { return b.of_type(0).size() == 3; });
  std::vector<std::string> got;
  for (const auto& f : b.of_type(0)) got.emplace_back(f.at("body").at("content").as_string());
  EXPECT_EQ(got, (std::vector<std::string>{"lost 1", "lost 2", "live"}));
}

TEST_F(chat_service_test, a_retry_of_a_message_whose_publish_was_lost_is_published_again) {
  fake_device a(*chat_, alice_, 1), a2(*chat_, alice_, 2), b(*chat_, bob_, 3, /*acks=*/true);
  attach(a);
  attach(a2);
  attach(b);
  // Stored and acknowledged, but its publish is lost (its node died right after the commit).
  bus_.dropping = true;
  text(a, "bob", "hello", 5);
  run_until([&] { return a.of_type(1).size() == 1; });
  bus_.dropping = false;
  settle();
  EXPECT_TRUE(b.of_type(0).empty());
  // The client did not see DELIVERED and retries: the original comes back, and goes out.
  text(a, "bob", "hello", 5);
  run_until([&] { return a.of_type(1).size() == 2 && b.of_type(0).size() == 1 && a2.of_type(12).size() == 1; });
  EXPECT_TRUE(a.of_type(1)[1].at("body").at("duplicate").as_bool());
  EXPECT_EQ(b.of_type(0)[0].at("body").at("msg_id"), a.of_type(1)[0].at("body").at("message_id"));
  // Another retry while it is still pending: devices that have it drop the repeat.
  text(a, "bob", "hello", 5);
  run_until([&] { return a.of_type(1).size() == 3; });
  settle();
  EXPECT_EQ(b.of_type(0).size(), 1u);
  EXPECT_EQ(a2.of_type(12).size(), 1u);
  // Once delivered, a retry publishes nothing: a new device of bob would otherwise get it.
  const auto id = b.of_type(0)[0].at("body").at("msg_id").as_int64();
  frame(b, R"({"type":11,"body":{"message_ids":[)" + std::to_string(id) + "]}}");
  run_until([&] { return !a.of_type(10).empty(); });
  fake_device b2(*chat_, bob_, 4);
  attach(b2);
  text(a, "bob", "hello", 5);
  run_until([&] { return a.of_type(1).size() == 4; });
  settle();
  EXPECT_TRUE(b2.of_type(0).empty());
}

// ---- flow control: the service waits on the connection's events, never on a timer ----

TEST_F(chat_service_test, a_backlog_goes_out_as_the_queue_drains_and_in_order) {
  chat::service_options options;
  options.pending_queue_watermark = 1;  // every frame waits for an empty queue
  restart_chat(options);
  fake_device a(*chat_, alice_, 1);
  attach(a);
  const auto content = [](int i) { return std::string("m").append(std::to_string(i)); };
  for (int i = 0; i < 3; ++i) text(a, "bob", content(i), i + 1);
  run_until([&] { return a.of_type(1).size() == 3; });

  slow_device b(bob_, 3);
  bool attached = false;
  auto token = token_of(b);
  asio::co_spawn(io_, chat_->attach(b, std::move(token)), [&](std::exception_ptr) { attached = true; });
  run_until([&] { return b.waited_on(); });
  settle();
  ASSERT_EQ(b.frames.size(), 2u) << "PROFILE_INFO and CHATPREVIEWS, then the backlog waits";
  for (std::size_t sent = 3; sent <= 5; ++sent) {
    b.drain();
    // The last message is followed at once by SYNCED (one small frame, not a page).
    run_until([&] { return b.frames.size() == (sent < 5 ? sent : 6); });
  }
  run_until([&] { return attached; });
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b.frames[2 + i].at("body").at("content").as_string(), content(i));
  EXPECT_EQ(b.frames[5].at("type").as_int64(), 13);
  EXPECT_FALSE(b.waited_on());
}

TEST_F(chat_service_test, a_device_that_falls_too_far_behind_while_catching_up_is_cut_off) {
  chat::service_options options;
  options.pending_queue_watermark = 1;  // the backlog waits for the slow device to read
  options.max_held_events = 2;
  restart_chat(options);
  fake_device a(*chat_, alice_, 1);
  attach(a);
  text(a, "bob", "backlog", 1);
  run_until([&] { return a.of_type(1).size() == 1; });

  slow_device b(bob_, 3);
  bool attached = false;
  auto token = token_of(b);
  asio::co_spawn(io_, chat_->attach(b, std::move(token)), [&](std::exception_ptr) { attached = true; });
  run_until([&] { return b.waited_on(); });
  // Live messages while it catches up are held for it: two are, the third cuts it off.
  for (int i = 0; i < 2; ++i) text(a, "bob", "live", 2 + i);
  run_until([&] { return a.of_type(1).size() == 3; });
  EXPECT_TRUE(b.is_open());
  text(a, "bob", "one too many", 4);
  run_until([&] { return a.of_type(1).size() == 4; });
  EXPECT_FALSE(b.is_open());
  EXPECT_EQ(metrics_.slow_consumer_disconnects.load(), 1);
  run_until([&] { return attached; });
  chat_->detach(b);
}

TEST_F(chat_service_test, a_backlog_waiting_for_room_ends_when_the_connection_closes) {
  chat::service_options options;
  options.pending_queue_watermark = 1;
  restart_chat(options);
  fake_device a(*chat_, alice_, 1);
  attach(a);
  text(a, "bob", "m0", 1);
  run_until([&] { return a.of_type(1).size() == 1; });

  slow_device b(bob_, 3);
  bool attached = false;
  auto token = token_of(b);
  asio::co_spawn(io_, chat_->attach(b, std::move(token)), [&](std::exception_ptr) { attached = true; });
  run_until([&] { return b.waited_on(); });
  b.close();
  run_until([&] { return attached; });
  EXPECT_EQ(b.frames.size(), 2u);
  chat_->detach(b);
}

TEST_F(chat_service_test, a_device_at_its_in_flight_cap_is_told_when_it_may_read_again) {
  chat::service_options options;
  options.max_in_flight_per_device = 1;
  restart_chat(options);
  slow_device a(alice_, 1);
  bool attached = false;
  auto token = token_of(a);
  asio::co_spawn(io_, chat_->attach(a, std::move(token)), [&](std::exception_ptr) { attached = true; });
  run_until([&] { return attached; });
  bool handled = false;
  const std::string send = R"({"type":0,"body":{"to":"bob","content":"hi","mark":1}})";
  asio::co_spawn(io_, chat_->handle_frame(a, send), [&](std::exception_ptr) { handled = true; });
  // The frame is handled once the TEXT is queued for storage; the cap is reached then.
  while (!handled) io_.run_one();
  EXPECT_FALSE(chat_->may_read(a));
  EXPECT_EQ(a.read_again, 0);
  run_until([&] { return a.read_again == 1; });
  EXPECT_TRUE(chat_->may_read(a));
  chat_->detach(a);
}

TEST_F(chat_service_test, texts_settled_runs_at_once_or_when_the_last_is_stored) {
  fake_device a(*chat_, alice_, 1);
  attach(a);
  int settled = 0;
  chat_->when_texts_settled([&] { ++settled; });
  EXPECT_EQ(settled, 1) << "nothing in flight";
  bool handled = false;
  const std::string send = R"({"type":0,"body":{"to":"bob","content":"hi","mark":1}})";
  asio::co_spawn(io_, chat_->handle_frame(a, send), [&](std::exception_ptr) { handled = true; });
  while (!handled) io_.run_one();
  ASSERT_EQ(chat_->texts_in_flight(), 1u);
  chat_->when_texts_settled([&] { ++settled; });
  EXPECT_EQ(settled, 1);
  run_until([&] { return settled == 2; });
  EXPECT_EQ(chat_->texts_in_flight(), 0u);
  EXPECT_EQ(a.of_type(1).size(), 1u) << "settled as the result came back";
}

// ---- token lifecycle ----

TEST_F(chat_service_test, a_device_whose_token_expires_is_ended) {
  fake_device a(*chat_, alice_, 1);
  auto token = token_of(a);
  // Expired by exactly the clock skew allowed: its deadline is now.
  token.expires_at = std::chrono::floor<std::chrono::seconds>(clock_.t.time_since_epoch()).count() -
                     auth::token_leeway.count();
  bool attached = false;
  asio::co_spawn(io_, chat_->attach(a, std::move(token)), [&](std::exception_ptr) { attached = true; });
  run_until([&] { return attached && !a.ended.empty(); });
  EXPECT_EQ(a.ended.front().code, errc::unauthorized);
  EXPECT_EQ(a.ended.front().message, "token expired");
  EXPECT_EQ(metrics_.sessions_closed_token.load(), 1);
}

TEST_F(chat_service_test, a_fresh_token_of_the_same_user_replaces_the_devices) {
  fake_device a(*chat_, alice_, 1);
  attach(a);
  frame(a, R"({"type":19,"body":{"token":")" + tokens_.issue(alice_.id, clock_.t).token + "\"}}");
  ASSERT_EQ(a.of_type(19).size(), 1u);
  const std::string expires = std::string(a.of_type(19).front().at("body").at("expires_at").as_string());
  EXPECT_EQ(expires, protocol::format_rfc3339(
                         (std::chrono::floor<std::chrono::seconds>(clock_.t.time_since_epoch()).count() + 3600) * 1000));
  EXPECT_TRUE(a.of_type(3).empty());
}

TEST_F(chat_service_test, a_refresh_with_another_users_or_a_bad_token_is_refused_and_changes_nothing) {
  fake_device a(*chat_, alice_, 1);
  attach(a);
  frame(a, R"({"type":19,"body":{"token":")" + tokens_.issue(bob_.id, clock_.t).token + "\"}}");
  frame(a, R"({"type":19,"body":{"token":"not.a.jwt"}})");
  frame(a, R"({"type":19,"body":{}})");
  const auto errs = a.of_type(3);
  ASSERT_EQ(errs.size(), 3u);
  for (const auto& e : errs) {
    EXPECT_EQ(e.at("body").at("code").as_string(), "unauthorized");
    EXPECT_EQ(e.at("body").at("ref_type").as_int64(), 19);
  }
  EXPECT_EQ(errs[0].at("body").at("error").as_string(), "the token is for another user");
  EXPECT_TRUE(a.of_type(19).empty());
  EXPECT_TRUE(a.ended.empty());
  // Still on its old token: revoking that one ends it.
  chat_->revoked(cluster::revocation{alice_.id, {"jti-1"}, 0, {}});
  ASSERT_EQ(a.ended.size(), 1u);
  EXPECT_EQ(a.ended.front().message, "token revoked");
}

TEST_F(chat_service_test, a_revocation_ends_the_devices_using_those_tokens_only) {
  fake_device a1(*chat_, alice_, 1), a2(*chat_, alice_, 2), b(*chat_, bob_, 3);
  attach(a1);
  attach(a2);
  attach(b);
  chat_->revoked(cluster::revocation{alice_.id, {"jti-1"}, 0, {{"jti-1", clock_.now_ms() + 3'600'000}}});
  ASSERT_EQ(a1.ended.size(), 1u);
  EXPECT_EQ(a1.ended.front().code, errc::unauthorized);
  EXPECT_TRUE(a2.ended.empty());
  EXPECT_TRUE(b.ended.empty());
  // The same jti for another user (a foreign issuer's) is not bob's token.
  chat_->revoked(cluster::revocation{bob_.id, {"jti-2"}, 0, {}});
  EXPECT_TRUE(a2.ended.empty());
  EXPECT_EQ(metrics_.sessions_closed_token.load(), 1);
  // The other device carries on as before, refreshes included.
  frame(a2, R"({"type":19,"body":{"token":")" + tokens_.issue(alice_.id, clock_.t).token + "\"}}");
  ASSERT_EQ(a2.of_type(19).size(), 1u);
}

TEST_F(chat_service_test, a_cutoff_ends_the_devices_whose_token_has_no_jti) {
  fake_device a(*chat_, alice_, 1), a2(*chat_, alice_, 2);
  auto legacy = token_of(a);
  legacy.jti.clear();
  bool attached = false;
  asio::co_spawn(io_, chat_->attach(a, std::move(legacy)), [&](std::exception_ptr) { attached = true; });
  run_until([&] { return attached; });
  attach(a2);
  const auto now_s = std::chrono::floor<std::chrono::seconds>(clock_.t.time_since_epoch()).count();
  chat_->revoked(cluster::revocation{alice_.id, {}, now_s, {}});
  ASSERT_EQ(a.ended.size(), 1u);
  EXPECT_TRUE(a2.ended.empty()) << "a token with a jti is revoked by naming it";
}

TEST_F(chat_service_test, authentication_refuses_a_revoked_token) {
  const auto issued = tokens_.issue(alice_.id, clock_.t);
  auto auth = [&] {
    std::optional<result<chat::authenticated>> r;
    const std::string hello = R"({"token":")" + issued.token + "\"}";
    asio::co_spawn(io_, chat_->authenticate(hello, nullptr), [&](std::exception_ptr, result<chat::authenticated> a) {
      r = std::move(a);
    });
    run_until([&] { return r.has_value(); });
    return std::move(*r);
  };
  auto ok = auth();
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->token.jti, issued.jti);
  chat_->revoked(cluster::revocation{alice_.id, {issued.jti}, 0, {{issued.jti, issued.expires_at * 1000}}});
  auto refused = auth();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "token revoked");
  EXPECT_GE(metrics_.bad_tokens.load(), 1);
}
