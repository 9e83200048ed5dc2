#include "http/json_body.hpp"

#include <boost/json/parse.hpp>

namespace chatrix::http {

namespace json = boost::json;

result<json::object> json_object_body(const request& req) {
  boost::system::error_code ec;
  auto v = json::parse(req.body, ec);
  if (ec || !v.is_object()) return make_error(errc::invalid_field, "the body must be a JSON object");
  return std::move(v.get_object());
}

result<std::vector<std::string>> read_fields(const request& req, std::initializer_list<std::string_view> names) {
  auto body = json_object_body(req);
  if (!body) return body.error();
  std::vector<std::string> out;
  for (auto name : names) {
    auto* f = body->if_contains(name);
    if (!f || f->is_null()) {
      out.emplace_back();
    } else if (f->is_string()) {
      out.emplace_back(f->get_string());
    } else {
      return make_error(errc::invalid_field, std::string(name) + " must be a string");
    }
  }
  return out;
}

}  // namespace chatrix::http
