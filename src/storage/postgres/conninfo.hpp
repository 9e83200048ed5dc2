// What libpq is given and what is scrubbed from its messages: keyword/value arrays built from
// the parsed address (config::postgres_address), the forms its password may take, and, for a
// connection string that could not be parsed, the passwords found in its text.
#pragma once

#include "config/address.hpp"
#include "core/error.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatrix::storage::postgres_detail {

/// The keyword and value arrays of PQconnectStartParams, null-terminated, for use with
/// expand_dbname = 0 (no value is read as a connection string again): `defaults` first, then
/// every field `address` sets, so that the address overrides a default.
class libpq_parameters {
 public:
  libpq_parameters(const config::postgres_address& address,
                   const std::vector<std::pair<std::string, std::string>>& defaults);
  const char* const* keywords() const noexcept { return keyword_pointers_.data(); }
  const char* const* values() const noexcept { return value_pointers_.data(); }

 private:
  std::vector<std::string> keywords_, values_;
  std::vector<const char*> keyword_pointers_, value_pointers_;
};

/// The strings that may be `address`'s passwords in a message (password and sslpassword, raw
/// and percent-encoded, and PGPASSWORD, libpq's fallback), for scrub().
std::vector<std::string> address_secrets(const config::postgres_address& address);

/// `conninfo` (a postgres URL or a libpq key=value string) parsed by
/// config::parse_postgres_address; when it is malformed, errc::unavailable "cannot `action`
/// PostgreSQL database <redacted>: malformed connection string (why)", without the password.
result<config::postgres_address> parse_conninfo(std::string_view conninfo, std::string_view action);

/// `conninfo` with a postgres:// or postgresql:// scheme in lower case: libpq recognises the
/// scheme case-sensitively and would take "POSTGRES://u:pw@h/db" for a database name (and
/// quote it, password included, in its error), while URL schemes are case-insensitive.
std::string normalize_conninfo(std::string conninfo);

/// Every string that may be the password of `conninfo`: what libpq parses out of it, the
/// user-info password of a URL (also when libpq cannot parse it, under each reading of an
/// unencoded '@'), a ?password= parameter, a password= key, and PGPASSWORD; each raw,
/// percent-decoded and percent-encoded. Strings under 3 characters are left out.
std::vector<std::string> conninfo_secrets(std::string_view conninfo);

/// `text` with every occurrence of each secret replaced by "***" (longest secrets first).
std::string scrub(std::string text, const std::vector<std::string>& secrets);

}  // namespace chatrix::storage::postgres_detail
