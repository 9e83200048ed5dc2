#include "push/webhook_endpoint.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>

namespace chatrix::push {

result<webhook_endpoint> parse_webhook_url(std::string_view text) {
  const auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return make_error(errc::invalid_field, "not an absolute URL");
  const boost::urls::url_view& url = *parsed;
  webhook_endpoint out;
  if (url.scheme() == "https") {
    out.tls = true;
  } else if (url.scheme() != "http") {
    return make_error(errc::invalid_field, "the scheme must be http or https");
  }
  if (url.has_userinfo()) return make_error(errc::invalid_field, "user info in the URL is not supported");
  if (url.has_fragment()) return make_error(errc::invalid_field, "a URL fragment is not sent: remove it");
  out.host = url.host_type() == boost::urls::host_type::ipv6 ? std::string(url.encoded_host_address())
                                                             : std::string(url.host_address());
  if (out.host.empty()) return make_error(errc::invalid_field, "the URL has no host");
  out.port = out.tls ? 443 : 80;
  if (url.has_port()) {
    const auto digits = url.port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || value == 0 || value > 65535)
      return make_error(errc::invalid_field, "the port must be 1-65535");
    out.port = static_cast<std::uint16_t>(value);
  }
  out.target = url.encoded_path().empty() ? std::string(1, '/') : std::string(url.encoded_path());
  if (url.has_query()) {
    out.target += '?';
    out.target += url.encoded_query();
  }
  out.host_header = std::string(url.encoded_host_and_port());
  return out;
}

}  // namespace chatrix::push
