// Argon2id password hashing on libsodium's crypto_pwhash_str (encoded hash carries salt and cost,
// so a cost change only affects new hashes; old ones still verify).
#include "auth/password.hpp"

#include "auth/sodium.hpp"

#include <sodium.h>

#include <stdexcept>

namespace chatrix::auth {

argon2_cost argon2_cost::interactive() {
  return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
}

argon2_cost argon2_cost::moderate() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MODERATE, crypto_pwhash_argon2id_MEMLIMIT_MODERATE};
}

argon2_cost argon2_cost::minimal() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN};
}

result<argon2_cost> argon2_cost::from_name(std::string_view name) {
  if (name == "interactive") return interactive();
  if (name == "moderate") return moderate();
  if (name == "min") return minimal();
  return make_error(errc::invalid_field,
                    "unknown Argon2 profile '" + std::string(name) + "' (interactive, moderate or min)");
}

password_hasher::password_hasher(argon2_cost cost) : cost_(cost) {
  ensure_sodium();
  // Reject a cost libsodium would refuse now, at startup, instead of at the first registration.
  if (cost_.ops_limit < crypto_pwhash_argon2id_OPSLIMIT_MIN || cost_.ops_limit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
      cost_.mem_limit < crypto_pwhash_argon2id_MEMLIMIT_MIN || cost_.mem_limit > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
    throw std::invalid_argument("password_hasher: Argon2id cost out of libsodium's range");
  }
}

result<std::string> password_hasher::hash(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  // The _alg variant pins Argon2id instead of relying on libsodium's current default.
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), cost_.ops_limit, cost_.mem_limit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    // The only documented failure is running out of memory.
    return make_error(errc::internal, "password hashing failed (out of memory)");
  }
  return std::string(out);
}

bool password_hasher::verify(std::string_view encoded, std::string_view password) const {
  // libsodium reads `encoded` as a C string; the copy adds the terminator and cuts at any NUL.
  if (encoded.empty() || encoded.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string terminated(encoded);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

}  // namespace chatrix::auth
