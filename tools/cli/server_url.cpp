#include "server_url.hpp"

#include "cli_error.hpp"

#include <boost/url/parse.hpp>

namespace chatrix::cli {

namespace {

cli_error bad_url(std::string_view text, const std::string& why) {
  return cli_error("usage", "--server '" + std::string(text) + "': " + why, exit_status::usage);
}

}  // namespace

server_url parse_server_url(std::string_view text) {
  const std::string with_scheme =
      text.find("://") == std::string_view::npos ? "http://" + std::string(text) : std::string(text);
  const auto parsed = boost::urls::parse_absolute_uri(with_scheme);
  if (!parsed) throw bad_url(text, "not a URL (expected http://host:port)");
  const auto& url = *parsed;
  const bool tls = url.scheme_id() == boost::urls::scheme::https;
  if (!tls && url.scheme_id() != boost::urls::scheme::http)
    throw bad_url(text, "the scheme must be http:// or https://");
  if (url.host().empty()) throw bad_url(text, "no host");
  if (url.has_userinfo() || url.has_query() || url.has_fragment() || (!url.path().empty() && url.path() != "/"))
    throw bad_url(text, "only http://host:port is accepted (no path, query or user)");
  server_url out;
  out.tls = tls;
  out.host = url.host_address();
  // port_number() is 0 for an empty port and for one beyond 65535.
  if (url.has_port() && url.port_number() == 0) throw bad_url(text, "the port must be 1 to 65535");
  out.port = url.has_port() ? std::to_string(url.port_number()) : tls ? "443" : "80";
  const std::string shown_host = url.host_type() == boost::urls::host_type::ipv6 ? "[" + out.host + "]" : out.host;
  out.text = (tls ? "https://" : "http://") + shown_host + ":" + out.port;
  return out;
}

}  // namespace chatrix::cli
