// Per-agent context cells, the thread_local slot, and executor rebinding.
#include <thread>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "pipeline/runtime_core.hpp"
#include "tracecraft/detail/task_context.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/executor.hpp"
#include "tracecraft/runtime.hpp"

namespace tracecraft::detail {

// initial-exec: the library is linked into executables; avoids __tls_get_addr in PIC code
__thread task_context* t_context_slot __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

task_context& thread_fallback() noexcept {
    // Context for code that runs outside any tracecraft executor (plain synchronous code,
    // main()). Behaves like a thread-local span stack; never shared across threads.
    struct holder {
        task_context c;
        holder() noexcept {
            c.is_thread_fallback = true;
            c.refs.store(1u << 30);
            c.owner.store(shared_owner());   // never installed by a guard; one thread only
        }
    };
    thread_local holder h;
    return h.c;
}

task_context* fork_common(const task_context* parent) noexcept {
    auto* c = new task_context();
    if (!parent) return c;
    c->rt = parent->rt;
    core_add_ref(c->rt);
    c->suppressed = parent->suppressed;
    return c;
}
} // namespace

task_context*& tls_slot() noexcept { return t_context_slot; }

namespace {
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

/// Spins (politely) until `c` has no owner and takes it. `queued_behind`: others were waiting
/// first; let them go first.
void acquire_slow(task_context* c, bool queued_behind) noexcept {
    const void* const me = &t_context_slot;
    for (unsigned spins = 0;; ++spins) {
        if (queued_behind && spins < 4) {
            std::this_thread::yield();
            continue;
        }
        const void* expected = nullptr;
        if (c->owner.load(std::memory_order_relaxed) == nullptr &&
            c->owner.compare_exchange_weak(expected, me, std::memory_order_acquire, std::memory_order_relaxed))
            return;
        if (spins < 128)
            cpu_relax();
        else
            std::this_thread::yield();
    }
}
} // namespace

bool ctx_wait_for_owner(task_context* c, task_context* prev) noexcept {
    const void* const me = &t_context_slot;
    // Never wait while holding a context: give up the one this call is nested in (its function
    // is on our stack and goes on only after this one returns; ctx_reenter takes it back).
    const bool give_up_prev = prev && prev != c && prev->owner.load(std::memory_order_relaxed) == me;
    if (give_up_prev) prev->owner.store(nullptr, std::memory_order_release);
    // A newcomer that found others already waiting lets them go first (it yields before it
    // competes); the first waiter spins hot. Not strictly FIFO, but no tight loop of one
    // agent's resumptions can keep a waiting handler out for long.
    const bool queued_behind = c->waiters.fetch_add(1, std::memory_order_relaxed) != 0;
    acquire_slow(c, queued_behind);
    c->waiters.fetch_sub(1, std::memory_order_relaxed);
    if (runtime_core* rt = c->rt ? c->rt : default_core())
        rt->stats.context_waits.fetch_add(1, std::memory_order_relaxed);
    return give_up_prev;
}

void ctx_reenter(task_context* c) noexcept {
    const void* expected = nullptr;
    if (c->owner.compare_exchange_strong(expected, &t_context_slot, std::memory_order_acquire,
                                         std::memory_order_relaxed))
        return;
    const bool queued_behind = c->waiters.fetch_add(1, std::memory_order_relaxed) != 0;
    acquire_slow(c, queued_behind);
    c->waiters.fetch_sub(1, std::memory_order_relaxed);
}

task_context* current_context() noexcept {
    task_context* c = t_context_slot;
    return c ? c : &thread_fallback();
}

bool is_this_thread_fallback(const task_context* c) noexcept { return c->is_thread_fallback && c == &thread_fallback(); }

task_context* ctx_create(runtime_core* rt) noexcept {
    auto* c = new task_context();
    c->rt = rt;
    core_add_ref(rt);
    return c;
}

task_context* ctx_fork(const task_context* parent) noexcept {
    task_context* c = fork_common(parent);
    if (!parent) return c;
    const current_span_state& p = parent->cur;
    switch (p.mode) {
        case span_mode::recording:
            // child-of the parent's current span, in the same local trace; keep it open
            c->cur = current_span_state{nullptr, p.trace, p.ctx, p.depth, span_mode::recording};
            p.trace->forked.store(true, std::memory_order_relaxed);   // before the fork can run: from now on atomics
            trace_open(p.trace);
            c->held_trace = p.trace;
            break;
        case span_mode::non_recording:
        case span_mode::remote:
            c->cur = current_span_state{nullptr, nullptr, p.ctx, p.depth, p.mode};
            break;
        case span_mode::none:
            break;
    }
    return c;
}

task_context* ctx_fork_linked(const task_context* parent) noexcept {
    task_context* c = fork_common(parent);
    if (parent && parent->cur.ctx.valid()) c->link_to = parent->cur.ctx;
    return c;
}

task_context* ctx_suppressed() noexcept {
    static task_context* s = [] {
        auto* c = new task_context();
        c->suppressed = true;
        c->refs.store(1u << 30);
        c->owner.store(shared_owner());   // library handlers on many threads at once; never records
        return c;
    }();
    return s;
}

void ctx_destroy(task_context* c) noexcept {
    if (c->is_thread_fallback || c == ctx_suppressed()) return;
    if (c->held_trace) trace_close(c->held_trace);
    core_release(c->rt);
    delete c;
}


namespace {
template <class Inner>
bool try_rebind(const boost::asio::any_io_executor& ex, task_context* c, boost::asio::any_io_executor& out) {
    if (const auto* w = ex.target<executor<Inner>>()) {
        out = executor<Inner>(w->get_inner_executor(), c, adopt_context);
        return true;
    }
    if (const auto* p = ex.target<Inner>()) {
        out = executor<Inner>(*p, c, adopt_context);
        return true;
    }
    return false;
}
} // namespace

boost::asio::any_io_executor rebind_any(const boost::asio::any_io_executor& ex, task_context* c) {
    namespace asio = boost::asio;
    asio::any_io_executor out;
    if (try_rebind<asio::io_context::executor_type>(ex, c, out)) return out;
    if (try_rebind<asio::strand<asio::io_context::executor_type>>(ex, c, out)) return out;
    if (try_rebind<asio::thread_pool::executor_type>(ex, c, out)) return out;
    if (const auto* w = ex.target<executor<any_inner>>())
        return executor<any_inner>(w->get_inner_executor(), c, adopt_context);
    return executor<any_inner>(any_inner(ex), c, adopt_context);
}

} // namespace tracecraft::detail
