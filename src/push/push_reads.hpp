// What a push reads from the store before it is sent: which messages are still undelivered,
// the recipient as they are now, and their push tokens. An interface of its own so that the
// push service is tested with a scripted one; store_push_reads is the real one.
#pragma once

#include "core/types.hpp"
#include "storage/store.hpp"

#include <optional>
#include <vector>

namespace chatrix::push {

/// Callbacks may run on any thread (as the store's do).
class push_reads {
 public:
  virtual ~push_reads() = default;
  /// store::undelivered: of `ids`, those no device of their recipient has received yet.
  virtual void undelivered(std::vector<message_id> ids, storage::callback<std::vector<message_id>> done) = 0;
  /// store::find_user_by_id.
  virtual void find_user(user_id id, storage::callback<std::optional<user>> done) = 0;
  /// store::push_devices.
  virtual void push_devices(user_id id, storage::callback<std::vector<push_device>> done) = 0;
};

class store_push_reads final : public push_reads {
 public:
  explicit store_push_reads(storage::store& store) : store_(store) {}
  void undelivered(std::vector<message_id> ids, storage::callback<std::vector<message_id>> done) override {
    store_.undelivered(std::move(ids), std::move(done));
  }
  void find_user(user_id id, storage::callback<std::optional<user>> done) override {
    store_.find_user_by_id(id, std::move(done));
  }
  void push_devices(user_id id, storage::callback<std::vector<push_device>> done) override {
    store_.push_devices(id, std::move(done));
  }

 private:
  storage::store& store_;
};

}  // namespace chatrix::push
