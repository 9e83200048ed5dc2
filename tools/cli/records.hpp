// The records the commands print about messages and conversations, shared by the socket and
// HTTP commands so that a message or a preview reads the same whichever way it came.
#pragma once

#include "printer.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace chatrix::cli {

/// Copies what a message body or history row may carry beyond its content into `record`
/// (reply_to, attachment, edited_at, deleted), and says it in `line` for people.
void add_message_state(const boost::json::object& message, boost::json::object& record, std::string& line);

/// One row of CHATPREVIEWS or GET /v1/conversations, printed as `previews` always has, plus
/// the row's cursor and the last message's state.
void print_preview(const printer& out, const boost::json::value& row);

/// "stored", "delivered" or "read", from a history row's flags (read implies delivered).
std::string status_of(const boost::json::object& row);

}  // namespace chatrix::cli
