// What reaches libpq, and what must not reach a log: libpq_parameters turns a parsed address
// into PQconnectStartParams' arrays; address_secrets and conninfo_secrets find the passwords so
// that scrub() can remove them from any text, libpq's error messages included; redact_conninfo
// masks passwords in a connection string that may not even parse.

#include "storage/postgres/conninfo.hpp"

#include "storage/postgres/postgres_store.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

namespace chatrix::storage {

namespace {

constexpr std::string_view mask = "***";
constexpr std::size_t min_secret_length = 3;
constexpr std::string_view url_schemes[] = {"postgresql://", "postgres://"};

bool is_space(char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; }

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

/// The length of the URL scheme (with "://") if `s` is a postgres URL, else 0.
std::size_t url_scheme_length(std::string_view s) {
  for (const std::string_view scheme : url_schemes) {
    if (starts_with_ci(s, scheme)) return scheme.size();
  }
  return 0;
}

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

/// Walks libpq's key = value syntax (spaces around '=', values in single quotes with \' and
/// \\ escapes): `copy(begin, end)` for text kept as it is, `value(key, begin, end)` for each
/// value (quotes included). Malformed input is walked leniently; libpq will refuse it.
template <class Copy, class Value>
void walk_key_values(std::string_view s, Copy copy, Value value) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t key_begin = i;
    while (i < s.size() && is_space(s[i])) ++i;
    const std::size_t name_begin = i;
    while (i < s.size() && s[i] != '=' && !is_space(s[i])) ++i;
    const std::string_view key = s.substr(name_begin, i - name_begin);
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size() || s[i] != '=') {
      copy(key_begin, i);
      continue;
    }
    ++i;
    while (i < s.size() && is_space(s[i])) ++i;
    copy(key_begin, i);
    const std::size_t value_begin = i;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      if (i < s.size()) ++i;  // closing quote
    } else {
      while (i < s.size() && !is_space(s[i])) i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
    }
    value(key, value_begin, i);
  }
}

/// host=db user=chat password='se cret' dbname=chat
std::string redact_key_values(std::string_view s) {
  std::string out;
  walk_key_values(
      s, [&](std::size_t b, std::size_t e) { out.append(s.substr(b, e - b)); },
      [&](std::string_view key, std::size_t b, std::size_t e) {
        if (key == "password") {
          out.append(mask);
        } else {
          out.append(s.substr(b, e - b));
        }
      });
  return out;
}

/// A key=value value without its quotes and escapes, as libpq reads it.
std::string unquote(std::string_view v) {
  if (!v.empty() && v.front() == '\'') {
    v.remove_prefix(1);
    if (!v.empty() && v.back() == '\'') v.remove_suffix(1);
  }
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) ++i;
    out.push_back(v[i]);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Percent-decoding that keeps a malformed escape as it is (libpq refuses those; the text
/// around them is still worth finding).
std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

/// libpq's own rule (recognized_connection_string), after normalize_conninfo: a postgres URL or
/// a key=value string rather than a bare database name.
bool is_connection_string(std::string_view conninfo) {
  return url_scheme_length(conninfo) > 0 || conninfo.find('=') != std::string_view::npos;
}

/// Each candidate raw, percent-decoded and percent-encoded; long enough to scrub; longest first.
std::vector<std::string> secret_forms(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const std::string& r : raw) {
    out.push_back(r);
    out.push_back(percent_decode(r));
    out.push_back(percent_encode(out.back()));
  }
  // Too short to scrub: replacing every "p" would garble every message, and libpq quotes a
  // password only when it cannot parse the string, which is then never shown.
  std::erase_if(out, [](const std::string& v) { return v.size() < min_secret_length; });
  // Longest first, so that a secret containing another is replaced whole.
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

namespace postgres_detail {

libpq_parameters::libpq_parameters(const config::postgres_address& address,
                                   const std::vector<std::pair<std::string, std::string>>& defaults) {
  const auto add = [&](const std::string& keyword, const std::string& value) {
    keywords_.push_back(keyword);
    values_.push_back(value);
  };
  for (const auto& [keyword, value] : defaults) add(keyword, value);
  // An empty field is left out, so that libpq falls back to PGHOST, PGUSER... as it would for
  // a connection string that does not name it.
  const std::pair<const char*, const std::string*> fields[] = {{"host", &address.host},
                                                                {"port", &address.port},
                                                                {"user", &address.user},
                                                                {"password", &address.password},
                                                                {"dbname", &address.dbname}};
  for (const auto& [keyword, value] : fields) {
    if (!value->empty()) add(keyword, *value);
  }
  for (const auto& [keyword, value] : address.options) add(keyword, value);
  for (std::size_t i = 0; i < keywords_.size(); ++i) {
    keyword_pointers_.push_back(keywords_[i].c_str());
    value_pointers_.push_back(values_[i].c_str());
  }
  keyword_pointers_.push_back(nullptr);
  value_pointers_.push_back(nullptr);
}

std::vector<std::string> address_secrets(const config::postgres_address& address) {
  std::vector<std::string> raw{address.password};
  for (const auto& [keyword, value] : address.options) {
    if (keyword == "sslpassword") raw.push_back(value);
  }
  if (const char* env = std::getenv("PGPASSWORD"); env != nullptr) raw.emplace_back(env);
  return secret_forms(raw);
}

result<config::postgres_address> parse_conninfo(std::string_view conninfo, std::string_view action) {
  try {
    return config::parse_postgres_address(conninfo);
  } catch (const config::address_error& e) {
    return make_error(errc::unavailable, "cannot " + std::string(action) + " PostgreSQL database " +
                                             redact_conninfo(conninfo) + ": malformed connection string (it " +
                                             e.what() + ")");
  }
}

std::string normalize_conninfo(std::string conninfo) {
  const std::size_t n = url_scheme_length(conninfo);
  for (std::size_t i = 0; i < n; ++i) {
    conninfo[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(conninfo[i])));
  }
  return conninfo;
}

std::vector<std::string> conninfo_secrets(std::string_view conninfo) {
  std::vector<std::string> raw;
  const std::string s = normalize_conninfo(std::string(conninfo));
  if (is_connection_string(s)) {
    char* message = nullptr;
    if (PQconninfoOption* options = PQconninfoParse(s.c_str(), &message)) {
      for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        if (std::string_view(o->keyword) == "password" && o->val != nullptr) raw.emplace_back(o->val);
      }
      PQconninfoFree(options);
    }
    if (message) PQfreemem(message);
  }
  if (const std::size_t scheme = url_scheme_length(s); scheme > 0) {
    // The user info ends at an '@', but which one is ambiguous when the password holds an
    // unencoded '@', '/', '?' or '#' (libpq takes the first '@' before a '/'): every
    // reading's password is a candidate.
    const std::string_view rest = std::string_view(s).substr(scheme);
    for (std::size_t at = rest.find('@'); at != std::string_view::npos; at = rest.find('@', at + 1)) {
      const std::string_view userinfo = rest.substr(0, at);
      if (const std::size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
        raw.emplace_back(userinfo.substr(colon + 1));
      }
    }
    for (std::size_t p = rest.find("password="); p != std::string_view::npos; p = rest.find("password=", p + 1)) {
      if (p > 0 && rest[p - 1] != '?' && rest[p - 1] != '&') continue;
      const std::size_t begin = p + 9;
      raw.emplace_back(rest.substr(begin, std::min(rest.find_first_of("&#", begin), rest.size()) - begin));
    }
  } else {
    walk_key_values(
        s, [](std::size_t, std::size_t) {},
        [&](std::string_view key, std::size_t b, std::size_t e) {
          if (key == "password") {
            raw.emplace_back(s.substr(b, e - b));
            raw.push_back(unquote(std::string_view(s).substr(b, e - b)));
          }
        });
  }
  // libpq's fallback when the string names none.
  if (const char* env = std::getenv("PGPASSWORD"); env != nullptr) raw.emplace_back(env);

  return secret_forms(raw);
}

std::string scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (std::size_t p = text.find(secret); p != std::string::npos; p = text.find(secret, p + mask.size())) {
      text.replace(p, secret.size(), mask);
    }
  }
  return text;
}

}  // namespace postgres_detail

std::string redact_conninfo(std::string_view url) {
  const std::size_t scheme = url_scheme_length(url);
  std::string out = scheme > 0 ? redact_url(url, scheme) : redact_key_values(url);
  // The structural masking above follows the usual syntax; a password with unencoded
  // delimiters can escape it, the scrub cannot.
  return postgres_detail::scrub(std::move(out), postgres_detail::conninfo_secrets(url));
}

}  // namespace chatrix::storage
