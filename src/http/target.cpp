#include "http/target.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>

namespace chatrix::http {

std::optional<parsed_target> parse_target(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  parsed_target out;
  for (auto segment : url->segments()) out.segments.emplace_back(segment);
  for (auto p : url->params()) out.params.emplace_back(p.key, p.has_value ? p.value : std::string());
  return out;
}

const std::string* parsed_target::param(std::string_view name) const {
  for (const auto& [key, value] : params)
    if (key == name) return &value;
  return nullptr;
}

result<std::int64_t> parsed_target::int_param(std::string_view name, std::int64_t min, std::int64_t max,
                                              std::int64_t fallback) const {
  const auto* text = param(name);
  if (text == nullptr) return fallback;
  std::int64_t value = 0;
  const auto* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max)
    return make_error(errc::invalid_field,
                      std::string(name) + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  return value;
}

result<std::optional<std::int64_t>> parsed_target::id_param(std::string_view name) const {
  if (param(name) == nullptr) return std::optional<std::int64_t>();
  auto id = int_param(name, 1, INT64_MAX, 0);
  if (!id) return make_error(errc::invalid_field, std::string(name) + " must be a message id (a positive number)");
  return std::optional<std::int64_t>(*id);
}

bool path_matches(std::string_view route_path, std::string_view path) {
  for (;;) {
    const auto r_end = route_path.find('/', 1);
    const auto p_end = path.find('/', 1);
    const auto r_seg = route_path.substr(0, r_end);
    const auto p_seg = path.substr(0, p_end);
    const bool wildcard = r_seg.size() > 3 && r_seg[1] == '{' && r_seg.back() == '}';
    if (wildcard ? p_seg.size() < 2 : r_seg != p_seg) return false;
    if (r_end == std::string_view::npos || p_end == std::string_view::npos) return r_end == p_end;
    route_path.remove_prefix(r_end);
    path.remove_prefix(p_end);
  }
}

}  // namespace chatrix::http
