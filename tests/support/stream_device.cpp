// Stream positions as a device sees them. See stream_device.hpp.
#include "support/stream_device.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace chatrix::test {

std::int64_t pos_of(const json::value& frame) {
  const auto& pos = field_of(frame, "pos");
  if (!pos.is_int64() && !pos.is_uint64())
    throw std::runtime_error("\"pos\" is not an integer in " + json::serialize(frame));
  return to_i64(pos);
}

bool has_pos(const json::value& frame) { return has_field(frame, "pos"); }

namespace {

std::vector<std::int64_t> id_list(const json::value& array, const json::value& frame) {
  if (!array.is_array()) throw std::runtime_error("not a list of message ids in " + json::serialize(frame));
  std::vector<std::int64_t> out;
  for (const auto& id : array.as_array()) out.push_back(to_i64(id));
  return out;
}

}  // namespace

stream_item item_of(const json::value& frame) {
  stream_item item;
  item.type = static_cast<int>(int_field(frame, "type"));
  item.pos = pos_of(frame);
  const auto& body = body_of(frame);
  switch (item.type) {
    case ev_text:
    case ev_sent:
      item.ids = {int_field(body, "msg_id")};
      break;
    case ev_delivered:
    case ev_edit:
      item.ids = {int_field(body, "message_id")};
      break;
    case ev_received:
    case ev_delete:
    case ev_read_state:
      item.ids = id_list(field_of(body, "message_ids"), frame);
      break;
    case ev_mark_read:
      item.ids = id_list(body, frame);
      break;
    default:
      throw std::runtime_error("a frame of this type carries no stream event: " + json::serialize(frame));
  }
  return item;
}

std::vector<stream_item> items_of(const std::vector<json::value>& frames) {
  std::vector<stream_item> out;
  for (const auto& f : frames) out.push_back(item_of(f));
  return out;
}

std::string describe(const std::vector<stream_item>& items) {
  std::ostringstream out;
  for (const auto& item : items) {
    out << ' ' << item.type << '@' << item.pos << '[';
    for (std::size_t i = 0; i < item.ids.size(); ++i) out << (i ? "," : "") << item.ids[i];
    out << ']';
  }
  return out.str();
}

std::vector<std::int64_t> positions_after(std::int64_t from, std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t p = from + 1; p <= from + n; ++p) out.push_back(p);
  return out;
}

std::vector<std::int64_t> positions_of(const std::vector<stream_item>& items) {
  std::vector<std::int64_t> out;
  for (const auto& i : items) out.push_back(i.pos);
  return out;
}

std::set<std::int64_t> text_ids_of(std::initializer_list<std::vector<stream_item>> connections) {
  std::set<std::int64_t> out;
  for (const auto& items : connections)
    for (const auto& item : items)
      if (item.type == ev_text) out.insert(item.ids.front());
  return out;
}

namespace {

std::chrono::milliseconds until(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

}  // namespace

std::vector<json::value> next_stream_frames(ws_client& ws, std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<json::value> out;
  while (out.size() < n) {
    out.push_back(ws.recv_json(until(deadline)));
    if (!has_pos(out.back()))
      throw std::runtime_error("a stream frame without \"pos\": " + json::serialize(out.back()));
  }
  return out;
}

std::vector<stream_item> next_items(ws_client& ws, std::size_t n) { return items_of(next_stream_frames(ws, n)); }

std::vector<stream_item> next_items_by_pos(ws_client& ws, std::size_t n) {
  auto items = next_items(ws, n);
  std::sort(items.begin(), items.end(), [](const auto& x, const auto& y) { return x.pos < y.pos; });
  return items;
}

void remember(seen_items& seen, const stream_item& item) {
  EXPECT_TRUE(seen.emplace(item.pos, item).second) << "pos " << item.pos << " twice on one connection";
}

std::vector<std::int64_t> await_sent(ws_client& ws, std::size_t sends, seen_items& seen, bool receipts) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::vector<std::int64_t> delivered;
  std::set<std::int64_t> received;
  const auto all_received = [&] {
    return std::all_of(delivered.begin(), delivered.end(), [&](auto id) { return received.contains(id); });
  };
  while (delivered.size() < sends || (receipts && !all_received())) {
    const auto frame = ws.recv_json(until(deadline));
    const auto item = item_of(frame);
    remember(seen, item);
    if (item.type == ev_delivered) {
      delivered.push_back(item.ids.front());
    } else if (item.type == ev_received) {
      received.insert(item.ids.begin(), item.ids.end());
    } else {
      ADD_FAILURE() << "unexpected frame for the sender: " << json::serialize(frame);
    }
  }
  return delivered;
}

json::object mark_read_body(const std::string& sender, const std::vector<std::int64_t>& message_ids) {
  return {{"to", sender}, {"message_ids", json::value_from(message_ids)}};
}

json::object edit_body(std::int64_t message_id, const std::string& content) {
  return {{"message_id", message_id}, {"content", content}};
}

json::object delete_body(const std::vector<std::int64_t>& message_ids) {
  return {{"message_ids", json::value_from(message_ids)}};
}

synced_session connect_synced(std::uint16_t port, const test_user& user, std::optional<std::int64_t> since,
                              std::chrono::milliseconds timeout) {
  synced_session out;
  out.s.ws = std::make_unique<ws_client>();
  out.s.ws->connect(port);
  out.s.ws->set_label("ws of " + user.username + " on port " + std::to_string(port));
  // Typing and presence are no stream events: the sync tests do not look for them.
  out.s.ws->ignore_type(ev_typing);
  out.s.ws->ignore_type(ev_presence);
  json::object hello{{"token", user.token}};
  if (since) hello["since"] = *since;
  out.s.ws->send_text(json::serialize(hello));
  out.s.profile = body_of(out.s.ws->recv_type(ev_profile_info, timeout));
  out.s.previews = body_of(out.s.ws->recv_type(ev_chat_previews, timeout));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::optional<json::value> next;
    try {
      next = out.s.ws->recv_json(until(deadline));
    } catch (const std::exception& e) {
      throw std::runtime_error("no SYNCED (13) after " + std::to_string(out.backlog.size()) + " frames: " + e.what());
    }
    auto& frame = *next;
    if (int_field(frame, "type") == ev_synced) {
      EXPECT_FALSE(has_pos(frame)) << "SYNCED carries no top-level pos: " << json::serialize(frame);
      out.latest = int_field(body_of(frame), "pos");
      return out;
    }
    out.backlog.push_back(std::move(frame));
  }
}

bool stream_positions::take(std::int64_t pos) {
  if (pos <= watermark_ || above_.contains(pos)) return false;
  above_.insert(pos);
  while (above_.contains(watermark_ + 1)) above_.erase(++watermark_);
  return true;
}

}  // namespace chatrix::test
