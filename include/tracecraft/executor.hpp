// TraceCraft C++ — the context-carrying executor.
//
// tracecraft::executor<Inner> wraps any Asio executor and carries a counted pointer to one
// agent's task context. Every function it executes runs with that context installed in a
// thread_local slot (and the previous value restored afterwards), so a coroutine spawned on it
// sees its own current span after every co_await — across timers, sockets, channels, strands
// and threads — and never another coroutine's. Modelled on asio::strand's forwarding of
// query/require/prefer. It always fits any_io_executor's small buffer (24 bytes), so wrapping
// it in any_io_executor never allocates: executor<io_context::executor_type> is the inner
// executor plus a context pointer (16 bytes); larger inner executors (strands, thread pools'
// strands, type-erased executors) are kept with the context in one shared box (8 bytes).
//
// Usually you do not name this type: tracecraft::spawn(ex, awaitable, token) and
// tracecraft::make_executor(ex) create it for you.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
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

} // namespace detail

namespace detail {

/// any_io_executor keeps an executor inline when it fits in 24 bytes (a shared_ptr and a
/// pointer); a larger one is copied to the heap on every require/prefer. executor<Inner> is
/// Inner plus a context pointer, so inner executors over 16 bytes (strands: a shared_ptr plus
/// the inner executor) keep both in a shared, reference-counted box instead, and the wrapper
/// is one pointer.
inline constexpr std::size_t any_executor_inline_size = 3 * sizeof(void*);
template <class Inner>
inline constexpr bool boxed_executor_v = sizeof(Inner) + sizeof(void*) > any_executor_inline_size;

/// The box: a count, the context (one reference), and results of require/prefer already made
/// from it. Copies of a boxed executor share the box (one atomic add, no allocation).
struct executor_box_base {
    std::atomic<std::uint32_t> refs{1};
    task_context* ctx = nullptr;            ///< one reference, released with the box
    const void* memo_key = nullptr;         ///< the property this box was derived for
    void (*destroy)(executor_box_base*) noexcept = nullptr;
    /// Boxes derived from this one by value-free properties (blocking.never, relationship.fork
    /// ...), each holding one reference: Asio asks for these on every post, and they are the
    /// same every time, so they are made once per box.
    static constexpr std::size_t memo_slots = 6;
    std::atomic<executor_box_base*> memo[memo_slots] = {};
};

inline void box_add_ref(executor_box_base* b) noexcept { b->refs.fetch_add(1, std::memory_order_relaxed); }
inline void box_release(executor_box_base* b) noexcept {
    if (b && b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) b->destroy(b);
}

template <class Inner>
struct executor_box final : executor_box_base {
    executor_box(const Inner& i, task_context* c) : inner(i) {
        ctx = c;
        destroy = &destroy_box;
    }
    Inner inner;
    static void destroy_box(executor_box_base* b) noexcept {
        for (auto& m : b->memo) box_release(m.load(std::memory_order_acquire));
        ctx_release(b->ctx);
        delete static_cast<executor_box*>(b);
    }
};

/// The properties whose require/prefer result depends on nothing but the executor it is applied
/// to, so one derived box can serve every request. (outstanding_work.tracked is not one: each
/// tracked copy must count as work only for as long as that copy lives.)
template <class P>
inline constexpr bool memoizable_property_v =
    std::is_same_v<P, boost::asio::execution::blocking_t::never_t> ||
    std::is_same_v<P, boost::asio::execution::blocking_t::possibly_t> ||
    std::is_same_v<P, boost::asio::execution::blocking_t::always_t> ||
    std::is_same_v<P, boost::asio::execution::relationship_t::fork_t> ||
    std::is_same_v<P, boost::asio::execution::relationship_t::continuation_t> ||
    std::is_same_v<P, boost::asio::execution::outstanding_work_t::untracked_t> ||
    std::is_same_v<P, boost::asio::execution::allocator_t<void>> ||
    std::is_same_v<P, boost::asio::execution::allocator_t<std::allocator<void>>>;

template <class P>
inline constexpr char property_tag = 0;

/// A box for `make()`'s executor with `from`'s context: memoised in `from` under `key` when a
/// key is given; the caller gets one reference.
template <class R, class Make>
executor_box_base* derive_box(executor_box_base* from, const void* key, task_context* ctx, Make&& make) {
    if (from && key) {
        for (auto& m : from->memo) {
            executor_box_base* v = m.load(std::memory_order_acquire);
            if (v && v->memo_key == key) {
                box_add_ref(v);
                return v;
            }
        }
    }
    ctx_add_ref(ctx);
    auto* b = new executor_box<R>(make(), ctx);
    if (!from || !key) return b;
    b->memo_key = key;
    for (auto& m : from->memo) {
        executor_box_base* expected = nullptr;
        box_add_ref(b);   // the memo's reference
        if (m.compare_exchange_strong(expected, b, std::memory_order_acq_rel, std::memory_order_acquire)) return b;
        box_release(b);   // not published here
        if (expected->memo_key == key) {   // another thread made the same one first
            box_add_ref(expected);
            box_release(b);
            return expected;
        }
    }
    return b;   // no free slot: an unshared box
}

/// Storage of executor<Inner>: the inner executor and the context inline ...
template <class Inner, bool Boxed = boxed_executor_v<Inner>>
class executor_state {
public:
    executor_state(const Inner& inner, task_context* adopted) noexcept(std::is_nothrow_copy_constructible_v<Inner>)
        : inner_(inner), ctx_(adopted) {}
    executor_state(const executor_state& o) noexcept : inner_(o.inner_), ctx_(o.ctx_) { ctx_add_ref(ctx_); }
    executor_state(executor_state&& o) noexcept : inner_(std::move(o.inner_)), ctx_(std::exchange(o.ctx_, nullptr)) {}
    executor_state& operator=(const executor_state& o) noexcept {
        if (this != &o) {
            ctx_add_ref(o.ctx_);
            ctx_release(ctx_);
            inner_ = o.inner_;
            ctx_ = o.ctx_;
        }
        return *this;
    }
    executor_state& operator=(executor_state&& o) noexcept {
        if (this != &o) {
            ctx_release(ctx_);
            inner_ = std::move(o.inner_);
            ctx_ = std::exchange(o.ctx_, nullptr);
        }
        return *this;
    }
    ~executor_state() { ctx_release(ctx_); }

    [[nodiscard]] const Inner& inner() const noexcept { return inner_; }
    [[nodiscard]] task_context* ctx() const noexcept { return ctx_; }
    [[nodiscard]] executor_box_base* box() const noexcept { return nullptr; }
    /// The state of an executor derived from this one by `make()` (same context).
    template <class R, class Make>
    static executor_state<R> derive(const executor_state& from, const void*, Make&& make) {
        if constexpr (boxed_executor_v<R>) {
            return executor_state<R>(derive_box<R>(nullptr, nullptr, from.ctx_, make));
        } else {
            ctx_add_ref(from.ctx_);
            return executor_state<R>(make(), from.ctx_);
        }
    }

private:
    Inner inner_;
    task_context* ctx_;
};

/// ... or in a shared box (large inner executors, see boxed_executor_v).
template <class Inner>
class executor_state<Inner, true> {
public:
    executor_state(const Inner& inner, task_context* adopted) : b_(new executor_box<Inner>(inner, adopted)) {}
    explicit executor_state(executor_box_base* adopted) noexcept : b_(adopted) {}
    executor_state(const executor_state& o) noexcept : b_(o.b_) { box_add_ref(b_); }
    executor_state(executor_state&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
    executor_state& operator=(const executor_state& o) noexcept {
        if (this != &o) {
            box_add_ref(o.b_);
            box_release(b_);
            b_ = o.b_;
        }
        return *this;
    }
    executor_state& operator=(executor_state&& o) noexcept {
        if (this != &o) {
            box_release(b_);
            b_ = std::exchange(o.b_, nullptr);
        }
        return *this;
    }
    ~executor_state() { box_release(b_); }

    [[nodiscard]] const Inner& inner() const noexcept { return static_cast<const executor_box<Inner>*>(b_)->inner; }
    [[nodiscard]] task_context* ctx() const noexcept { return b_ ? b_->ctx : nullptr; }
    [[nodiscard]] executor_box_base* box() const noexcept { return b_; }
    template <class R, class Make>
    static executor_state<R> derive(const executor_state& from, const void* key, Make&& make) {
        if constexpr (boxed_executor_v<R>) {
            return executor_state<R>(derive_box<R>(from.b_, key, from.ctx(), make));
        } else {
            ctx_add_ref(from.ctx());
            return executor_state<R>(make(), from.ctx());
        }
    }

private:
    executor_box_base* b_;
};

struct adopt_context_t {};
inline constexpr adopt_context_t adopt_context{};

} // namespace detail

template <class Inner>
class executor {
public:
    using inner_executor_type = Inner;

    /// Wraps `inner` with a fresh root context (no current span; spans start new traces).
    explicit executor(const Inner& inner) : s_(inner, detail::ctx_create(nullptr)) {}
    /// Takes over one reference to `ctx` (library use).
    executor(const Inner& inner, detail::task_context* ctx, detail::adopt_context_t) : s_(inner, ctx) {}
    /// Shares `ctx` (adds a reference).
    executor(const Inner& inner, detail::task_context* ctx) : s_(inner, (detail::ctx_add_ref(ctx), ctx)) {}

    [[nodiscard]] const Inner& get_inner_executor() const noexcept { return s_.inner(); }
    [[nodiscard]] detail::task_context* context() const noexcept { return s_.ctx(); }

    template <class F>
    void execute(F&& f) const {
        s_.inner().execute(detail::context_function<std::decay_t<F>>(s_.ctx(), std::forward<F>(f)));
    }

    template <class Property>
        requires boost::asio::can_query<const Inner&, Property>::value
    auto query(const Property& p) const
        noexcept(boost::asio::is_nothrow_query<const Inner&, Property>::value)
            -> typename boost::asio::query_result<const Inner&, Property>::type {
        return boost::asio::query(s_.inner(), p);
    }

    template <class Property>
        requires boost::asio::can_require<const Inner&, Property>::value
    auto require(const Property& p) const
        -> executor<std::decay_t<typename boost::asio::require_result<const Inner&, Property>::type>> {
        using R = std::decay_t<typename boost::asio::require_result<const Inner&, Property>::type>;
        const Inner& in = s_.inner();
        return executor<R>(decltype(s_)::template derive<R>(s_, key_of<Property>(),
                                                             [&in, &p] { return R(boost::asio::require(in, p)); }));
    }

    template <class Property>
        requires boost::asio::can_prefer<const Inner&, Property>::value
    auto prefer(const Property& p) const
        -> executor<std::decay_t<typename boost::asio::prefer_result<const Inner&, Property>::type>> {
        using R = std::decay_t<typename boost::asio::prefer_result<const Inner&, Property>::type>;
        const Inner& in = s_.inner();
        return executor<R>(decltype(s_)::template derive<R>(s_, key_of<Property>(),
                                                             [&in, &p] { return R(boost::asio::prefer(in, p)); }));
    }

    /// Equal only when both the inner executor and the context are the same, so that no
    /// equality-based shortcut (e.g. symmetric transfer in experimental::coro) merges agents.
    friend bool operator==(const executor& a, const executor& b) noexcept {
        if (a.s_.box() && a.s_.box() == b.s_.box()) return true;
        return a.s_.ctx() == b.s_.ctx() && a.s_.inner() == b.s_.inner();
    }
    friend bool operator!=(const executor& a, const executor& b) noexcept { return !(a == b); }

private:
    template <class>
    friend class executor;
    explicit executor(detail::executor_state<Inner> s) noexcept : s_(std::move(s)) {}
    template <class Property>
    static const void* key_of() noexcept {
        if constexpr (detail::memoizable_property_v<Property>)
            return &detail::property_tag<Property>;
        else
            return nullptr;
    }
    detail::executor_state<Inner> s_;
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
