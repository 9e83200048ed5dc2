// Frame codec. Decoding uses Boost.JSON with a small stack arena; encoding writes JSON text
// directly, because the encoders are on the per-message hot path.
#include "protocol/codec.hpp"

#include "protocol/json_out.hpp"
#include "protocol/limits.hpp"
#include "protocol/message_changes_codec.hpp"
#include "protocol/sync_codec.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <limits>

namespace chatrix::protocol {

namespace json = boost::json;

namespace {

using detail::append_ids;
using detail::append_int;
using detail::open_frame;
using detail::seconds;

// ---- decoding helpers ----

frame_error fail(errc code, std::string message, int ref_type = -1, std::optional<std::string> mark = {}) {
  return frame_error{make_error(code, std::move(message)), ref_type, std::move(mark)};
}

/// A JSON integer given as int64, uint64 or an integral double (JavaScript numbers).
std::optional<std::int64_t> as_int(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (d >= -9.007199254740992e15 && d <= 9.007199254740992e15 && d == static_cast<double>(static_cast<std::int64_t>(d)))
      return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

/// Reads an id list ("message_ids"): an array of positive integers, at most `max_ids`.
boost::system::result<std::vector<message_id>, frame_error> read_ids(const json::object& body, int type,
                                                                     std::size_t max_ids = max_ids_per_frame) {
  auto it = body.find("message_ids");
  if (it == body.end() || !it->value().is_array())
    return fail(errc::invalid_field, "message_ids must be an array of message ids", type);
  const auto& arr = it->value().get_array();
  if (arr.size() > max_ids)
    return fail(errc::invalid_field, "message_ids has more than " + std::to_string(max_ids) + " ids", type);
  std::vector<message_id> ids;
  ids.reserve(arr.size());
  for (const auto& v : arr) {
    auto id = as_int(v);
    if (!id || *id <= 0) return fail(errc::invalid_field, "message_ids must hold positive integers", type);
    ids.push_back(*id);
  }
  return ids;
}

std::optional<std::int64_t> optional_int(const json::object& body, std::string_view key, bool& bad) {
  auto it = body.find(key);
  if (it == body.end() || it->value().is_null()) return std::nullopt;
  auto v = as_int(it->value());
  if (!v) bad = true;
  return v;
}

int clamp_limit(std::optional<std::int64_t> requested, int fallback, int maximum) {
  if (!requested || *requested <= 0) return fallback;
  return static_cast<int>(std::min<std::int64_t>(*requested, maximum));
}

/// Finds the text of body.mark in a frame, as the client wrote it. The DOM keeps a number's
/// value, not its spelling (1.50 would come back as 1.5E0, -0 as 0, a 30-digit integer
/// rounded, 1e400 as Infinity), and a mark is echoed exactly as sent. A second pass of
/// Boost.JSON's parser with this handler allocates nothing and only tracks where it is:
/// inside the top-level object's "body" object, the value of its "mark" key (the last
/// "body" and the last "mark" win, as in the DOM).
class mark_text_finder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  explicit mark_text_finder(std::string_view frame) : frame_(frame) {}

  /// The mark's text, when the frame's body has a numeric mark.
  std::optional<std::string_view> text() const { return found_; }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    // The body is the object that is the value of "body" in the top-level object.
    const bool body = depth_ == 1 && key_is_body_;
    value_begins();
    ++depth_;
    if (body) {
      in_body_ = true;
      found_.reset();  // a later "body" replaces an earlier one
    }
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    if (--depth_ == 1) in_body_ = false;
    return true;
  }
  bool on_array_begin(boost::system::error_code&) {
    value_begins();
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth_;
    return true;
  }
  bool on_key_part(std::string_view s, std::size_t, boost::system::error_code&) {
    key_append(s);
    return true;
  }
  bool on_key(std::string_view s, std::size_t, boost::system::error_code&) {
    key_append(s);
    key_is_body_ = depth_ == 1 && key_is("body");
    key_is_mark_ = depth_ == 2 && in_body_ && key_is("mark");
    key_length_ = 0;
    return true;
  }
  bool on_string_part(std::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(std::string_view, std::size_t, boost::system::error_code&) { return scalar(); }
  bool on_number_part(std::string_view s, boost::system::error_code&) {
    // A number split over several calls: only its start matters, the rest is contiguous.
    if (!number_start_) number_start_ = s.data();
    return true;
  }
  bool on_int64(std::int64_t, std::string_view s, boost::system::error_code&) { return number(s); }
  bool on_uint64(std::uint64_t, std::string_view s, boost::system::error_code&) { return number(s); }
  bool on_double(double, std::string_view s, boost::system::error_code&) { return number(s); }
  bool on_bool(bool, boost::system::error_code&) { return scalar(); }
  bool on_null(boost::system::error_code&) { return scalar(); }
  bool on_comment_part(std::string_view, boost::system::error_code&) { return true; }
  bool on_comment(std::string_view, boost::system::error_code&) { return true; }

 private:
  // Any value other than a number under "mark" means the mark is not a number (any more).
  void value_begins() {
    if (key_is_mark_) found_.reset();
    key_is_mark_ = false;
    key_is_body_ = false;
  }
  bool scalar() {
    value_begins();
    return true;
  }
  bool number(std::string_view last) {
    const char* start = number_start_ ? number_start_ : last.data();
    number_start_ = nullptr;
    if (key_is_mark_) {
      // The text views the frame (the parser got it in one piece), from the number's first
      // character to the end of its last part.
      found_ = std::string_view(start, static_cast<std::size_t>(last.data() + last.size() - start));
      if (found_->data() < frame_.data() || found_->data() + found_->size() > frame_.data() + frame_.size())
        found_.reset();
    }
    key_is_mark_ = false;
    key_is_body_ = false;
    return true;
  }

  // Only "body" and "mark" matter: the first 4 characters of a key and its length.
  void key_append(std::string_view s) {
    for (const char ch : s) {
      if (key_length_ < sizeof key_) key_[key_length_] = ch;
      ++key_length_;
    }
  }
  bool key_is(std::string_view k) const {
    return key_length_ == k.size() && std::string_view(key_, key_length_) == k;
  }

  std::string_view frame_;
  char key_[4] = {};
  std::size_t key_length_ = 0;
  int depth_ = 0;
  bool in_body_ = false;
  bool key_is_body_ = false;
  bool key_is_mark_ = false;
  const char* number_start_ = nullptr;
  std::optional<std::string_view> found_;
};

/// The mark as JSON text: a string in canonical form (the same string however it was
/// escaped), a number exactly as written in the frame.
std::string mark_text(const json::value& mark, std::string_view frame) {
  // Integers other than 0 have one spelling in JSON, which the DOM reproduces; 0 may
  // have been -0, and a double any spelling. Only those need the frame's text.
  if (mark.is_string() || mark.is_uint64() || (mark.is_int64() && mark.get_int64() != 0)) {
    return json::serialize(mark);
  }
  json::basic_parser<mark_text_finder> parser(json::parse_options{}, frame);
  boost::system::error_code ec;
  parser.write_some(false, frame.data(), frame.size(), ec);
  if (!ec) {
    if (auto text = parser.handler().text()) return std::string(*text);
  }
  return json::serialize(mark);  // not reached for a frame the DOM parser accepted
}

std::size_t utf8_chars(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

/// The "content" of a TEXT or an EDIT: a string of at most max_content_bytes, without NUL;
/// absent, null or "" is content_empty unless `may_be_empty`.
result<std::string> read_content(const json::object& body, const decode_limits& limits, bool may_be_empty) {
  auto c = body.find("content");
  if (c == body.end() || c->value().is_null()) {
    if (may_be_empty) return std::string();
    return make_error(errc::content_empty, "content is empty");
  }
  if (!c->value().is_string()) return make_error(errc::invalid_field, "content must be a string");
  const auto& content = c->value().get_string();
  if (content.empty() && !may_be_empty) return make_error(errc::content_empty, "content is empty");
  if (content.size() > limits.max_content_bytes)
    return make_error(errc::content_too_long,
                      "content is longer than " + std::to_string(limits.max_content_bytes) + " bytes");
  // PostgreSQL text cannot hold NUL: refused here, so that both stores answer alike.
  if (std::string_view(content).find('\0') != std::string_view::npos)
    return make_error(errc::invalid_field, "content contains a NUL character");
  return std::string(content);
}

/// Who a TEXT or a TYPING frame is for: "to" (a username, or the README's {"username","id"})
/// and/or "to_id". At least one is required; when both give an id they must agree.
struct recipient_fields {
  std::optional<std::string> username;
  std::optional<user_id> id;
};

boost::system::result<recipient_fields, frame_error> read_recipient(const json::object& body, int type,
                                                                    const std::optional<std::string>& mark) {
  auto refuse = [&](errc code, std::string message) { return fail(code, std::move(message), type, mark); };
  recipient_fields to;
  bool bad_id = false;
  if (auto it = body.find("to"); it != body.end()) {
    const auto& v = it->value();
    if (v.is_string()) {
      if (!v.get_string().empty()) to.username = std::string(v.get_string());
    } else if (v.is_object()) {
      // The README's shape: {"to": {"username": "...", "id": 0}}
      const auto& obj = v.get_object();
      if (auto u = obj.find("username"); u != obj.end() && !u->value().is_null()) {
        if (!u->value().is_string()) return refuse(errc::invalid_field, "to.username must be a string");
        if (!u->value().get_string().empty()) to.username = std::string(u->value().get_string());
      }
      if (auto id = optional_int(obj, "id", bad_id); id && *id != 0) to.id = *id;
    } else if (!v.is_null()) {
      return refuse(errc::invalid_field, "to must be a username or {\"username\", \"id\"}");
    }
  }
  if (auto id = optional_int(body, "to_id", bad_id); id && *id != 0) {
    if (to.id && *to.id != *id) return refuse(errc::recipient_mismatch, "to.id and to_id name different users");
    to.id = *id;
  }
  if (bad_id) return refuse(errc::invalid_field, "the recipient id must be an integer");
  if (to.id && *to.id < 0) return refuse(errc::invalid_field, "the recipient id must be positive");
  if (to.username && to.username->size() > max_username_bytes) return refuse(errc::unknown_recipient, "no such user");
  if (!to.username && !to.id) return refuse(errc::invalid_field, "a recipient is required: to (username) or to_id");
  return to;
}

boost::system::result<client_frame, frame_error> decode_text(const json::object& body, std::string_view frame,
                                                             const decode_limits& limits) {
  constexpr int type = static_cast<int>(event::text);
  text_request req;

  // The mark first, so that every later error can echo it.
  if (auto it = body.find("mark"); it != body.end() && !it->value().is_null()) {
    const auto& m = it->value();
    if (!m.is_string() && !m.is_number()) return fail(errc::invalid_field, "mark must be a number or a string", type);
    std::string text = mark_text(m, frame);
    if (text.size() > max_mark_bytes)
      return fail(errc::invalid_field, "mark is longer than " + std::to_string(max_mark_bytes) + " bytes", type);
    req.mark = std::move(text);
  }
  auto refuse = [&](errc code, std::string message) { return fail(code, std::move(message), type, req.mark); };

  auto to = read_recipient(body, type, req.mark);
  if (!to) return to.error();
  req.to_username = std::move(to->username);
  req.to_id = to->id;

  if (auto it = body.find("reply_to"); it != body.end() && !it->value().is_null()) {
    auto id = as_int(it->value());
    if (!id || *id <= 0) return refuse(errc::invalid_field, "reply_to must be a message id (a positive integer)");
    req.reply_to = *id;
  }
  if (auto it = body.find("attachment"); it != body.end() && !it->value().is_null()) {
    const auto& a = it->value();
    if (!a.is_string() || a.get_string().empty() || a.get_string().size() > max_file_id_bytes)
      return refuse(errc::invalid_field, "attachment must be a file id (a string of 1 to " +
                                             std::to_string(max_file_id_bytes) + " bytes)");
    req.attachment = std::string(a.get_string());
  }

  // A file may go without words; anything else needs content.
  auto content = read_content(body, limits, /*may_be_empty=*/req.attachment.has_value());
  if (!content) return refuse(content.error().code, content.error().message);
  req.content = std::move(*content);
  return client_frame{std::move(req)};
}

/// A `since` as a client keeps it: a JSON number, or the same as a string of digits.
stream_pos read_since(const json::value& v) {
  if (v.is_string()) {
    const auto& s = v.get_string();
    stream_pos pos = 0;
    const auto* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, pos);
    const bool digits_only = !s.empty() && s.front() != '-';
    return digits_only && ec == std::errc() && ptr == end ? pos : unusable_since;
  }
  auto pos = as_int(v);
  return pos && *pos >= 0 ? *pos : unusable_since;
}

boost::system::result<client_frame, frame_error> decode_previews(const json::object& body) {
  constexpr int type = static_cast<int>(event::chat_previews);
  previews_request req;
  if (auto it = body.find("before"); it != body.end() && !it->value().is_null()) {
    if (!it->value().is_string()) return fail(errc::invalid_field, "before must be a cursor (a string)", type);
    req.before = parse_preview_cursor(it->value().get_string());
    if (!req.before)
      return fail(errc::invalid_field, "before is not a cursor: pass a preview row's \"cursor\" as it is", type);
  }
  bool bad = false;
  auto limit = optional_int(body, "limit", bad);
  if (bad) return fail(errc::invalid_field, "limit must be an integer", type);
  req.limit = clamp_limit(limit, max_previews, max_previews);
  return client_frame{req};
}

boost::system::result<client_frame, frame_error> decode_edit(const json::object& body, const decode_limits& limits) {
  constexpr int type = static_cast<int>(event::edit);
  edit_message_request req;
  auto it = body.find("message_id");
  auto id = it == body.end() ? std::nullopt : as_int(it->value());
  if (!id || *id <= 0) return fail(errc::invalid_field, "message_id must be a message id (a positive integer)", type);
  req.id = *id;
  auto content = read_content(body, limits, /*may_be_empty=*/false);
  if (!content) return frame_error{content.error(), type};
  req.content = std::move(*content);
  return client_frame{std::move(req)};
}

boost::system::result<client_frame, frame_error> decode_delete(const json::object& body) {
  constexpr int type = static_cast<int>(event::remove);
  auto ids = read_ids(body, type, max_ids_per_delete);
  if (!ids) return ids.error();
  if (ids->empty()) return fail(errc::invalid_field, "message_ids must name at least one message", type);
  return client_frame{delete_messages_request{std::move(*ids)}};
}

boost::system::result<client_frame, frame_error> decode_typing(const json::object& body) {
  constexpr int type = static_cast<int>(event::typing);
  auto to = read_recipient(body, type, std::nullopt);
  if (!to) return to.error();
  auto it = body.find("typing");
  if (it == body.end() || !it->value().is_bool()) return fail(errc::invalid_field, "typing must be true or false", type);
  return client_frame{typing_request{std::move(to->username), to->id, it->value().get_bool()}};
}

boost::system::result<client_frame, frame_error> decode_body(int type, const json::value& body_value,
                                                             std::string_view frame, const decode_limits& limits) {
  if (!body_value.is_object()) return fail(errc::invalid_field, "body must be an object", type);
  const auto& body = body_value.get_object();
  switch (static_cast<event>(type)) {
    case event::text:
      return decode_text(body, frame, limits);
    case event::mark_read: {
      auto ids = read_ids(body, type);
      if (!ids) return ids.error();
      return client_frame{mark_read_request{std::move(*ids)}};
    }
    case event::ack: {
      auto ids = read_ids(body, type);
      if (!ids) return ids.error();
      return client_frame{ack_request{std::move(*ids)}};
    }
    case event::search_request: {
      search_request req;
      auto it = body.find("username");
      if (it != body.end() && !it->value().is_null()) {
        if (!it->value().is_string()) return fail(errc::invalid_field, "username must be a string", type);
        req.fragment = std::string(it->value().get_string());
      }
      if (utf8_chars(req.fragment) > max_search_fragment_chars)
        return fail(errc::invalid_field,
                    "username is longer than " + std::to_string(max_search_fragment_chars) + " characters", type);
      bool bad = false;
      auto limit = optional_int(body, "limit", bad);
      if (bad) return fail(errc::invalid_field, "limit must be an integer", type);
      req.limit = clamp_limit(limit, default_search_results, max_search_results);
      return client_frame{std::move(req)};
    }
    case event::history_request: {
      history_request req;
      bool bad = false;
      auto u1 = optional_int(body, "user1_id", bad);
      auto u2 = optional_int(body, "user2_id", bad);
      auto before = optional_int(body, "before_id", bad);
      auto limit = optional_int(body, "limit", bad);
      if (bad) return fail(errc::invalid_field, "user1_id, user2_id, before_id and limit must be integers", type);
      if (!u1 || !u2) return fail(errc::invalid_field, "user1_id and user2_id are required", type);
      req.user1 = *u1;
      req.user2 = *u2;
      if (before && *before > 0) req.before = *before;
      req.limit = clamp_limit(limit, default_history_page, max_history_page);
      return client_frame{req};
    }
    case event::chat_previews:
      return decode_previews(body);
    case event::edit:
      return decode_edit(body, limits);
    case event::remove:
      return decode_delete(body);
    case event::typing:
      return decode_typing(body);
    case event::refresh_token: {
      // Every refusal of a refresh is `unauthorized`, whatever is wrong with it: the client
      // learns that its session keeps its old token, and nothing more.
      auto it = body.find("token");
      if (it == body.end() || !it->value().is_string() || it->value().get_string().empty())
        return fail(errc::unauthorized, "the body must be {\"token\": \"<jwt>\"}", type);
      if (it->value().get_string().size() > max_token_bytes)
        return fail(errc::unauthorized, "the token is too large", type);
      return client_frame{refresh_token_request{std::string(it->value().get_string())}};
    }
    default:
      return fail(errc::unknown_type, "type " + std::to_string(type) + " is not a request a client can send", type);
  }
}

}  // namespace

void detail::append_user_fields(std::string& out, const user& u) {
  out += "{\"id\":";
  append_int(out, u.id);
  if (u.deleted) {
    // The tombstone keeps only its id: what the person was called is gone with the account.
    out += ",\"username\":\"\",\"name\":\"Deleted account\",\"deleted\":true";
    return;
  }
  out += ",\"username\":";
  append_json_string(out, u.username);
  out += ",\"name\":";
  append_json_string(out, u.name);
}

// ---- public API ----

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  // Runs of characters that need no escape (nearly all text) are appended in one piece.
  std::size_t plain_from = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain_from, i - plain_from);
    plain_from = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    }
  }
  out.append(s.data() + plain_from, s.size() - plain_from);
  out += '"';
}

result<auth_request> decode_auth(std::string_view text) {
  if (text.size() > max_token_bytes) return make_error(errc::unauthorized, "the first frame is too large for a token");
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object())
    return make_error(errc::unauthorized, "the first frame must be {\"token\": \"<jwt>\"}");
  const auto& obj = v.get_object();
  auto it = obj.find("token");
  if (it == obj.end() || !it->value().is_string() || it->value().get_string().empty())
    return make_error(errc::unauthorized, "the first frame must be {\"token\": \"<jwt>\"}");
  auth_request req;
  req.token = std::string(it->value().get_string());
  if (auto a = obj.find("acks"); a != obj.end() && a->value().is_bool()) req.explicit_acks = a->value().get_bool();
  if (auto s = obj.find("since"); s != obj.end() && !s->value().is_null()) req.since = read_since(s->value());
  return req;
}

boost::system::result<client_frame, frame_error> decode(std::string_view text, const decode_limits& limits) {
  // Most frames fit the arena, so decoding allocates nothing on the heap for the DOM.
  std::array<unsigned char, 4096> arena;
  json::monotonic_resource mr(arena.data(), arena.size());
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, &mr);
  if (ec) return fail(errc::malformed_frame, "the frame is not valid JSON: " + ec.message());
  if (!v.is_object()) return fail(errc::malformed_frame, "a frame must be an object {\"type\", \"body\"}");
  const auto& obj = v.get_object();
  auto t = obj.find("type");
  if (t == obj.end()) return fail(errc::malformed_frame, "the frame has no type");
  auto type = as_int(t->value());
  if (!type || *type < 0 || *type > 1000) return fail(errc::malformed_frame, "type must be a small integer");
  auto b = obj.find("body");
  if (b == obj.end()) return fail(errc::invalid_field, "the frame has no body", static_cast<int>(*type));
  return decode_body(static_cast<int>(*type), b->value(), text, limits);
}

std::string format_rfc3339(unix_ms t) {
  std::time_t secs = static_cast<std::time_t>(seconds(t));
  int ms = static_cast<int>(t - static_cast<unix_ms>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::string encode_text(const message_view& m, event as, stream_pos pos) {
  std::string out;
  out.reserve(200 + m.msg.content.size());
  open_frame(out, as, pos);
  out += "{\"msg_id\":";
  append_int(out, m.msg.id);
  out += ",\"from_id\":";
  append_int(out, m.from.id);
  out += ",\"from\":";
  append_json_string(out, m.from.username);
  out += ",\"from_name\":";
  append_json_string(out, m.from.name);
  out += ",\"content\":";
  append_json_string(out, m.msg.content);
  out += ",\"timestamp\":";
  append_int(out, seconds(m.msg.created_at));
  out += ",\"to\":";
  append_json_string(out, m.to.username);
  out += ",\"to_id\":";
  append_int(out, m.to.id);
  out += ",\"chat_id\":";
  append_int(out, m.msg.conversation);
  out += ",\"seq\":";
  append_int(out, m.msg.seq);
  append_message_state(out, m.msg);
  out += "}}";
  return out;
}

std::string encode_delivered(const message& stored, const std::optional<std::string>& mark, bool duplicate,
                             stream_pos pos) {
  std::string out;
  out.reserve(160);
  open_frame(out, event::delivered, pos);
  out += "{\"message_id\":";
  append_int(out, stored.id);
  out += ",\"mark\":";
  out += mark ? *mark : std::string("null");
  out += ",\"timestamp\":";
  append_int(out, seconds(stored.created_at));
  out += ",\"chat_id\":";
  append_int(out, stored.conversation);
  out += ",\"seq\":";
  append_int(out, stored.seq);
  out += ",\"duplicate\":";
  out += duplicate ? "true" : "false";
  out += "}}";
  return out;
}

std::string encode_read(const std::vector<message_id>& ids, stream_pos pos) {
  std::string out;
  open_frame(out, event::mark_read, pos);
  append_ids(out, ids);
  out += '}';
  return out;
}

std::string encode_error(const error& err, int ref_type, const std::optional<std::string>& mark) {
  std::string out;
  open_frame(out, event::err);
  out += "{\"error\":";
  append_json_string(out, err.message.empty() ? std::string(code_name(err.code)) : err.message);
  out += ",\"code\":";
  append_json_string(out, code_name(err.code));
  if (ref_type >= 0) {
    out += ",\"ref_type\":";
    append_int(out, ref_type);
  }
  if (err.retry_after_ms > 0) {
    out += ",\"retry_after_ms\":";
    append_int(out, err.retry_after_ms);
  }
  if (mark) {
    out += ",\"mark\":";
    out += *mark;
  }
  out += "}}";
  return out;
}

std::string encode_profile(const user& u) {
  std::string out;
  open_frame(out, event::profile_info);
  detail::append_user_fields(out, u);
  out += "}}";
  return out;
}

std::string encode_previews(const std::vector<chat_preview>& previews) {
  std::string out;
  open_frame(out, event::chat_previews);
  if (previews.empty()) {
    out += "null}";  // the original sent null, and its client expects it
    return out;
  }
  out += '[';
  for (std::size_t i = 0; i < previews.size(); ++i) {
    const auto& p = previews[i];
    if (i) out += ',';
    detail::append_user_fields(out, p.peer);
    out += ",\"chat_id\":";
    append_int(out, p.conversation);
    out += ",\"unread\":";
    append_int(out, p.unread);
    out += ",\"cursor\":";
    append_json_string(out, format_preview_cursor({p.updated_at, p.conversation}));
    out += ",\"last_message_at\":";
    append_int(out, seconds(p.updated_at));
    out += ",\"online\":";
    out += p.presence.online ? "true" : "false";
    out += ",\"last_seen\":";
    if (p.presence.last_seen) {
      append_int(out, seconds(*p.presence.last_seen));
    } else {
      out += "null";
    }
    out += ",\"last_message\":";
    if (p.last) {
      out += "{\"id\":";
      append_int(out, p.last->id);
      out += ",\"from_id\":";
      append_int(out, p.last->sender);
      out += ",\"content\":";
      append_json_string(out, p.last->content);
      out += ",\"timestamp\":";
      append_int(out, seconds(p.last->created_at));
      append_message_state(out, *p.last);
      out += '}';
    } else {
      out += "null";
    }
    out += '}';
  }
  out += "]}";
  return out;
}

std::string encode_search(const std::vector<user>& users) {
  std::string out;
  open_frame(out, event::search_response);
  out += '[';
  for (std::size_t i = 0; i < users.size(); ++i) {
    if (i) out += ',';
    detail::append_user_fields(out, users[i]);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string encode_history(const std::vector<message>& newest_first) {
  std::string out;
  open_frame(out, event::history_response);
  if (newest_first.empty()) {
    out += "null}";
    return out;
  }
  out += '[';
  bool first = true;
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    const auto& m = *it;
    if (!first) out += ',';
    first = false;
    out += "{\"id\":";
    append_int(out, m.id);
    out += ",\"content\":";
    append_json_string(out, m.content);
    out += ",\"chat_id\":";
    append_int(out, m.conversation);
    out += ",\"created_at\":";
    append_json_string(out, format_rfc3339(m.created_at));
    out += ",\"user_id\":";
    append_int(out, m.sender);
    out += ",\"read\":";
    out += m.read_at ? "true" : "false";
    out += ",\"seq\":";
    append_int(out, m.seq);
    out += ",\"to_id\":";
    append_int(out, m.recipient);
    out += ",\"delivered\":";
    out += m.delivered_at ? "true" : "false";
    append_message_state(out, m);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string encode_received(const std::vector<message_id>& ids, user_id recipient, unix_ms at, stream_pos pos) {
  std::string out;
  open_frame(out, event::received, pos);
  out += "{\"message_ids\":";
  append_ids(out, ids);
  out += ",\"to_id\":";
  append_int(out, recipient);
  out += ",\"timestamp\":";
  append_int(out, seconds(at));
  out += "}}";
  return out;
}

std::string encode_token_refreshed(std::int64_t expires_at_s) {
  std::string out;
  open_frame(out, event::refresh_token);
  // A token minted elsewhere may carry any exp; RFC 3339 ends with year 9999.
  constexpr std::int64_t last_rfc3339_second = 253402300799;  // 9999-12-31T23:59:59Z
  out += "{\"expires_at\":";
  append_json_string(out, format_rfc3339(std::min(expires_at_s, last_rfc3339_second) * 1000));
  out += "}}";
  return out;
}

}  // namespace chatrix::protocol
