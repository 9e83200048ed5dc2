// The frame codec on a client's text frame, as a session uses it: decode_auth for the first
// frame, decode for the others, and on refusal the ERR frame that echoes the frame's type and
// mark. Beyond memory errors it checks what the rest of the server relies on: every limit
// holds on a decoded frame, and every frame sent back (the ERR, the DELIVERED carrying the
// mark) is valid JSON, so that a client's mark cannot break out of its field.
#include "fuzz_check.hpp"
#include "protocol/codec.hpp"
#include "protocol/limits.hpp"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace {

using namespace chatrix;
using chatrix::fuzz::require;

bool valid_json(const std::string& text) {
  boost::system::error_code ec;
  (void)boost::json::parse(text, ec);
  return !ec;
}

void check_mark(const std::optional<std::string>& mark) {
  if (!mark) return;
  require(mark->size() <= protocol::max_mark_bytes, "a mark is at most max_mark_bytes");
  require(valid_json(*mark), "a mark is JSON text");
  message stored;
  stored.id = 1;
  require(valid_json(protocol::encode_delivered(stored, mark, false)), "DELIVERED with the mark is valid JSON");
}

void check(const protocol::client_frame& frame, const protocol::decode_limits& limits) {
  if (const auto* text = std::get_if<protocol::text_request>(&frame)) {
    require(text->content.size() <= limits.max_content_bytes, "TEXT content is at most max_content_bytes");
    require(text->to_username || text->to_id, "TEXT names a recipient");
    require(!text->content.empty() || text->attachment, "TEXT content is empty only with an attachment");
    require(!text->reply_to || *text->reply_to > 0, "TEXT reply_to is a positive id");
    require(!text->attachment || (!text->attachment->empty() && text->attachment->size() <= protocol::max_file_id_bytes),
            "TEXT attachment is 1..max_file_id_bytes");
    check_mark(text->mark);
  } else if (const auto* edit = std::get_if<protocol::edit_message_request>(&frame)) {
    require(edit->id > 0, "EDIT names a positive id");
    require(!edit->content.empty() && edit->content.size() <= limits.max_content_bytes,
            "EDIT content is 1..max_content_bytes");
  } else if (const auto* del = std::get_if<protocol::delete_messages_request>(&frame)) {
    require(!del->ids.empty() && del->ids.size() <= protocol::max_ids_per_delete, "DELETE ids are 1..max_ids_per_delete");
  } else if (const auto* read = std::get_if<protocol::mark_read_request>(&frame)) {
    require(read->ids.size() <= protocol::max_ids_per_frame, "MARK_READ ids are at most max_ids_per_frame");
  } else if (const auto* ack = std::get_if<protocol::ack_request>(&frame)) {
    require(ack->ids.size() <= protocol::max_ids_per_frame, "ACK ids are at most max_ids_per_frame");
  } else if (const auto* search = std::get_if<protocol::search_request>(&frame)) {
    require(search->limit >= 1 && search->limit <= protocol::max_search_results, "search limit within 1..max");
  } else if (const auto* history = std::get_if<protocol::history_request>(&frame)) {
    require(history->limit >= 1 && history->limit <= protocol::max_history_page, "history limit within 1..max");
  } else if (const auto* previews = std::get_if<protocol::previews_request>(&frame)) {
    require(previews->limit >= 1 && previews->limit <= protocol::max_previews, "previews limit within 1..max");
    require(!previews->before || previews->before->conversation > 0, "a previews cursor names a conversation");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // A small content limit, so that inputs reach it without growing to the default 8 KiB.
  const protocol::decode_limits limits{.max_content_bytes = 64};

  if (auto auth = protocol::decode_auth(text)) {
    require(auth->token.size() <= protocol::max_token_bytes, "a token is at most max_token_bytes");
    require(!auth->since || *auth->since >= 0 || *auth->since == protocol::unusable_since,
            "since is a position or unusable");
  } else {
    require(valid_json(protocol::encode_error(auth.error())), "ERR for a bad first frame is valid JSON");
  }

  if (auto frame = protocol::decode(text, limits)) {
    check(*frame, limits);
  } else {
    const auto& refused = frame.error();
    check_mark(refused.mark);
    require(valid_json(protocol::encode_error(refused.err, refused.ref_type, refused.mark)), "ERR is valid JSON");
  }
  return 0;
}
