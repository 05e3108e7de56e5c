// TraceCraft C++ — the context-carrying executor.
//
// tracecraft::executor<Inner> wraps any Asio executor and carries a counted pointer to one
// agent's task context. Every function it executes runs with that context installed in a
// thread_local slot (and the previous value restored afterwards), so a coroutine spawned on it
// sees its own current span after every co_await — across timers, sockets, channels, strands
// and threads — and never another coroutine's. Modelled on asio::strand's forwarding of
// query/require/prefer. Size: 8 bytes more than Inner; executor<io_context::executor_type> is
// 16 bytes and fits any_io_executor's small buffer.
//
// Usually you do not name this type: tracecraft::spawn(ex, awaitable, token) and
// tracecraft::make_executor(ex) create it for you.
#pragma once

#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>

#include "tracecraft/detail/task_context.hpp"

namespace tracecraft {

class runtime;

namespace detail {

/// The function object an executor hands to its inner executor: installs the context.
template <class F>
class context_function {
public:
    context_function(task_context* c, F&& f) : ctx_(c), f_(std::move(f)) { ctx_add_ref(ctx_); }
    context_function(task_context* c, const F& f) : ctx_(c), f_(f) { ctx_add_ref(ctx_); }
    context_function(context_function&& o) noexcept(std::is_nothrow_move_constructible_v<F>)
        : ctx_(std::exchange(o.ctx_, nullptr)), f_(std::move(o.f_)) {}
    context_function(const context_function& o) requires std::is_copy_constructible_v<F>
        : ctx_(o.ctx_), f_(o.f_) { ctx_add_ref(ctx_); }
    context_function& operator=(const context_function&) = delete;
    context_function& operator=(context_function&&) = delete;
    ~context_function() { ctx_release(ctx_); }

    void operator()() {
        context_guard g(ctx_);
        std::move(f_)();
    }

private:
    task_context* ctx_;
    F f_;
};

struct adopt_context_t {};
inline constexpr adopt_context_t adopt_context{};

} // namespace detail

template <class Inner>
class executor {
public:
    using inner_executor_type = Inner;

    /// Wraps `inner` with a fresh root context (no current span; spans start new traces).
    explicit executor(const Inner& inner) : inner_(inner), ctx_(detail::ctx_create(nullptr)) {}
    /// Takes over one reference to `ctx` (library use).
    executor(const Inner& inner, detail::task_context* ctx, detail::adopt_context_t) noexcept
        : inner_(inner), ctx_(ctx) {}
    /// Shares `ctx` (adds a reference).
    executor(const Inner& inner, detail::task_context* ctx) noexcept : inner_(inner), ctx_(ctx) {
        detail::ctx_add_ref(ctx_);
    }

    executor(const executor& o) noexcept : inner_(o.inner_), ctx_(o.ctx_) { detail::ctx_add_ref(ctx_); }
    executor(executor&& o) noexcept : inner_(std::move(o.inner_)), ctx_(std::exchange(o.ctx_, nullptr)) {}
    executor& operator=(const executor& o) noexcept {
        if (this != &o) {
            detail::ctx_add_ref(o.ctx_);
            detail::ctx_release(ctx_);
            inner_ = o.inner_;
            ctx_ = o.ctx_;
        }
        return *this;
    }
    executor& operator=(executor&& o) noexcept {
        if (this != &o) {
            detail::ctx_release(ctx_);
            inner_ = std::move(o.inner_);
            ctx_ = std::exchange(o.ctx_, nullptr);
        }
        return *this;
    }
    ~executor() { detail::ctx_release(ctx_); }

    [[nodiscard]] const Inner& get_inner_executor() const noexcept { return inner_; }
    [[nodiscard]] detail::task_context* context() const noexcept { return ctx_; }

    template <class F>
    void execute(F&& f) const {
        inner_.execute(detail::context_function<std::decay_t<F>>(ctx_, std::forward<F>(f)));
    }

    template <class Property>
        requires boost::asio::can_query<const Inner&, Property>::value
    auto query(const Property& p) const
        noexcept(boost::asio::is_nothrow_query<const Inner&, Property>::value)
            -> typename boost::asio::query_result<const Inner&, Property>::type {
        return boost::asio::query(inner_, p);
    }

    template <class Property>
        requires boost::asio::can_require<const Inner&, Property>::value
    auto require(const Property& p) const
        -> executor<std::decay_t<typename boost::asio::require_result<const Inner&, Property>::type>> {
        return {boost::asio::require(inner_, p), ctx_};
    }

    template <class Property>
        requires boost::asio::can_prefer<const Inner&, Property>::value
    auto prefer(const Property& p) const
        -> executor<std::decay_t<typename boost::asio::prefer_result<const Inner&, Property>::type>> {
        return {boost::asio::prefer(inner_, p), ctx_};
    }

    /// Equal only when both the inner executor and the context are the same, so that no
    /// equality-based shortcut (e.g. symmetric transfer in experimental::coro) merges agents.
    friend bool operator==(const executor& a, const executor& b) noexcept {
        return a.ctx_ == b.ctx_ && a.inner_ == b.inner_;
    }
    friend bool operator!=(const executor& a, const executor& b) noexcept { return !(a == b); }

private:
    template <class>
    friend class executor;
    Inner inner_;
    detail::task_context* ctx_;
};

namespace detail {

/// Type-erased inner executor for tracecraft::executor. (executor<any_io_executor> itself is
/// not usable: ADL would find any_io_executor's operator== and make is_executor recursive.)
class any_inner {
public:
    explicit any_inner(boost::asio::any_io_executor e) noexcept : e_(std::move(e)) {}

    template <class F>
    void execute(F&& f) const {
        e_.execute(std::forward<F>(f));
    }
    template <class Property>
        requires boost::asio::can_query<const boost::asio::any_io_executor&, Property>::value
    decltype(auto) query(const Property& p) const {
        return boost::asio::query(e_, p);
    }
    template <class Property>
        requires boost::asio::can_require<const boost::asio::any_io_executor&, Property>::value
    any_inner require(const Property& p) const {
        return any_inner(boost::asio::require(e_, p));
    }
    template <class Property>
        requires boost::asio::can_prefer<const boost::asio::any_io_executor&, Property>::value
    any_inner prefer(const Property& p) const {
        return any_inner(boost::asio::prefer(e_, p));
    }
    friend bool operator==(const any_inner& a, const any_inner& b) noexcept { return a.e_ == b.e_; }
    friend bool operator!=(const any_inner& a, const any_inner& b) noexcept { return !(a == b); }
    [[nodiscard]] const boost::asio::any_io_executor& get() const noexcept { return e_; }

private:
    boost::asio::any_io_executor e_;
};

} // namespace detail

template <class T>
struct is_executor_wrapper : std::false_type {};
template <class I>
struct is_executor_wrapper<executor<I>> : std::true_type {};

namespace detail {

/// Rebinds any executor to context `c` (takes over one reference to `c`).
/// Known inner types (io_context, strands, thread_pool) are unwrapped from any_io_executor so
/// the result stays a single wrapper.
boost::asio::any_io_executor rebind_any(const boost::asio::any_io_executor& ex, task_context* c);

inline executor<boost::asio::io_context::executor_type> rebind(boost::asio::io_context& ioc, task_context* c) {
    return {ioc.get_executor(), c, adopt_context};
}
template <class I>
executor<I> rebind(const executor<I>& ex, task_context* c) {
    return {ex.get_inner_executor(), c, adopt_context};
}
inline boost::asio::any_io_executor rebind(const boost::asio::any_io_executor& ex, task_context* c) {
    return rebind_any(ex, c);
}
template <class Ex>
    requires(!is_executor_wrapper<Ex>::value && !std::is_same_v<Ex, boost::asio::any_io_executor> &&
             boost::asio::execution::is_executor<Ex>::value)
executor<Ex> rebind(const Ex& ex, task_context* c) {
    return {ex, c, adopt_context};
}

runtime_core* runtime_core_of(runtime* rt) noexcept;

} // namespace detail

/// Wraps `ex` (an executor or an io_context) with a new root context. Spans started by
/// coroutines on it start new traces (or continue an extracted remote parent). If `rt` is
/// given, spans go to that runtime; otherwise to the default runtime set by tracecraft::init.
template <class ExOrCtx>
auto make_executor(ExOrCtx& ex, runtime* rt = nullptr) {
    return detail::rebind(ex, detail::ctx_create(detail::runtime_core_of(rt)));
}
template <class ExOrCtx>
auto make_executor(const ExOrCtx& ex, runtime* rt = nullptr) {
    return detail::rebind(ex, detail::ctx_create(detail::runtime_core_of(rt)));
}

/// Wraps `ex` for library-internal work: nothing started under it is ever recorded.
template <class Ex>
auto suppressed(const Ex& ex) {
    detail::task_context* c = detail::ctx_suppressed();
    detail::ctx_add_ref(c);
    return detail::rebind(ex, c);
}

} // namespace tracecraft
