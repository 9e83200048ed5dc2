// The single-node bus: every user's sessions are on this node, so publishing is a direct call.
#pragma once

#include "cluster/bus.hpp"

namespace chatrix::cluster {

/// Thread-safety: as bus (I/O thread only).
class in_process_bus final : public bus {
 public:
  void start(event_sink& sink) override { sink_ = &sink; }
  void publish(user_event ev) override {
    if (sink_) sink_->deliver_local(ev);
  }
  void device_connected(user_id) override {}
  void device_disconnected(user_id) override {}
  void stop() override { sink_ = nullptr; }

 private:
  event_sink* sink_ = nullptr;
};

}  // namespace chatrix::cluster
