// The users and tokens of storage::store in memory, for the HTTP fuzz target: the auth routes
// need nothing else (tokens are accepted and revoked without being kept), and a store in memory keeps each run fast and each input independent
// (a fresh store per input). Callbacks run at once on the caller's thread, which the store
// contract allows only for refusals; the account service does not rely on the difference,
// since await_callback posts every result back to the awaiting coroutine's executor.
#pragma once

#include "core/username.hpp"
#include "storage/store.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace chatrix::fuzz {

class memory_store final : public storage::store {
 public:
  void create_user(new_user u, storage::callback<user> done) override {
    auto folded = fold_username(u.username);
    if (by_name_.contains(folded)) return done(make_error(errc::username_taken, "username taken"));
    user_credentials c{{next_id_++, std::move(u.username), std::move(u.name)}, std::move(u.password_hash)};
    const user created = c.account;
    by_name_.emplace(std::move(folded), std::move(c));
    done(created);
  }
  void find_user_by_name(std::string username, storage::callback<std::optional<user_credentials>> done) override {
    auto it = by_name_.find(fold_username(username));
    done(it == by_name_.end() ? std::nullopt : std::optional<user_credentials>(it->second));
  }
  void find_user_by_id(user_id id, storage::callback<std::optional<user>> done) override {
    for (const auto& [name, c] : by_name_)
      if (c.account.id == id) return done(std::optional<user>(c.account));
    done(std::optional<user>());
  }
  void record_token(storage::token_record, storage::callback<bool> done) override { done(true); }
  void revoke_token(storage::token_record, storage::callback<bool> done) override { done(true); }
  void revoke_user_tokens(user_id, std::string, std::int64_t, storage::callback<std::vector<storage::token_record>> done) override {
    done(std::vector<storage::token_record>());
  }
  void revocations(unix_ms, storage::callback<storage::revocation_snapshot> done) override {
    done(storage::revocation_snapshot());
  }
  void set_password_hash(user_id id, std::string hash, storage::callback<bool> done) override {
    for (auto& [name, c] : by_name_)
      if (c.account.id == id) {
        c.password_hash = std::move(hash);
        return done(true);
      }
    done(make_error(errc::internal, "no such user"));
  }

  // Not on the auth routes' path.
  void search_users(std::string, int, storage::callback<std::vector<user>> done) override { done(unused()); }
  void append_message(send_request, storage::callback<send_result> done) override { done(unused()); }
  void mark_delivered(user_id, std::vector<message_id>, unix_ms, storage::callback<delivered_result> done) override {
    done(unused());
  }
  void mark_read(user_id, std::vector<message_id>, unix_ms, storage::callback<read_result> done) override { done(unused()); }
  void pending_messages(user_id, message_id, int, storage::callback<std::vector<message>> done) override { done(unused()); }
  void history(user_id, user_id, std::optional<message_id>, int, storage::callback<std::vector<message>> done) override {
    done(unused());
  }
  void chat_previews(user_id, int, storage::callback<std::vector<chat_preview>> done) override { done(unused()); }
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
  void ping(storage::callback<bool> done) override { done(true); }
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
  static error unused() { return make_error(errc::internal, "not kept by the fuzz target's store"); }

  std::map<std::string, user_credentials> by_name_;  // by folded username
  user_id next_id_ = 1;
};

}  // namespace chatrix::fuzz
