#include "http/bearer.hpp"

#include <algorithm>
#include <string_view>

namespace chatrix::http {

result<std::string> bearer_token(const request& req) {
  constexpr std::string_view scheme = "bearer ";
  std::string_view h = req.authorization;
  const bool is_bearer = h.size() > scheme.size() && std::equal(scheme.begin(), scheme.end(), h.begin(), [](char a, char b) {
                           return a == (b >= 'A' && b <= 'Z' ? char(b - 'A' + 'a') : b);
                         });
  if (!is_bearer) return make_error(errc::unauthorized, "this route needs an Authorization: Bearer <token> header");
  h.remove_prefix(scheme.size());
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (h.empty()) return make_error(errc::unauthorized, "this route needs an Authorization: Bearer <token> header");
  return std::string(h);
}

boost::asio::awaitable<result<user>> bearer_user(chat::account_service& accounts, const request& req) {
  auto token = bearer_token(req);
  if (!token) co_return token.error();
  co_return co_await accounts.bearer_user(std::move(*token));
}

response bearer_refused(const error& err) {
  auto res = error_response(err);
  if (err.code == errc::unauthorized) res.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"chatrix\"");
  return res;
}

}  // namespace chatrix::http
