// Address parsers. URLs are split by Boost.URL; what remains by hand is what RFC 3986 does not
// cover: the HOST:PORT forms and libpq's key=value syntax. No error message quotes a user
// name, a password or a key=value word, since any of them may be (part of) a secret.
#include "config/address.hpp"
#include "config/text.hpp"

#include <arpa/inet.h>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>

namespace chatrix::config {
namespace {

using text::all_digits;
using text::lower;
using text::trim;

namespace urls = boost::urls;

[[noreturn]] void refuse(const std::string& why) { throw address_error(why); }

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; });
}

std::optional<std::uint16_t> parse_port(std::string_view s, std::uint16_t min) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!all_digits(s) || ec != std::errc{} || end != s.data() + s.size() || v < min || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

bool is_ip(int family, const std::string& s) {
  in6_addr buffer{};  // large enough for either family
  return inet_pton(family, s.c_str(), &buffer) == 1;
}

/// The scheme of "scheme://...", lower-cased (RFC 3986 3.1: case-insensitive); "" if none.
std::string scheme_of(std::string_view text) {
  const auto end = text.find("://");
  if (end == text.npos || end == 0) return "";
  const auto scheme = text.substr(0, end);
  const bool valid = std::isalpha(static_cast<unsigned char>(scheme.front())) &&
                     std::all_of(scheme.begin(), scheme.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
                     });
  return valid ? lower(scheme) : "";
}

urls::url_view parse_url(std::string_view text, const std::string& hint) {
  if (has_space_or_control(text)) refuse("has a space or control character (percent-encode it: a space as %20)");
  const auto url = urls::parse_uri(urls::string_view(text.data(), text.size()));
  // Boost.URL 1.81 lets a path follow the authority without its '/': "u:p@ss@db/x" would
  // read as host "ss" and path "@db/x", putting part of a password in the database name. An
  // '@' left in the path is the same mistake with a '/' in the password ("u:p/ss@db/x").
  const bool path_follows_authority = !url || !url->has_authority() || url->encoded_path().empty() ||
                                      url->encoded_path().starts_with('/');
  if (!url || !path_follows_authority || url->encoded_path().find('@') != urls::string_view::npos) {
    refuse("is not a valid URL (" + hint + ")");
  }
  return *url;
}

std::string str(urls::string_view s) { return std::string(s.data(), s.size()); }

/// "[::1]" for an IPv6 address, so that a port can follow.
std::string bracketed(const std::string& host) {
  return host.find(':') != std::string::npos && host.find(',') == std::string::npos ? "[" + host + "]" : host;
}

// ---- PostgreSQL ----

// libpq 15's keywords (PQconndefaults), and those added up to 17, so that a typo is refused
// with the other settings instead of when the first connection is attempted.
constexpr std::string_view libpq_keywords[] = {
    "service", "user", "password", "passfile", "channel_binding", "connect_timeout", "dbname", "host", "hostaddr",
    "port", "client_encoding", "options", "application_name", "fallback_application_name", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "sslmode", "sslcompression",
    "sslcert", "sslkey", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
    "ssl_min_protocol_version", "ssl_max_protocol_version", "gssencmode", "krbsrvname", "gsslib", "replication",
    "target_session_attrs", "require_auth", "sslcertmode", "load_balance_hosts", "gssdelegation", "sslnegotiation"};

void set_postgres_keyword(postgres_address& a, std::string key, std::string value) {
  // The keyword is not quoted: in a mistyped string it may be a piece of the password.
  if (std::find(std::begin(libpq_keywords), std::end(libpq_keywords), key) == std::end(libpq_keywords)) {
    refuse("has a word that is not a libpq keyword (such as host, port, user, password, dbname, sslmode)");
  }
  if (key == "host") {
    a.host = std::move(value);
  } else if (key == "port") {
    a.port = std::move(value);
  } else if (key == "user") {
    a.user = std::move(value);
  } else if (key == "password") {
    a.password = std::move(value);
  } else if (key == "dbname") {
    a.dbname = std::move(value);
  } else {
    a.options.emplace_back(std::move(key), std::move(value));
  }
}

/// One "host[:port]" or "[v6]:port" of a libpq host list.
std::pair<std::string, std::string> split_host_port(std::string_view entry) {
  std::string_view host = entry, port;
  if (entry.starts_with('[')) {
    const auto close = entry.find(']');
    if (close == entry.npos || (close + 1 < entry.size() && entry[close + 1] != ':')) {
      refuse("has a bad IPv6 address in its host list");
    }
    host = entry.substr(1, close - 1);
    if (close + 1 < entry.size()) port = entry.substr(close + 2);
  } else if (const auto colon = entry.rfind(':'); colon != entry.npos) {
    host = entry.substr(0, colon);
    port = entry.substr(colon + 1);
  }
  if (host.empty()) refuse("has an empty host in its host list");
  if (!port.empty() && !parse_port(port, 1)) refuse("has a port that is not a number from 1 to 65535");
  return {std::string(host), std::string(port)};
}

postgres_address parse_postgres_url(std::string_view text);

/// libpq takes several hosts in one URL (postgres://h1:5432,h2:5433/db), which RFC 3986 does
/// not: the list is cut out, the rest parsed as a URL with one host, and the list split here
/// into libpq's comma-separated host and port values.
std::optional<postgres_address> parse_postgres_url_with_host_list(std::string_view text) {
  const auto authority_begin = text.find("://") + 3;
  const auto authority_end = std::min(text.find_first_of("/?#", authority_begin), text.size());
  const auto authority = text.substr(authority_begin, authority_end - authority_begin);
  const auto at = authority.rfind('@');
  const auto hosts_begin = at == authority.npos ? 0 : at + 1;
  const auto host_list = authority.substr(hosts_begin);
  if (host_list.find(',') == host_list.npos) return std::nullopt;
  auto a = parse_postgres_url(std::string(text.substr(0, authority_begin + hosts_begin)) + "hosts" +
                              std::string(text.substr(authority_end)));
  std::string hosts, ports;
  bool any_port = false;
  for (std::size_t begin = 0; begin <= host_list.size();) {
    const auto end = std::min(host_list.find(',', begin), host_list.size());
    const auto [host, port] = split_host_port(host_list.substr(begin, end - begin));
    hosts += (begin == 0 ? "" : ",") + host;
    ports += (begin == 0 ? "" : ",") + port;
    any_port = any_port || !port.empty();
    begin = end + 1;
  }
  a.host = std::move(hosts);
  a.port = any_port ? std::move(ports) : std::string();
  return a;
}

postgres_address parse_postgres_url(std::string_view text) {
  if (auto listed = parse_postgres_url_with_host_list(text)) return std::move(*listed);
  const auto url = parse_url(text,
                             "percent-encode reserved characters in the user name and password: @ as %40, : as %3A, "
                             "/ as %2F");
  if (url.has_fragment()) refuse("has a fragment ('#'); percent-encode it in a password as %23");
  postgres_address a;
  if (url.has_authority()) {
    a.host = url.host_address();
    if (url.has_port() && !url.port().empty()) {
      if (!parse_port(str(url.port()), 1)) refuse("has a port that is not a number from 1 to 65535");
      a.port = str(url.port());
    }
    if (url.has_userinfo()) {
      a.user = url.user();
      a.password = url.password();
    }
  }
  std::string path = url.path();
  if (path.starts_with('/')) path.erase(0, 1);
  a.dbname = std::move(path);
  for (const auto param : url.params()) {
    if (!param.has_value) refuse("has a query parameter without a value (accepted: ?keyword=value&...)");
    // libpq's URI parser reads the JDBC spelling "ssl=true" as sslmode=require.
    if (param.key == "ssl" && param.value == "true") {
      a.options.emplace_back("sslmode", "require");
      continue;
    }
    set_postgres_keyword(a, param.key, param.value);
  }
  return a;
}

/// libpq's syntax: words "keyword = value" apart by spaces; a value in single quotes may hold
/// spaces; a backslash escapes the next character (quoted or not).
postgres_address parse_postgres_key_values(std::string_view s) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  postgres_address a;
  std::size_t i = 0;
  for (;;) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i == s.size()) break;
    const std::size_t key_begin = i;
    while (i < s.size() && s[i] != '=' && !is_space(s[i])) ++i;
    std::string key(s.substr(key_begin, i - key_begin));
    while (i < s.size() && is_space(s[i])) ++i;
    if (i == s.size() || s[i] != '=') refuse("has a word without '=' (quote a value with spaces: password='a b')");
    ++i;
    while (i < s.size() && is_space(s[i])) ++i;
    std::string value;
    const bool quoted = i < s.size() && s[i] == '\'';
    if (quoted) ++i;
    bool closed = !quoted;
    for (; i < s.size(); ++i) {
      if (quoted && s[i] == '\'') {
        closed = true;
        ++i;
        break;
      }
      if (!quoted && is_space(s[i])) break;
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      value += s[i];
    }
    if (!closed) refuse("has a quoted value without its closing quote");
    set_postgres_keyword(a, std::move(key), std::move(value));
  }
  return a;
}

bool is_postgres_scheme(const std::string& scheme) { return scheme == "postgres" || scheme == "postgresql"; }

}  // namespace

// ---- listen address ----

std::string listen_address::to_string() const { return bracketed(host) + ":" + std::to_string(port); }

listen_address parse_listen_address(std::string_view text) {
  const std::string_view v = trim(text);
  listen_address a;
  std::string_view port_text;
  if (all_digits(v)) {
    port_text = v;
  } else if (!v.empty() && v.front() == '[') {
    const auto close = v.find("]:");
    if (close == v.npos) refuse("is not a listen address");
    a.host = std::string(v.substr(1, close - 1));
    port_text = v.substr(close + 2);
    if (!is_ip(AF_INET6, a.host)) refuse("does not name an IPv6 address");
  } else {
    const auto colon = v.rfind(':');
    if (colon == v.npos) refuse("is not a listen address");
    std::string host(v.substr(0, colon));
    port_text = v.substr(colon + 1);
    if (host.find(':') != std::string::npos) refuse("has an IPv6 address without brackets");
    // The socket binds an IP address, not a name; "localhost" is the one name worth allowing.
    if (host == "localhost") host = "127.0.0.1";
    if (!host.empty() && !is_ip(AF_INET, host)) refuse("does not name an IP address to listen on");
    if (!host.empty()) a.host = std::move(host);
  }
  const auto port = parse_port(port_text, 0);
  if (!port) refuse("is not a port");
  a.port = *port;
  return a;
}

// ---- PostgreSQL ----

std::string postgres_address::to_string() const {
  std::string out = "postgres://";
  if (!user.empty() || !password.empty()) out += user + (password.empty() ? "" : ":***") + "@";
  out += bracketed(host);
  if (!port.empty()) out += ":" + port;
  out += "/" + dbname;
  char separator = '?';
  for (const auto& [key, value] : options) {
    // sslpassword unlocks the client key: as secret as the password.
    out += separator + key + "=" + (key.find("password") != std::string::npos ? "***" : value);
    separator = '&';
  }
  return out;
}

bool is_postgres_address(std::string_view text) {
  text = trim(text);
  const auto scheme = scheme_of(text);
  return is_postgres_scheme(scheme) || (scheme.empty() && text.find('=') != text.npos);
}

postgres_address parse_postgres_address(std::string_view text) {
  text = trim(text);
  const auto scheme = scheme_of(text);
  if (is_postgres_scheme(scheme)) return parse_postgres_url(text);
  if (!scheme.empty()) refuse("has the unsupported scheme '" + scheme + "' (use postgres:// or postgresql://)");
  if (text.find('=') == text.npos) refuse("is neither a postgres:// URL nor a key=value string");
  return parse_postgres_key_values(text);
}

// ---- SQLite ----

bool is_sqlite_address(std::string_view text) { return lower(trim(text).substr(0, 7)) == "sqlite:"; }

std::filesystem::path parse_sqlite_address(std::string_view text) {
  text = trim(text);
  if (!is_sqlite_address(text)) refuse("does not start with sqlite:");
  std::string_view path = text.substr(7);
  if (path.starts_with("//")) path.remove_prefix(2);  // "sqlite://x.db" and "sqlite:///abs/x.db"
  if (path.empty()) refuse("needs a file path (accepted: sqlite:PATH or sqlite://PATH)");
  return std::filesystem::path(std::string(path));
}

// ---- Redis ----

std::string redis_address::to_string() const {
  std::string s = bracketed(host) + ":" + port;
  if (db != 0) s.append("/").append(std::to_string(db));
  if (!password.empty()) s += " (with AUTH)";
  return s;
}

redis_address parse_redis_address(std::string_view text) {
  text = trim(text);
  if (text.empty()) refuse("is empty");
  const auto scheme = scheme_of(text);
  if (scheme == "rediss") refuse("asks for TLS (rediss://): TLS to Redis is not supported");
  if (!scheme.empty() && scheme != "redis") refuse("has the unsupported scheme '" + scheme + "' (use redis://)");
  redis_address a;
  if (scheme.empty()) {
    const auto colon = text.rfind(':');
    if (has_space_or_control(text) || colon == text.npos || colon == 0) refuse("is not HOST:PORT");
    std::string host(text.substr(0, colon));
    if (host.front() == '[') {
      if (host.back() != ']' || !is_ip(AF_INET6, host.substr(1, host.size() - 2))) refuse("has a bad IPv6 address");
      host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != host.npos) {
      refuse("has an IPv6 address without brackets");
    }
    if (!parse_port(text.substr(colon + 1), 1)) refuse("has a port that is not a number from 1 to 65535");
    a.host = std::move(host);
    a.port = std::string(text.substr(colon + 1));
    return a;
  }
  const auto url = parse_url(text, "percent-encode reserved characters in the password: @ as %40, / as %2F");
  if (!url.has_authority() || url.host_address().empty()) refuse("names no host");
  if (url.has_query() || url.has_fragment()) refuse("has a query or a fragment, which Redis addresses do not take");
  a.host = url.host_address();
  if (url.has_port() && !url.port().empty()) {
    if (!parse_port(str(url.port()), 1)) refuse("has a port that is not a number from 1 to 65535");
    a.port = str(url.port());
  }
  if (url.has_userinfo()) {
    // `user:password`, `:password`, or (Redis clients' habit) a bare `password`.
    if (url.has_password()) {
      a.username = url.user();
      a.password = url.password();
    } else {
      a.password = url.user();
    }
  }
  std::string path = url.path();
  if (path.starts_with('/')) path.erase(0, 1);
  if (!path.empty()) {
    const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), a.db);
    if (!all_digits(path) || ec != std::errc{} || end != path.data() + path.size() || a.db > (1 << 20)) {
      refuse("has a database number that is not a whole number (redis://host:port/DB)");
    }
  }
  return a;
}

// ---- WebSocket ----

websocket_address parse_websocket_address(std::string_view text) {
  text = trim(text);
  if (scheme_of(text) != "ws") refuse("does not start with ws://");
  const auto url = parse_url(text, "ws://host:port/path");
  if (!url.has_authority() || url.host_address().empty()) refuse("names no host");
  websocket_address a;
  a.host = url.host_address();
  if (url.has_port() && !url.port().empty()) {
    if (!parse_port(str(url.port()), 1)) refuse("has a port that is not a number from 1 to 65535");
    a.port = str(url.port());
  }
  if (!url.encoded_path().empty()) {
    a.target = str(url.encoded_path());
    if (url.has_query()) a.target.append("?").append(str(url.encoded_query()));
  }
  return a;
}

// ---- IP networks ----

std::optional<ip_bytes> parse_ip(std::string_view text) {
  if (const auto pct = text.find('%'); pct != text.npos) text = text.substr(0, pct);  // fe80::1%eth0
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  ip_bytes out{};
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xFF;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

bool ip_network::contains(const ip_bytes& address) const noexcept {
  const unsigned whole = prefix / 8, rest = prefix % 8;
  if (!std::equal(base.begin(), base.begin() + whole, address.begin())) return false;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (base[whole] & mask) == (address[whole] & mask);
}

bool ip_network::contains(std::string_view address) const {
  const auto ip = parse_ip(address);
  return ip && contains(*ip);
}

namespace {

bool is_v4_mapped(const ip_bytes& b) {
  return std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) && b[10] == 0xFF &&
         b[11] == 0xFF;
}

}  // namespace

std::string ip_network::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4_mapped(base) && prefix >= 96) {
    ::inet_ntop(AF_INET, base.data() + 12, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(prefix - 96);
  }
  ::inet_ntop(AF_INET6, base.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

ip_network parse_ip_network(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  const auto ip = parse_ip(text.substr(0, slash));
  if (!ip) refuse("is not an IPv4 or IPv6 address");
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  ip_network n{*ip, 128};
  if (slash != text.npos) {
    const auto bits_text = text.substr(slash + 1);
    unsigned bits = 0;
    const auto [end, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
    const unsigned max = v4 ? 32 : 128;
    if (bits_text.empty() || !all_digits(bits_text) || ec != std::errc{} || end != bits_text.data() + bits_text.size() ||
        bits > max) {
      refuse("has a prefix length that is not a number from 0 to " + std::to_string(max));
    }
    n.prefix = v4 ? bits + 96 : bits;
  }
  ip_network masked = n;
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned covered = std::min(8u, n.prefix > i * 8 ? n.prefix - i * 8 : 0u);
    masked.base[i] = static_cast<std::uint8_t>(masked.base[i] & (covered == 0 ? 0 : 0xFF << (8 - covered)));
  }
  if (masked.base != n.base) refuse("has bits set after the prefix (did you mean " + masked.to_string() + "?)");
  return n;
}

}  // namespace chatrix::config
