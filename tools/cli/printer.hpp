// What a command prints on stdout: a text line for people, or with --json the same record as one
// JSON object per line, whose field names are stable (docs/cli.md) so that scripts can rely on them.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>

namespace chatrix::cli {

class printer {
 public:
  explicit printer(bool json) : json_(json) {}

  bool json() const { return json_; }

  /// Prints `fields` (--json) or `line`, and flushes: `listen` output is read as it comes.
  void record(const boost::json::object& fields, const std::string& line) const;

 private:
  bool json_;
};

/// Unix seconds as "2026-12-07T03:04:05Z" (UTC, RFC 3339 as history's created_at), for text output.
std::string utc_time(std::int64_t unix_seconds);

/// "alice (Alice)", or "alice" when the display name is empty or the username itself.
std::string display(const std::string& username, const std::string& name);

}  // namespace chatrix::cli
