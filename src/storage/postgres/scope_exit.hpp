// Runs a function when the scope ends, however it ends (a co_return, an exception).
#pragma once

namespace chatrix::storage::postgres_detail {

template <class F>
struct scope_exit {
  F f;
  ~scope_exit() { f(); }
};
template <class F>
scope_exit(F) -> scope_exit<F>;

}  // namespace chatrix::storage::postgres_detail
