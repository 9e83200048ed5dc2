// A cache of user profiles in front of the store. A profile changes (rename, presence
// setting, deletion) on one node; every node drops its copy when the bus says so
// (event_sink::user_changed), and all of them after a resync. Bounded: simply cleared when full.
#pragma once

#include "core/error.hpp"
#include "core/types.hpp"
#include "storage/store.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chatrix::chat {

/// Thread-safety: I/O thread only.
class user_directory {
 public:
  explicit user_directory(storage::store& store, std::size_t capacity = 200'000);

  boost::asio::awaitable<result<std::optional<user>>> by_id(user_id id);
  /// Case-insensitive.
  boost::asio::awaitable<result<std::optional<user>>> by_name(std::string_view username);
  void remember(const user& u);
  /// Cached profile or nullptr; never waits.
  const user* cached(user_id id) const;
  /// Drops `id`'s profile (it changed); the next lookup reads the store.
  void forget(user_id id);
  /// Drops every profile (changes may have been missed).
  void clear();

 private:
  storage::store& store_;
  std::size_t capacity_;
  std::unordered_map<user_id, user> by_id_;
  std::unordered_map<std::string, user_id> by_folded_name_;
};

}  // namespace chatrix::chat
