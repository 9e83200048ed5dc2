// The WebSocket session's state machine: exactly the transitions its comment lists.
#include "net/websocket_lifecycle.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <utility>

using chatrix::net::transition_allowed;
using chatrix::net::ws_lifecycle;
using chatrix::net::ws_state;

namespace {

constexpr std::array all_states{ws_state::authenticating, ws_state::open,       ws_state::closing, ws_state::failing,
                                ws_state::flushing,       ws_state::close_sent, ws_state::closed};

}  // namespace

TEST(websocket_lifecycle, allows_exactly_the_documented_transitions) {
  using enum ws_state;
  const std::set<std::pair<ws_state, ws_state>> documented{
      {authenticating, open},                                                      // token accepted
      {authenticating, closing},    {open, closing},                               // close begun
      {authenticating, failing},    {open, failing},                               // protocol error
      {closing, flushing},          {failing, flushing},                           // the reader ended first
      {closing, close_sent},        {failing, close_sent},                         // our close written first
      {authenticating, closed},     {open, closed},      {closing, closed},        // finish
      {failing, closed},            {flushing, closed},  {close_sent, closed},
  };
  for (auto from : all_states)
    for (auto to : all_states)
      EXPECT_EQ(transition_allowed(from, to), documented.contains({from, to}))
          << static_cast<int>(from) << " -> " << static_cast<int>(to);
}

TEST(websocket_lifecycle, advance_applies_allowed_transitions_only) {
  ws_lifecycle life;
  EXPECT_EQ(life.state(), ws_state::authenticating);
  EXPECT_FALSE(life.advance(ws_state::close_sent)) << "no close frame was queued";
  EXPECT_EQ(life.state(), ws_state::authenticating);
  EXPECT_TRUE(life.advance(ws_state::open));
  EXPECT_TRUE(life.advance(ws_state::closing));
  EXPECT_FALSE(life.advance(ws_state::closing)) << "a second close is not queued";
  EXPECT_FALSE(life.advance(ws_state::failing));
  EXPECT_TRUE(life.advance(ws_state::close_sent));
  EXPECT_TRUE(life.advance(ws_state::closed));
  EXPECT_FALSE(life.advance(ws_state::closed)) << "finish runs once";
  EXPECT_EQ(life.state(), ws_state::closed);
}

TEST(websocket_lifecycle, what_each_state_accepts) {
  using enum ws_state;
  struct expectation {
    ws_state state;
    bool open;
    bool accepts_frames;
    bool closing;
  };
  const expectation table[] = {
      {authenticating, true, true, false}, {open, true, true, false},       {closing, true, false, true},
      {failing, true, false, true},        {flushing, true, false, true},   {close_sent, true, false, true},
      {closed, false, false, false},
  };
  for (const auto& e : table) {
    // Every state is reachable from authenticating by the documented paths.
    ws_lifecycle life;
    if (e.state == open || e.state == flushing || e.state == close_sent) life.advance(open);
    if (e.state == flushing || e.state == close_sent) life.advance(closing);
    if (e.state != authenticating && e.state != open) life.advance(e.state);
    ASSERT_EQ(life.state(), e.state);
    EXPECT_EQ(life.is_open(), e.open) << static_cast<int>(e.state);
    EXPECT_EQ(life.accepts_frames(), e.accepts_frames) << static_cast<int>(e.state);
    EXPECT_EQ(life.closing(), e.closing) << static_cast<int>(e.state);
  }
}
