#include "auth/random_id.hpp"

#include "auth/sodium.hpp"

#include <sodium.h>

#include <array>

namespace chatrix::auth {

std::string random_id() {
  ensure_sodium();
  std::array<unsigned char, 16> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  // sodium_bin2hex writes a terminating NUL too.
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

}  // namespace chatrix::auth
