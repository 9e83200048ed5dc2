#include "http_api.hpp"

#include "cli_error.hpp"
#include "file_names.hpp"
#include "wire.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace chatrix::cli {

namespace json = boost::json;

namespace {

void throw_unless_success(const http_reply& reply) {
  if (reply.status / 100 == 2) return;
  const auto refusal = http_error_of(reply.status, reply.body);
  throw server_error(refusal.code, refusal.reason);
}

json::value json_answer(const http_reply& reply) {
  throw_unless_success(reply);
  if (reply.status == 204) return nullptr;
  boost::system::error_code ec;
  json::value value = json::parse(reply.body, ec);
  if (ec) throw cli_error("bad_response", "unexpected answer from the server: not JSON", exit_status::unreachable);
  return value;
}

}  // namespace

std::string url_encoded(std::string_view value) { return boost::urls::encode(value, boost::urls::unreserved_chars); }

json::value get_json(const server_url& server, const std::string& token, const std::string& target) {
  return json_answer(http_call(server, {http_request::method::get, target, token, {}, {}, std::nullopt}));
}

json::value call_json(const server_url& server, const std::string& token, http_request::method verb,
                      const std::string& target, const json::value& body) {
  http_request request{verb, target, token, {}, {}, std::nullopt};
  if (!body.is_null()) {
    request.content_type = "application/json";
    request.body = json::serialize(body);
  }
  return json_answer(http_call(server, request));
}

file_info file_info_of(const json::value& value) {
  const auto& object = as_object(value, "file");
  return {string_field(object, "id"), string_field(object, "name"), string_field(object, "type"),
          int_field(object, "size")};
}

json::object file_record(const file_info& file) {
  return {{"id", file.id}, {"name", file.name}, {"type", file.type}, {"size", file.size}};
}

file_info upload_file(const server_url& server, const std::string& token, const std::filesystem::path& path,
                      const std::optional<std::string>& name, const std::optional<std::string>& type) {
  const std::string file_name = name.value_or(path.filename().string());
  const http_request request{http_request::method::post, "/v1/files?name=" + url_encoded(file_name), token,
                             type.value_or(media_type_for(path)), {}, path};
  return file_info_of(json_answer(http_call(server, request)));
}

downloaded download(const server_url& server, const std::string& token, const std::string& target,
                    const std::function<void(std::string_view)>& sink) {
  downloaded out;
  const http_request request{http_request::method::get, target, token, {}, {}, std::nullopt};
  const http_reply reply = http_download(server, request, [&](std::string_view chunk) {
    out.size += static_cast<std::int64_t>(chunk.size());
    sink(chunk);
  });
  throw_unless_success(reply);
  out.type = reply.content_type;
  out.name = attachment_file_name(reply.content_disposition);
  return out;
}

downloaded download_file(const server_url& server, const std::string& token, const std::string& id,
                         const std::function<void(std::string_view)>& sink) {
  return download(server, token, "/v1/files/" + url_encoded(id), sink);
}

}  // namespace chatrix::cli
