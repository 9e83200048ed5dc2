// Connection strings as the store handles them before and after libpq sees them: the scheme
// normalised, the passwords they carry found, and those passwords scrubbed from any text
// (libpq quotes parts of a connection string it cannot use in its error messages).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace chatrix::storage::postgres_detail {

/// `conninfo` with a postgres:// or postgresql:// scheme in lower case: libpq recognises the
/// scheme case-sensitively and would take "POSTGRES://u:pw@h/db" for a database name (and
/// quote it, password included, in its error), while URL schemes are case-insensitive.
std::string normalize_conninfo(std::string conninfo);

/// Whether libpq will treat `conninfo` as a connection string (a postgres URL or key=value
/// string) rather than as a bare database name.
bool is_connection_string(std::string_view conninfo);

/// Whether libpq can parse `conninfo` (a bare database name always can) and will read the
/// password as written: a URL with an unencoded '@' in its password counts as malformed.
/// When it cannot, libpq's own message may quote the offending token, the password included.
bool conninfo_parses(std::string_view conninfo);

/// Every string that may be the password of `conninfo`: what libpq parses out of it, the
/// user-info password of a URL (also when libpq cannot parse it, under each reading of an
/// unencoded '@'), a ?password= parameter, a password= key, and PGPASSWORD; each raw,
/// percent-decoded and percent-encoded. Strings under 3 characters are left out.
std::vector<std::string> conninfo_secrets(std::string_view conninfo);

/// `text` with every occurrence of each secret replaced by "***" (longest secrets first).
std::string scrub(std::string text, const std::vector<std::string>& secrets);

}  // namespace chatrix::storage::postgres_detail
