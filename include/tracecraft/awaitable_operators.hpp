// TraceCraft C++ — `a && b` and `a || b` for traced coroutines.
//
//   using namespace tracecraft::awaitable_operators;
//   auto [docs, answer] = co_await (retrieve(q) && call_llm(q));   // both, concurrently
//   auto first = co_await (call_llm(q) || timeout(5s));            // the first; the other is cancelled
//
// Use these instead of boost::asio::experimental::awaitable_operators in traced code. Asio's
// operators co_spawn both operands on the current coroutine's executor, so the two share one
// trace context: spans of one operand become children of the other's, and scopes close out of
// order (counted in runtime_stats::spans_out_of_order). These operators are when_all / when_any:
// each operand runs in its own fork of the context, a child of the caller's current span.
//
// Differences from Asio's operators: `&&` waits for both operands even when one throws (then
// rethrows the first exception, in operand order), and results are not flattened: `a && b`
// gives std::tuple<A, B> (void becomes std::monostate), `a && b && c` gives
// std::tuple<std::tuple<A, B>, C>. `||` gives std::variant<A, B> (void becomes std::monostate)
// and cancels the loser; its span records the cancellation, not an error.
#pragma once

#include <tuple>
#include <utility>
#include <variant>

#include <boost/asio/awaitable.hpp>

#include "tracecraft/async.hpp"

namespace tracecraft::awaitable_operators {

template <class T, class U>
boost::asio::awaitable<std::tuple<detail::value_t<T>, detail::value_t<U>>> operator&&(boost::asio::awaitable<T> a,
                                                                                        boost::asio::awaitable<U> b) {
    return when_all(std::move(a), std::move(b));
}

template <class T, class U>
boost::asio::awaitable<std::variant<detail::value_t<T>, detail::value_t<U>>> operator||(boost::asio::awaitable<T> a,
                                                                                          boost::asio::awaitable<U> b) {
    auto r = co_await when_any(std::move(a), std::move(b));
    co_return std::move(r.value);
}

} // namespace tracecraft::awaitable_operators
