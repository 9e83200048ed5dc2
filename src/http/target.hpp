// A request target (path and query, RFC 9112 origin-form) parsed once at the edge of the API
// routes, percent-decoded, with the typed readers of its query parameters.
#pragma once

#include "core/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatrix::http {

struct parsed_target {
  std::vector<std::string> segments;                         // "/v1/files/x" -> v1, files, x
  std::vector<std::pair<std::string, std::string>> params;  // in order; "a" alone has value ""

  /// The first value of the parameter `name`, or nullptr.
  const std::string* param(std::string_view name) const;
  /// The parameter as an integer in [min, max]; `fallback` when absent; errc::invalid_field
  /// (naming it) when it is something else.
  result<std::int64_t> int_param(std::string_view name, std::int64_t min, std::int64_t max,
                                 std::int64_t fallback) const;
  /// The parameter as a positive id, nullopt when absent; errc::invalid_field otherwise.
  result<std::optional<std::int64_t>> id_param(std::string_view name) const;
};

/// nullopt when `target` is not an origin-form target.
std::optional<parsed_target> parse_target(std::string_view target);

/// Whether `path` (a request's, without the query) matches a route's path, in which a
/// segment "{name}" stands for any one non-empty segment.
bool path_matches(std::string_view route_path, std::string_view path);

}  // namespace chatrix::http
