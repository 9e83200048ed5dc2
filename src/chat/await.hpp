// Bridges the store's callback API into coroutines: the callback may run on any thread; the
// awaiting coroutine always resumes on its own executor.
#pragma once

#include "core/error.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>

namespace chatrix::chat {

namespace asio = boost::asio;

/// co_await await_callback<T>([&](std::function<void(result<T>)> done) { store.op(..., done); })
///
/// g++ 12 pitfall: a prvalue aggregate or lambda with non-trivial members (a std::string, a
/// shared_ptr) passed by value to a coroutine inside a co_await expression is destroyed twice.
/// Pass such arguments as named locals (std::move(x)); `start` lambdas here capture by
/// reference only, which is safe.
template <class T, class Start>
asio::awaitable<result<T>> await_callback(Start start) {
  auto ex = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(result<T>)>(
      [ex, &start](auto handler) mutable {
        // std::function needs a copyable callable; the coroutine handler is move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start(std::function<void(result<T>)>([ex, shared](result<T> r) mutable {
          asio::post(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
        }));
      },
      asio::use_awaitable);
}

}  // namespace chatrix::chat
