#include "chat/user_directory.hpp"

#include "core/username.hpp"
#include "chat/await.hpp"

namespace chatrix::chat {

user_directory::user_directory(storage::store& store, std::size_t capacity) : store_(store), capacity_(capacity) {}

void user_directory::remember(const user& u) {
  if (by_id_.size() >= capacity_) {
    by_id_.clear();
    by_folded_name_.clear();
  }
  by_folded_name_[fold_username(u.username)] = u.id;
  by_id_[u.id] = u;
}

void user_directory::forget(user_id id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  by_folded_name_.erase(fold_username(it->second.username));
  by_id_.erase(it);
}

void user_directory::clear() {
  by_id_.clear();
  by_folded_name_.clear();
}

const user* user_directory::cached(user_id id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

boost::asio::awaitable<result<std::optional<user>>> user_directory::by_id(user_id id) {
  if (auto* u = cached(id)) co_return std::optional<user>(*u);
  auto r = co_await await_callback<std::optional<user>>([&](auto done) { store_.find_user_by_id(id, done); });
  if (r && *r) remember(**r);
  co_return r;
}

boost::asio::awaitable<result<std::optional<user>>> user_directory::by_name(std::string_view username) {
  auto folded = fold_username(username);
  if (auto it = by_folded_name_.find(folded); it != by_folded_name_.end())
    if (auto* u = cached(it->second)) co_return std::optional<user>(*u);
  auto r = co_await await_callback<std::optional<user_credentials>>(
      [&](auto done) { store_.find_user_by_name(std::string(username), done); });
  if (!r) co_return r.error();
  if (!*r) co_return std::optional<user>();
  remember((*r)->account);
  co_return std::optional<user>((*r)->account);
}

}  // namespace chatrix::chat
