// redact_conninfo: connection strings as they may appear in logs and error messages,
// with passwords masked in both URL and key=value forms.

#include "storage/postgres/postgres_store.hpp"

#include <cctype>
#include <string>

namespace chatrix::storage {

namespace {

constexpr std::string_view mask = "***";

bool is_space(char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; }

/// postgres://user:secret@host:5432/db?sslmode=require&password=secret
std::string redact_url(std::string_view url, std::size_t authority_begin) {
  std::string out(url.substr(0, authority_begin));
  const std::size_t authority_end = std::min(url.find_first_of("/?#", authority_begin), url.size());
  const std::string_view authority = url.substr(authority_begin, authority_end - authority_begin);
  // The last '@' ends the user info: an unencoded '@' in a password is common enough.
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const std::size_t colon = userinfo.find(':');
    if (colon != std::string_view::npos) {
      out.append(userinfo.substr(0, colon + 1)).append(mask);
    } else {
      out.append(userinfo);
    }
    out.append(authority.substr(at));
  } else {
    out.append(authority);
  }
  std::string_view rest = url.substr(authority_end);
  const std::size_t query = rest.find('?');
  out.append(rest.substr(0, query == std::string_view::npos ? rest.size() : query));
  if (query == std::string_view::npos) return out;
  rest.remove_prefix(query);
  out.push_back('?');
  rest.remove_prefix(1);
  bool first = true;
  while (!rest.empty()) {
    const std::size_t end = std::min(rest.find_first_of("&#"), rest.size());
    const std::string_view pair = rest.substr(0, end);
    if (!first) out.push_back('&');
    first = false;
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == "password") {
      out.append(pair.substr(0, eq + 1)).append(mask);
    } else {
      out.append(pair);
    }
    if (end < rest.size() && rest[end] == '#') {
      out.append(rest.substr(end));
      break;
    }
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
  return out;
}

/// host=db user=chat password='se cret' dbname=chat (libpq's key = value syntax: spaces
/// around '=', values in single quotes with \' and \\ escapes).
std::string redact_key_values(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    // Whitespace and the key are copied as they are.
    while (i < s.size() && is_space(s[i])) out.push_back(s[i++]);
    const std::size_t key_begin = i;
    while (i < s.size() && s[i] != '=' && !is_space(s[i])) ++i;
    const std::string_view key = s.substr(key_begin, i - key_begin);
    out.append(key);
    while (i < s.size() && is_space(s[i])) out.push_back(s[i++]);
    if (i >= s.size() || s[i] != '=') continue;  // malformed; libpq will say so
    out.push_back(s[i++]);
    while (i < s.size() && is_space(s[i])) out.push_back(s[i++]);
    const std::size_t value_begin = i;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      if (i < s.size()) ++i;  // closing quote
    } else {
      while (i < s.size() && !is_space(s[i])) i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
    }
    if (key == "password") {
      out.append(mask);
    } else {
      out.append(s.substr(value_begin, i - value_begin));
    }
  }
  return out;
}

}  // namespace

std::string redact_conninfo(std::string_view url) {
  for (const std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (url.starts_with(scheme)) return redact_url(url, scheme.size());
  }
  return redact_key_values(url);
}

}  // namespace chatrix::storage
