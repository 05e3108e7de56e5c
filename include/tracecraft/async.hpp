// TraceCraft C++ — traced coroutines and context-forking concurrency.
//
// The Python SDK's gather_with_context, done right: every concurrent child gets its *own*
// context whose parent is the caller's current span, captured by value. Children never see
// each other's spans, and the caller's current span is unchanged afterwards.
//
//   co_await tracecraft::traced("llm.chat", span_kind::llm, call_llm(prompt));
//   auto [docs, answer] = co_await tracecraft::when_all(retrieve(q), call_tool(q));
//   tracecraft::spawn(ex, background_job(), boost::asio::detached);        // child of current
//   tracecraft::spawn_linked(ex, cleanup(), boost::asio::detached);        // new trace + link
//   timer.async_wait(tracecraft::bind_context(callback));                  // plain callbacks
//
// Do not use asio::co_spawn with the current coroutine's executor, or Asio's
// experimental::awaitable_operators, for concurrent traced work: they share one context
// between agents (spans_out_of_order counts it; docs/context.md §4). tracecraft::spawn,
// when_all, when_any and tracecraft::awaitable_operators fork it instead.
//
// GCC 12 rule (GCC PR 100611, docs/context.md §7): no capturing lambdas and no braced temporaries inside a
// co_await expression — build them as named locals first.
#pragma once

#include <array>
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/associator.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tracecraft/executor.hpp"
#include "tracecraft/span.hpp"

namespace tracecraft {

namespace detail {

template <class T>
struct value_of { using type = T; };
template <>
struct value_of<void> { using type = std::monostate; };
template <class T>
using value_t = typename value_of<T>::type;

/// True when an agent's cancellation state has been signalled (by when_any, a parallel group,
/// bind_cancellation_slot, a cancelled co_spawn ...): whatever exception then ends the agent's
/// spans, they were cancelled, not failed. Read it with
/// `co_await boost::asio::this_coro::cancellation_state` — never through a nested awaitable:
/// once cancelled, co_await of an awaitable throws operation_aborted.
inline bool was_cancelled(const boost::asio::cancellation_state& cs) noexcept {
    return cs.cancelled() != boost::asio::cancellation_type::none;
}

/// Attributes `failure` to the spans the agent unwound through (a cancellation when `cs` says
/// the agent was cancelled), then rethrows it unchanged.
[[noreturn]] inline void rethrow_attributed(std::exception_ptr failure, const boost::asio::cancellation_state& cs) {
    attribute_exception(current_context(), failure, was_cancelled(cs));
    std::rethrow_exception(failure);
}

/// Runs a concurrent child: void becomes monostate, and an escaping exception is attributed to
/// the child's spans it unwound through (type/message, or cancellation) before propagating.
template <class T, class Ex>
boost::asio::awaitable<value_t<T>, Ex> as_value(boost::asio::awaitable<T, Ex> aw) {
    std::exception_ptr failure;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(aw);
            co_return std::monostate{};
        } else {
            co_return co_await std::move(aw);
        }
    } catch (...) {
        failure = std::current_exception();
    }
    const boost::asio::cancellation_state cs = co_await boost::asio::this_coro::cancellation_state;
    rethrow_attributed(failure, cs);
}

/// The same for spawned agents, keeping the result type.
template <class T, class Ex>
boost::asio::awaitable<T, Ex> attributed(boost::asio::awaitable<T, Ex> aw) {
    std::exception_ptr failure;
    try {
        co_return co_await std::move(aw);
    } catch (...) {
        failure = std::current_exception();
    }
    const boost::asio::cancellation_state cs = co_await boost::asio::this_coro::cancellation_state;
    rethrow_attributed(failure, cs);
}

/// Executor for a concurrent child: same inner executor, forked context.
inline boost::asio::any_io_executor fork_executor(const boost::asio::any_io_executor& ex,
                                                  const task_context* parent) {
    return rebind_any(ex, ctx_fork(parent));
}

/// One deferred co_spawn per awaitable, each on a fork of the caller's current context.
template <class T>
auto forked_ops(std::vector<boost::asio::awaitable<T>>& aws, const boost::asio::any_io_executor& ex) {
    const task_context* parent = current_context();
    using op_type = decltype(boost::asio::co_spawn(ex, as_value(std::move(aws.front())), boost::asio::deferred));
    std::vector<op_type> ops;
    ops.reserve(aws.size());
    for (auto& aw : aws)
        ops.push_back(boost::asio::co_spawn(fork_executor(ex, parent), as_value(std::move(aw)), boost::asio::deferred));
    return ops;
}

template <class... V, class R, std::size_t... I>
std::tuple<V...> collect_all(R& r, std::index_sequence<I...>) {
    // r = (completion order, e0, v0, e1, v1, ...)
    const std::exception_ptr errors[] = {std::get<1 + 2 * I>(r)...};
    for (const auto& e : errors)
        if (e) std::rethrow_exception(e);
    return std::tuple<V...>(std::move(std::get<2 + 2 * I>(r))...);
}

template <class Variant, class R, std::size_t... I>
Variant pick_winner(R& r, std::size_t winner, std::index_sequence<I...>) {
    const std::exception_ptr errors[] = {std::get<1 + 2 * I>(r)...};
    if (errors[winner]) std::rethrow_exception(errors[winner]);
    Variant out;
    ((winner == I ? (void)out.template emplace<I>(std::move(std::get<2 + 2 * I>(r))) : (void)0), ...);
    return out;
}

} // namespace detail

/// Opens a span named `name` of kind `kind` around `aw`. An exception escaping `aw` marks the
/// span ERROR (type, message, exception event) and propagates unchanged.
template <class T, class Ex>
boost::asio::awaitable<T, Ex> traced(std::string name, span_kind kind, boost::asio::awaitable<T, Ex> aw) {
    span_scope scope(name, kind);
    std::exception_ptr failure;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(aw);
            co_return;
        } else {
            co_return co_await std::move(aw);
        }
    } catch (...) {
        failure = std::current_exception();
    }
    const boost::asio::cancellation_state cs = co_await boost::asio::this_coro::cancellation_state;
    const bool cancelled = detail::was_cancelled(cs);
    detail::attribute_exception(detail::current_context(), failure, cancelled);
    if (cancelled)
        scope.record_cancellation(failure);
    else
        scope.record_exception(failure);
    std::rethrow_exception(failure);
}

template <class T, class Ex>
boost::asio::awaitable<T, Ex> traced(std::string name, boost::asio::awaitable<T, Ex> aw) {
    return traced(std::move(name), span_kind::workflow, std::move(aw));
}

/// Runs every awaitable concurrently, each in its own forked context (child of the current
/// span), and returns their results in argument order (void becomes std::monostate). If any
/// child throws, the first exception in argument order is rethrown after all have finished.
template <class... T>
boost::asio::awaitable<std::tuple<detail::value_t<T>...>> when_all(boost::asio::awaitable<T>... aws) {
    static_assert(sizeof...(T) > 0, "when_all needs at least one awaitable");
    const boost::asio::any_io_executor ex = co_await boost::asio::this_coro::executor;
    const detail::task_context* parent = detail::current_context();
    auto group = boost::asio::experimental::make_parallel_group(boost::asio::co_spawn(
        detail::fork_executor(ex, parent), detail::as_value(std::move(aws)), boost::asio::deferred)...);
    auto condition = boost::asio::experimental::wait_for_all();
    auto results = co_await group.async_wait(condition, boost::asio::use_awaitable);
    co_return detail::collect_all<detail::value_t<T>...>(results, std::index_sequence_for<T...>{});
}

/// Result of when_any: the index of the first child to finish and its value.
template <class... V>
struct when_any_result {
    std::size_t index = 0;
    std::variant<V...> value;
};

/// Runs every awaitable concurrently in forked contexts; completes when the first finishes
/// and cancels the others (their spans record the cancellation). Rethrows the winner's
/// exception if it failed.
template <class... T>
boost::asio::awaitable<when_any_result<detail::value_t<T>...>> when_any(boost::asio::awaitable<T>... aws) {
    static_assert(sizeof...(T) > 0, "when_any needs at least one awaitable");
    const boost::asio::any_io_executor ex = co_await boost::asio::this_coro::executor;
    const detail::task_context* parent = detail::current_context();
    auto group = boost::asio::experimental::make_parallel_group(boost::asio::co_spawn(
        detail::fork_executor(ex, parent), detail::as_value(std::move(aws)), boost::asio::deferred)...);
    auto condition = boost::asio::experimental::wait_for_one();
    auto results = co_await group.async_wait(condition, boost::asio::use_awaitable);
    const std::size_t winner = std::get<0>(results)[0];
    when_any_result<detail::value_t<T>...> out;
    out.index = winner;
    out.value = detail::pick_winner<std::variant<detail::value_t<T>...>>(results, winner,
                                                                         std::index_sequence_for<T...>{});
    co_return out;
}

/// Ranged when_all: results in input order. Empty input completes at once.
template <class T>
boost::asio::awaitable<std::vector<detail::value_t<T>>> when_all(std::vector<boost::asio::awaitable<T>> aws) {
    using V = detail::value_t<T>;
    if (aws.empty()) co_return std::vector<V>{};
    const boost::asio::any_io_executor ex = co_await boost::asio::this_coro::executor;
    auto group = boost::asio::experimental::make_parallel_group(detail::forked_ops(aws, ex));
    auto condition = boost::asio::experimental::wait_for_all();
    auto results = co_await group.async_wait(condition, boost::asio::use_awaitable);
    for (const std::exception_ptr& e : std::get<1>(results))
        if (e) std::rethrow_exception(e);
    co_return std::move(std::get<2>(results));
}

/// Ranged when_any: (index, value) of the first child to finish; the others are cancelled.
template <class T>
boost::asio::awaitable<std::pair<std::size_t, detail::value_t<T>>> when_any(std::vector<boost::asio::awaitable<T>> aws) {
    if (aws.empty()) throw std::invalid_argument("tracecraft::when_any: empty range");
    const boost::asio::any_io_executor ex = co_await boost::asio::this_coro::executor;
    auto group = boost::asio::experimental::make_parallel_group(detail::forked_ops(aws, ex));
    auto condition = boost::asio::experimental::wait_for_one();
    auto results = co_await group.async_wait(condition, boost::asio::use_awaitable);
    const std::size_t winner = std::get<0>(results)[0];
    if (std::get<1>(results)[winner]) std::rethrow_exception(std::get<1>(results)[winner]);
    co_return std::pair<std::size_t, detail::value_t<T>>(winner, std::move(std::get<2>(results)[winner]));
}

/// co_spawn with a forked context: the new agent's spans are children of the caller's current
/// span (or roots when there is none). `ex` may be an io_context, any executor, or a
/// tracecraft::executor. The caller's trace stays open until the agent finishes.
template <class T, class AwEx, class Token>
auto spawn(boost::asio::io_context& ioc, boost::asio::awaitable<T, AwEx> aw, Token&& token) {
    return boost::asio::co_spawn(detail::rebind(ioc, detail::ctx_fork(detail::current_context())),
                                 detail::attributed(std::move(aw)), std::forward<Token>(token));
}
template <class Executor, class T, class AwEx, class Token>
    requires(!std::is_same_v<std::decay_t<Executor>, boost::asio::io_context>)
auto spawn(const Executor& ex, boost::asio::awaitable<T, AwEx> aw, Token&& token) {
    return boost::asio::co_spawn(detail::rebind(ex, detail::ctx_fork(detail::current_context())),
                                 detail::attributed(std::move(aw)), std::forward<Token>(token));
}

/// co_spawn as a new trace: the agent's first span is a root carrying a link to the caller's
/// current span. For fire-and-forget work that outlives the request.
template <class T, class AwEx, class Token>
auto spawn_linked(boost::asio::io_context& ioc, boost::asio::awaitable<T, AwEx> aw, Token&& token) {
    return boost::asio::co_spawn(detail::rebind(ioc, detail::ctx_fork_linked(detail::current_context())),
                                 detail::attributed(std::move(aw)), std::forward<Token>(token));
}
template <class Executor, class T, class AwEx, class Token>
    requires(!std::is_same_v<std::decay_t<Executor>, boost::asio::io_context>)
auto spawn_linked(const Executor& ex, boost::asio::awaitable<T, AwEx> aw, Token&& token) {
    return boost::asio::co_spawn(detail::rebind(ex, detail::ctx_fork_linked(detail::current_context())),
                                 detail::attributed(std::move(aw)), std::forward<Token>(token));
}

/// A callable that runs `h` with a snapshot fork of the current context installed, so spans
/// started inside are children of the span current at bind time. Forwards the handler's
/// associated executor, allocator and cancellation slot. Must not be invoked concurrently
/// with itself. The bound trace stays open until the callable is destroyed.
template <class Handler>
class context_bound {
public:
    context_bound(Handler h, detail::task_context* c) : h_(std::move(h)), ctx_(c) {}
    context_bound(context_bound&& o) noexcept(std::is_nothrow_move_constructible_v<Handler>)
        : h_(std::move(o.h_)), ctx_(std::exchange(o.ctx_, nullptr)) {}
    context_bound(const context_bound& o) requires std::is_copy_constructible_v<Handler>
        : h_(o.h_), ctx_(o.ctx_) { detail::ctx_add_ref(ctx_); }
    context_bound& operator=(const context_bound&) = delete;
    context_bound& operator=(context_bound&&) = delete;
    ~context_bound() { detail::ctx_release(ctx_); }

    template <class... Args>
    decltype(auto) operator()(Args&&... args) & {
        detail::context_guard g(ctx_);
        return h_(std::forward<Args>(args)...);
    }
    template <class... Args>
    decltype(auto) operator()(Args&&... args) && {
        detail::context_guard g(ctx_);
        return std::move(h_)(std::forward<Args>(args)...);
    }

    [[nodiscard]] const Handler& get() const noexcept { return h_; }
    [[nodiscard]] Handler& get() noexcept { return h_; }

private:
    Handler h_;
    detail::task_context* ctx_;
};

template <class Handler>
context_bound<std::decay_t<Handler>> bind_context(Handler&& h) {
    return {std::forward<Handler>(h), detail::ctx_fork(detail::current_context())};
}

} // namespace tracecraft

namespace boost::asio {
template <template <typename, typename> class Associator, typename Handler, typename DefaultCandidate>
struct associator<Associator, tracecraft::context_bound<Handler>, DefaultCandidate> {
    using type = typename Associator<Handler, DefaultCandidate>::type;
    static type get(const tracecraft::context_bound<Handler>& b) noexcept {
        return Associator<Handler, DefaultCandidate>::get(b.get());
    }
    static auto get(const tracecraft::context_bound<Handler>& b, const DefaultCandidate& c) noexcept
        -> decltype(Associator<Handler, DefaultCandidate>::get(b.get(), c)) {
        return Associator<Handler, DefaultCandidate>::get(b.get(), c);
    }
};
} // namespace boost::asio
