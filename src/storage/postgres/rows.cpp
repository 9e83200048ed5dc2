#include "storage/postgres/rows.hpp"

#include <charconv>
#include <string_view>
#include <stdexcept>

namespace chatrix::storage::postgres_detail {

std::int64_t i64(const PGresult* r, int row, int col) {
  const char* v = PQgetvalue(r, row, col);
  const char* end = v + PQgetlength(r, row, col);
  std::int64_t out = 0;
  const auto [ptr, ec] = std::from_chars(v, end, out);
  if (ec != std::errc() || ptr != end) throw std::runtime_error("not an integer in column " + std::to_string(col));
  return out;
}

std::optional<std::int64_t> opt_i64(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return i64(r, row, col);
}

std::string text(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

bool boolean(const PGresult* r, int row, int col) { return PQgetvalue(r, row, col)[0] == 't'; }

user read_user(const PGresult* r, int row, int first) {
  user u = read_user_names(r, row, first);
  u.deleted = boolean(r, row, first + 3);
  u.show_presence = boolean(r, row, first + 4);
  u.last_seen = opt_i64(r, row, first + 5);
  return u;
}

user read_user_names(const PGresult* r, int row, int first) {
  return user{i64(r, row, first), text(r, row, first + 1), text(r, row, first + 2)};
}

message read_message(const PGresult* r, int row, int first) {
  message m;
  m.id = i64(r, row, first);
  m.conversation = i64(r, row, first + 1);
  m.seq = i64(r, row, first + 2);
  m.sender = i64(r, row, first + 3);
  m.recipient = i64(r, row, first + 4);
  m.content = text(r, row, first + 5);
  m.created_at = i64(r, row, first + 6);
  m.delivered_at = opt_i64(r, row, first + 7);
  m.read_at = opt_i64(r, row, first + 8);
  m.reply_to = opt_i64(r, row, first + 9);
  if (!PQgetisnull(r, row, first + 10)) {
    m.attachment = file_info{text(r, row, first + 10), text(r, row, first + 11), text(r, row, first + 12),
                             i64(r, row, first + 13)};
  }
  m.edited_at = opt_i64(r, row, first + 14);
  m.deleted_at = opt_i64(r, row, first + 15);
  return m;
}

std::vector<std::int64_t> i64_array(const PGresult* r, int row, int col) {
  std::string_view v(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
  if (v.size() < 2 || v.front() != '{' || v.back() != '}') throw std::runtime_error("not an array in column " + std::to_string(col));
  v = v.substr(1, v.size() - 2);
  std::vector<std::int64_t> out;
  while (!v.empty()) {
    std::int64_t x = 0;
    const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc()) throw std::runtime_error("not an integer array in column " + std::to_string(col));
    out.push_back(x);
    v.remove_prefix(static_cast<std::size_t>(ptr - v.data()));
    if (!v.empty()) {
      if (v.front() != ',') throw std::runtime_error("not an integer array in column " + std::to_string(col));
      v.remove_prefix(1);
    }
  }
  return out;
}

std::string from_hex(const PGresult* r, int row, int col) {
  const std::string_view v(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
  if (v.size() % 2 != 0) throw std::runtime_error("odd hex length in column " + std::to_string(col));
  const auto nibble = [col](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error("not hex in column " + std::to_string(col));
  };
  std::string out(v.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>((nibble(v[2 * i]) << 4) | nibble(v[2 * i + 1]));
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xf]);
  }
  return out;
}

stream_entry read_entry(const PGresult* r, int row, int first, user_id owner) {
  stream_entry e;
  e.owner = owner;
  e.pos = i64(r, row, first);
  e.kind = static_cast<stream_kind>(i64(r, row, first + 1));
  e.conversation = i64(r, row, first + 2);
  e.ids = i64_array(r, row, first + 3);
  e.at = i64(r, row, first + 4);
  return e;
}

void read_session_rows(const PGresult* r, user_id viewer, session_snapshot& out, stream_page& page) {
  constexpr int preview_column = 2;  // after part and order
  constexpr int message_column = preview_column + 9;
  constexpr int event_column = message_column + 16;
  for (int i = 0; i < PQntuples(r); ++i) {
    switch (i64(r, i, 0)) {
      case 0:
        out.previews.push_back(read_preview(r, i, preview_column));
        break;
      case 1:
        out.pending.push_back(read_message(r, i, message_column));
        break;
      case 2:
        page.latest = i64(r, i, event_column);
        page.expired = i64(r, i, event_column + 1) != 0;
        break;
      case 3: {
        const stream_pos pos = i64(r, i, event_column);
        if (page.events.empty() || page.events.back().entry.pos != pos)
          page.events.push_back(stream_event{read_entry(r, i, event_column, viewer), {}});
        if (!PQgetisnull(r, i, message_column)) page.events.back().messages.push_back(read_message(r, i, message_column));
        break;
      }
      default: {
        const user_id other = i64(r, i, event_column);
        if (i64(r, i, event_column + 1) != 0) out.blocks.blocked.push_back(other);
        if (i64(r, i, event_column + 2) != 0) out.blocks.blocked_by.push_back(other);
      }
    }
  }
  out.latest = page.latest;
}

std::vector<message> read_messages(const PGresult* r) {
  std::vector<message> out;
  out.reserve(static_cast<std::size_t>(PQntuples(r)));
  for (int i = 0; i < PQntuples(r); ++i) out.push_back(read_message(r, i, 0));
  return out;
}

chat_preview read_preview(const PGresult* r, int row, int first) {
  chat_preview pv;
  pv.conversation = i64(r, row, first);
  pv.updated_at = i64(r, row, first + 1);
  pv.peer = read_user(r, row, first + 2);
  pv.unread = i64(r, row, first + 8);
  if (!PQgetisnull(r, row, first + 9)) pv.last = read_message(r, row, first + 9);
  return pv;
}

}  // namespace chatrix::storage::postgres_detail
