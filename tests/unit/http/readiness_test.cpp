// http::readiness with a store whose ping answers when the test says so and a bus whose link
// the test sets: the reasons, one ping for concurrent checks, answers reused, the 800 ms
// deadline, a late answer ignored, and draining.
#include "http/readiness.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace chatrix::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Only ping is used; it keeps the callbacks for the test to answer.
class scripted_store final : public storage::store {
 public:
  std::vector<storage::callback<bool>> pings;

  void ping(storage::callback<bool> done) override { pings.push_back(std::move(done)); }

  void create_user(new_user, storage::callback<user> done) override { done(unused()); }
  void find_user_by_name(std::string, storage::callback<std::optional<user_credentials>> done) override {
    done(unused());
  }
  void find_user_by_id(user_id, storage::callback<std::optional<user>> done) override { done(unused()); }
  void search_users(std::string, int, storage::callback<std::vector<user>> done) override { done(unused()); }
  void append_message(send_request, storage::callback<send_result> done) override { done(unused()); }
  void mark_delivered(user_id, std::vector<message_id>, unix_ms,
                      storage::callback<delivered_result> done) override {
    done(unused());
  }
  void mark_read(user_id, std::vector<message_id>, unix_ms, storage::callback<read_result> done) override {
    done(unused());
  }
  void pending_messages(user_id, message_id, int, storage::callback<std::vector<message>> done) override {
    done(unused());
  }
  void history(user_id, user_id, std::optional<message_id>, int,
               storage::callback<std::vector<message>> done) override {
    done(unused());
  }
  void chat_previews(user_id, int, storage::callback<std::vector<chat_preview>> done) override { done(unused()); }
  void record_token(storage::token_record, storage::callback<bool> done) override { done(unused()); }
  void revoke_token(storage::token_record, storage::callback<bool> done) override { done(unused()); }
  void revoke_user_tokens(user_id, std::string, std::int64_t,
                          storage::callback<std::vector<storage::token_record>> done) override {
    done(unused());
  }
  void revocations(unix_ms, storage::callback<storage::revocation_snapshot> done) override { done(unused()); }
  void set_password_hash(user_id, std::string, storage::callback<bool> done) override { done(unused()); }
  void conversation_messages(user_id, conversation_id, std::optional<message_id>, std::optional<message_id>, int,
                             storage::callback<std::vector<message>> done) override {
    done(unused());
  }
  void chat_previews_page(user_id, preview_cursor, int, storage::callback<std::vector<chat_preview>> done) override {
    done(unused());
  }
  void session_resume(user_id, int, stream_pos, int, int, storage::callback<storage::session_snapshot> done) override {
    done(unused());
  }
  void stream_events(user_id, stream_pos, int, storage::callback<stream_page> done) override { done(unused()); }
  void edit_message(edit_request, storage::callback<edit_result> done) override { done(unused()); }
  void delete_messages(delete_request, storage::callback<delete_result> done) override { done(unused()); }
  void create_file(storage::stored_file, storage::callback<bool> done) override { done(unused()); }
  void append_file_chunk(std::string, int, std::string, storage::callback<bool> done) override { done(unused()); }
  void finish_file(std::string, std::int64_t, int, storage::callback<bool> done) override { done(unused()); }
  void file_for(user_id, std::string, storage::callback<std::optional<storage::stored_file>> done) override {
    done(unused());
  }
  void read_file_chunk(std::string, int, storage::callback<std::string> done) override { done(unused()); }
  void update_profile(profile_update, storage::callback<std::optional<user>> done) override { done(unused()); }
  void set_last_seen(std::vector<std::pair<user_id, unix_ms>>, storage::callback<bool> done) override { done(unused()); }
  void block_user(user_id, user_id, unix_ms, storage::callback<bool> done) override { done(unused()); }
  void unblock_user(user_id, user_id, storage::callback<bool> done) override { done(unused()); }
  void blocked_users(user_id, storage::callback<std::vector<block_entry>> done) override { done(unused()); }
  void block_relations_of(user_id, storage::callback<block_relations> done) override { done(unused()); }
  void conversation_between(user_id, user_id, storage::callback<std::optional<conversation_id>> done) override {
    done(unused());
  }
  void delete_account(user_id, unix_ms, storage::callback<account_deletion> done) override { done(unused()); }
  void add_push_device(user_id, push_device, storage::callback<bool> done) override { done(unused()); }
  void remove_push_device(user_id, std::string, std::string, storage::callback<bool> done) override { done(unused()); }
  void push_devices(user_id, storage::callback<std::vector<push_device>> done) override { done(unused()); }
  void undelivered(std::vector<message_id>, storage::callback<std::vector<message_id>> done) override { done(unused()); }
  void shutdown() override {}

 private:
  static error unused() { return make_error(errc::internal, "not used by readiness"); }
};

/// A bus whose link the test sets; nothing else is used.
class scripted_bus final : public cluster::bus {
 public:
  bool linked = true;

  bool connected() const noexcept override { return linked; }
  void start(cluster::event_sink&) override {}
  void publish(cluster::user_event) override {}
  void publish_revocation(const cluster::revocation&) override {}
  void device_connected(user_id, std::function<void()> visible) override { visible(); }
  void device_disconnected(user_id) override {}
  void publish_presence(std::vector<cluster::presence_update>) override {}
  void publish_user_changed(user_id) override {}
  void stop() override {}
  bool spans_nodes() const noexcept override { return true; }
  std::string node_id() const override { return "test"; }
  std::vector<cluster::node_info> nodes() const override { return {}; }
};

class readiness_test : public ::testing::Test {
 protected:
  /// Starts a check; its answer lands in the returned slot once the I/O loop has run it.
  std::shared_ptr<std::optional<readiness_state>> begin_check() {
    auto slot = std::make_shared<std::optional<readiness_state>>();
    asio::co_spawn(io_, ready_.check(), [slot](std::exception_ptr e, readiness_state s) {
      if (e) std::rethrow_exception(e);
      *slot = std::move(s);
    });
    run();
    return slot;
  }
  void run() {
    io_.restart();
    io_.poll();
  }

  asio::io_context io_{1};
  scripted_store store_;
  scripted_bus bus_;
  readiness ready_{io_.get_executor(), store_, bus_};
};

TEST_F(readiness_test, concurrent_checks_share_one_ping_and_its_answer_is_reused) {
  auto a = begin_check();
  auto b = begin_check();
  auto c = begin_check();
  ASSERT_EQ(store_.pings.size(), 1u);
  EXPECT_FALSE(a->has_value()) << "waits for the store";
  store_.pings[0](true);
  run();
  for (const auto& slot : {a, b, c}) {
    ASSERT_TRUE(slot->has_value());
    EXPECT_TRUE((*slot)->ready);
    EXPECT_EQ((*slot)->reason, "");
  }
  auto again = begin_check();
  ASSERT_TRUE(again->has_value()) << "answered from the last answer";
  EXPECT_TRUE((*again)->ready);
  EXPECT_EQ(store_.pings.size(), 1u) << "no second ping within answer_ttl";
}

TEST_F(readiness_test, a_store_error_is_the_reason) {
  auto slot = begin_check();
  ASSERT_EQ(store_.pings.size(), 1u);
  store_.pings[0](make_error(errc::unavailable, "database temporarily unavailable"));
  run();
  ASSERT_TRUE(slot->has_value());
  EXPECT_FALSE((*slot)->ready);
  EXPECT_EQ((*slot)->reason, "database: database temporarily unavailable");
}

TEST_F(readiness_test, a_store_that_does_not_answer_within_the_deadline_is_not_ready) {
  auto slot = begin_check();
  ASSERT_EQ(store_.pings.size(), 1u);
  io_.restart();
  io_.run_for(readiness::ping_deadline * 5);  // returns once the deadline has settled the check
  ASSERT_TRUE(slot->has_value());
  EXPECT_FALSE((*slot)->ready);
  EXPECT_EQ((*slot)->reason, "database: no answer within 800 ms");
  // The answer that comes at last belongs to an abandoned ping: the next check still reads
  // the settled answer (reused for answer_ttl), not this one.
  store_.pings[0](true);
  run();
  auto next = begin_check();
  ASSERT_TRUE(next->has_value());
  EXPECT_FALSE((*next)->ready);
}

TEST_F(readiness_test, a_lost_bus_or_draining_is_not_ready_without_asking_the_store) {
  bus_.linked = false;
  auto slot = begin_check();
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->reason, "redis: disconnected");
  bus_.linked = true;
  ready_.begin_draining();
  auto draining = begin_check();
  ASSERT_TRUE(draining->has_value());
  EXPECT_FALSE((*draining)->ready);
  EXPECT_EQ((*draining)->reason, "draining");
  EXPECT_TRUE(store_.pings.empty());
}

}  // namespace
}  // namespace chatrix::http
