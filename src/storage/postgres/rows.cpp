#include "storage/postgres/rows.hpp"

#include <charconv>
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

user read_user(const PGresult* r, int row, int first) {
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
  return m;
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
  pv.unread = i64(r, row, first + 5);
  if (!PQgetisnull(r, row, first + 6)) pv.last = read_message(r, row, first + 6);
  return pv;
}

}  // namespace chatrix::storage::postgres_detail
