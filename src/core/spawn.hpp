// Starting a coroutine whose failure is not lost: co_spawn with `detached` drops an exception
// without a trace, and whatever cleanup the coroutine owed (a session detaching from the chat
// service, a shutdown calling back) never happens.
#pragma once

#include <boost/asio/co_spawn.hpp>

#include <exception>
#include <utility>

namespace chatrix {

/// Logs (spdlog, level error) that the coroutine `name` ended with `failure`, with its message.
void log_coroutine_failure(const char* name, std::exception_ptr failure) noexcept;

/// co_spawn(executor, work, ...) where an exception leaving `work` is logged under `name` and
/// then `on_error()` runs (on `executor`) to undo what the coroutine would have undone; when
/// `work` returns normally nothing else happens. `work` is an awaitable or a callable
/// returning one, as co_spawn takes them. `name` must outlive the coroutine (a literal).
///
/// `on_error` is a template parameter rather than a std::function: session readers are spawned
/// on every wake-up, and a std::function holding a shared_ptr would allocate each time.
template <class Executor, class Work, class OnError>
void spawn_logged(Executor&& executor, Work&& work, const char* name, OnError on_error) {
  boost::asio::co_spawn(std::forward<Executor>(executor), std::forward<Work>(work),
                        [name, on_error = std::move(on_error)](std::exception_ptr failure) mutable {
                          if (!failure) return;
                          log_coroutine_failure(name, failure);
                          on_error();
                        });
}

/// The same for a coroutine that leaves nothing to undo: its failure is only logged.
template <class Executor, class Work>
void spawn_logged(Executor&& executor, Work&& work, const char* name) {
  spawn_logged(std::forward<Executor>(executor), std::forward<Work>(work), name, [] {});
}

}  // namespace chatrix
