// A route's JSON body, read once at the edge: the object itself, or its named string fields.
// The content type is not checked: the original accepted any, and so do its clients' tools.
#pragma once

#include "core/error.hpp"
#include "http/router.hpp"

#include <boost/json/object.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace chatrix::http {

/// The body as a JSON object; errc::invalid_field otherwise.
result<boost::json::object> json_object_body(const request& req);

/// The named string fields of a JSON object body, in the order named; a missing or null field
/// reads as "". errc::invalid_field for a body that is no object or a field that is no string.
result<std::vector<std::string>> read_fields(const request& req, std::initializer_list<std::string_view> names);

}  // namespace chatrix::http
