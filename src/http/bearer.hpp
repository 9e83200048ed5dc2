// Bearer tokens on HTTP routes (RFC 6750): the token of the Authorization header, and the
// user it stands for. Only the header is read: a token in the URL would end up in proxy and
// access logs.
#pragma once

#include "chat/account_service.hpp"
#include "core/error.hpp"
#include "http/router.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace chatrix::http {

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive);
/// errc::unauthorized when there is none.
result<std::string> bearer_token(const request& req);

/// The user whose valid, unrevoked token the request carries; errc::unauthorized otherwise.
boost::asio::awaitable<result<user>> bearer_user(chat::account_service& accounts, const request& req);

/// The answer to a refused request: 401 for a missing or refused token, with the challenge
/// RFC 6750 §3 asks for, or the error's own status.
response bearer_refused(const error& err);

}  // namespace chatrix::http
