// Redis commands as awaitable operations, for the bus's coroutines: one command, or a
// pipeline of several written together and awaited as one.
#pragma once

#include "cluster/redis/redis_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chatrix::cluster::redis {

/// How the bus's coroutines await Redis and timers: the error as a value, never thrown.
inline constexpr auto as_result = boost::asio::as_tuple(boost::asio::use_awaitable);

using command_args = std::vector<std::string>;

/// Completes with the reply (or the link's error). If the connection is closed first it
/// never completes: close() drops the callback, and with it the awaiting coroutine.
template <class CompletionToken>
auto async_command(redis_connection& conn, command_args args, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, reply)>(
      [&conn](auto handler, command_args cmd) {
        // redis_connection keeps std::function callbacks, which must be copyable.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        std::vector<std::string_view> view(cmd.begin(), cmd.end());
        conn.send(view, [shared](boost::system::error_code ec, reply r) { (*shared)(ec, std::move(r)); });
      },
      token, std::move(args));
}

/// Sends every command in one write and completes once the last reply is in (replies come
/// in order) with all of them; the error is set if any command got no reply or an error
/// reply. `commands` must not be empty. Same closing rule as async_command.
template <class CompletionToken>
auto async_pipeline(redis_connection& conn, std::vector<command_args> commands, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, std::vector<reply>)>(
      [&conn](auto handler, std::vector<command_args> cmds) {
        struct state {
          decltype(handler) done;
          std::vector<reply> replies;
          boost::system::error_code ec;
        };
        auto s = std::make_shared<state>(state{std::move(handler), std::vector<reply>(cmds.size()), {}});
        for (std::size_t i = 0; i < cmds.size(); ++i) {
          std::vector<std::string_view> view(cmds[i].begin(), cmds[i].end());
          const bool last = i + 1 == cmds.size();
          conn.send(view, [s, i, last](boost::system::error_code ec, reply r) {
            if (ec) s->ec = ec;
            else if (r.is_error()) s->ec = boost::asio::error::fault;
            else s->replies[i] = std::move(r);
            if (last) std::move(s->done)(s->ec, std::move(s->replies));
          });
        }
      },
      token, std::move(commands));
}

}  // namespace chatrix::cluster::redis
