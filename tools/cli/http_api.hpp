// The HTTP API for the commands that need no socket (docs/protocol.md, HTTP API): JSON calls,
// and files streamed up from and down to disk.
#pragma once

#include "transport.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace chatrix::cli {

/// GET `target` (path and query, percent-encoded) with the token; the JSON answer, or cli_error
/// with the server's code.
boost::json::value get_json(const server_url& server, const std::string& token, const std::string& target);

/// `verb target` with the token and `body` as JSON (none when null); the JSON answer, or null
/// for 204 No Content. A refusal throws cli_error with the server's code.
boost::json::value call_json(const server_url& server, const std::string& token, http_request::method verb,
                             const std::string& target, const boost::json::value& body);

/// `value` percent-encoded for a query string or a path segment (everything but A-Z a-z 0-9 -._~).
std::string url_encoded(std::string_view value);

struct file_info {
  std::string id;
  std::string name;
  std::string type;
  std::int64_t size = 0;
};

/// `{"id","name","type","size"}`; throws cli_error (unreachable) when a field is missing.
file_info file_info_of(const boost::json::value& value);
boost::json::object file_record(const file_info& file);

/// POST /v1/files?name=<name>: the file at `path` streamed as the body with Content-Type `type`;
/// by default the name is the file's own and the type guessed from its extension.
file_info upload_file(const server_url& server, const std::string& token, const std::filesystem::path& path,
                      const std::optional<std::string>& name, const std::optional<std::string>& type);

struct downloaded {
  std::string type;  // Content-Type as served
  std::string name;  // from Content-Disposition; empty when it names none
  std::int64_t size = 0;
};

/// GET `target`, each chunk of the 2xx answer's bytes handed to `sink` as it arrives (an
/// answer of any size passes through a fixed buffer); a refusal throws the server's code.
downloaded download(const server_url& server, const std::string& token, const std::string& target,
                    const std::function<void(std::string_view)>& sink);

/// GET /v1/files/<id>, as download().
downloaded download_file(const server_url& server, const std::string& token, const std::string& id,
                         const std::function<void(std::string_view)>& sink);

}  // namespace chatrix::cli
