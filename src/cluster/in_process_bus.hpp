// The single-node bus: every user's sessions are on this node, so publishing is a direct call.
#pragma once

#include "cluster/bus.hpp"

#include <string>
#include <utility>

namespace chatrix::cluster {

/// Thread-safety: as bus (I/O thread only).
class in_process_bus final : public bus {
 public:
  explicit in_process_bus(node_info self) : self_(std::move(self)) {}

  void start(event_sink& sink) override { sink_ = &sink; }
  void publish(user_event ev) override {
    if (sink_) sink_->deliver_local(ev);
  }
  void publish_revocation(const revocation& r) override {
    if (sink_) sink_->revoked(r);
  }
  void device_connected(user_id, std::function<void()> visible) override {
    ++self_.connections;
    if (visible) visible();
  }
  void device_disconnected(user_id) override { --self_.connections; }
  void publish_presence(std::vector<presence_update> updates) override {
    if (sink_) sink_->presence_changed(self_.id, updates);
  }
  void publish_user_changed(user_id id) override {
    if (sink_) sink_->user_changed(id);
  }
  void stop() override { sink_ = nullptr; }
  bool spans_nodes() const noexcept override { return false; }
  std::string node_id() const override { return self_.id; }
  std::vector<node_info> nodes() const override { return {self_}; }

 private:
  event_sink* sink_ = nullptr;
  node_info self_;
};

}  // namespace chatrix::cluster
