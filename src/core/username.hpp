// The one case-folding rule for usernames, shared by the domain and every store: usernames
// are ASCII, unique without regard to case, and looked up by this folded form.
#pragma once

#include <string>
#include <string_view>

namespace chatrix {

/// ASCII lower-case; any other byte is left alone.
inline std::string fold_username(std::string_view username) {
  std::string folded(username);
  for (char& c : folded)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return folded;
}

}  // namespace chatrix
