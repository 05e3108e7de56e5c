// TraceCraft C++ — the per-agent context cell (internal).
//
// Design (docs/context.md): each asynchronous agent (one co_spawn /
// tracecraft::spawn) owns a task_context. A tracecraft::executor carries a counted pointer to
// it and installs it in a thread_local slot around every function it executes, so every
// resumption of the coroutine — after a timer, socket op, channel, strand hop or thread switch —
// sees its own context and nobody else's. Span scopes mutate `cur` in LIFO order; concurrency
// (spawn, when_all, when_any, bind_context) never shares a cell: it forks a new one whose
// parent is the caller's current span, captured by value.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>

#include "tracecraft/ids.hpp"

namespace tracecraft::detail {

struct runtime_core;
struct span_record;
struct trace_buffer;
struct metric_probe;

enum class span_mode : std::uint8_t {
    none,           ///< no span: the next span starts a new trace
    recording,      ///< `rec` is the current span
    non_recording,  ///< in a trace the head sampler dropped; only ids travel
    remote,         ///< parent is a remote (extracted) span; next span is a local root under it
};

/// What "the current span" is for one agent. Copied by value into span scopes to restore.
struct current_span_state {
    span_record* rec = nullptr;       ///< valid when mode == recording
    trace_buffer* trace = nullptr;    ///< the local trace (recording mode or a fork inside one)
    span_context ctx;                 ///< ids of the current span (or of the fork's parent)
    std::uint16_t depth = 0;
    span_mode mode = span_mode::none;
    metric_probe* probe = nullptr;    ///< the current unrecorded span's metric probe, if it has one
};

struct task_context {
    std::atomic<std::uint32_t> refs{1};
    /// The thread running a function in this context now (the address of that thread's slot),
    /// null when none, `shared_owner()` for contexts many threads may enter at once (the
    /// suppressed context). One agent's functions never run at the same time on two threads:
    /// see context_guard.
    std::atomic<const void*> owner{nullptr};
    /// Threads waiting for `owner` (ctx_wait_for_owner). While there are any, a newcomer does not
    /// take the context on its fast path but queues behind them, so a coroutine resumed in a
    /// tight loop cannot starve a waiting handler.
    std::atomic<std::uint32_t> waiters{0};
    current_span_state cur;
    trace_buffer* held_trace = nullptr;   ///< fork keeps its parent trace open until destroyed
    runtime_core* rt = nullptr;           ///< runtime of this agent (counted); null = default
    span_context link_to;                 ///< spawn_linked: first span gets a link to this
    /// Spans ended by an exception unwinding through them since the last span start; a catch
    /// site that knows the exception (traced, when_all/when_any children, spawn) fills in its
    /// type and message, or reclassifies it as a cancellation.
    span_record* unwound = nullptr;
    bool suppressed = false;              ///< library-internal handlers: never record
    bool is_thread_fallback = false;      ///< the per-thread context for code outside handlers
};

/// The thread_local slot itself. Only non-coroutine code may touch it directly (context_guard
/// below): a coroutine body must go through the out-of-line functions, or the compiler may keep
/// the slot's address across a suspension that resumes on another thread (docs/context.md §7).
/// GNU __thread (no C++ TLS wrapper call); defined in lib/context/task_context.cpp.
extern __thread task_context* t_context_slot __attribute__((tls_model("initial-exec")));

/// The thread_local slot (out of line on purpose: docs/context.md §7, TLS addresses kept across a suspension).
task_context*& tls_slot() noexcept;
/// The context spans use: the installed one, else this thread's fallback context.
task_context* current_context() noexcept;
/// True when `c` is the calling thread's fallback context.
bool is_this_thread_fallback(const task_context* c) noexcept;

task_context* ctx_create(runtime_core* rt) noexcept;
/// A new context whose parent is `parent`'s current span (parent may be null or a fallback).
task_context* ctx_fork(const task_context* parent) noexcept;
/// A new root context that links its first span to `parent`'s current span.
task_context* ctx_fork_linked(const task_context* parent) noexcept;
/// The sentinel context for library-internal work (refcount never drops to zero).
task_context* ctx_suppressed() noexcept;

inline void ctx_add_ref(task_context* c) noexcept {
    if (c) c->refs.fetch_add(1, std::memory_order_relaxed);
}
void ctx_destroy(task_context* c) noexcept;
inline void ctx_release(task_context* c) noexcept {
    if (c && c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) ctx_destroy(c);
}

/// Applies `e` to the spans in `c->unwound` (see above) and clears the chain. `cancelled`:
/// the agent's cancellation state said it was cancelled, whatever the exception is.
void attribute_exception(task_context* c, std::exception_ptr e, bool cancelled = false) noexcept;

/// Owner value of contexts that any number of threads may enter at once.
inline const void* shared_owner() noexcept { return reinterpret_cast<const void*>(std::uintptr_t{1}); }

/// Slow path of context_guard: `c` is running on another thread; waits until it is free and
/// owns it (counted in runtime_stats::context_waits). If this thread already owns the context
/// it is nested in (`prev`: an inline dispatch from one agent into another), it gives `prev` up
/// while it waits, so that no thread ever waits while holding a context — two threads waiting
/// for each other's context (a lock-order deadlock) cannot happen. Returns true when `prev` was
/// given up: the guard takes it back when it ends (ctx_reenter).
bool ctx_wait_for_owner(task_context* c, task_context* prev) noexcept;
/// Waits (holding no context) until `c` is free again and owns it.
void ctx_reenter(task_context* c) noexcept;

/// Installs a context in the thread_local slot for a scope; restores the previous one. For
/// plain functions only (never alive across a co_await): it reads the slot inline, once per
/// resumption of every traced coroutine.
///
/// It also makes the calling thread the context's owner for the scope, so that one agent's
/// functions never run on two threads at once. A traced coroutine's resumptions never overlap,
/// but other functions run through its executor too: Asio's bookkeeping (a parallel group's
/// per-child completions) and plain completion handlers of I/O objects created from the
/// coroutine's executor, which may complete on another thread of a multi-threaded io_context
/// while the coroutine runs. Without an owner both would write the agent's current-span state at
/// once; with it the second waits for the first to leave (a strand's guarantee, for one agent),
/// so such a handler runs in the agent's context between two of its resumptions and its spans
/// are children of the agent's current span. Re-entry on the owning thread (inline dispatch)
/// nests.
class context_guard {
public:
    explicit context_guard(task_context* c) noexcept : prev_(t_context_slot), owned_(nullptr), gave_up_prev_(false) {
        t_context_slot = c;
        if (!c) return;
        const void* const me = &t_context_slot;
        const void* expected = nullptr;
        if (c->waiters.load(std::memory_order_relaxed) == 0 &&
            c->owner.compare_exchange_strong(expected, me, std::memory_order_acquire, std::memory_order_relaxed)) {
            owned_ = c;
            return;
        }
        if (!expected) expected = c->owner.load(std::memory_order_relaxed);   // others are waiting
        if (expected != me && expected != shared_owner()) [[unlikely]] {
            gave_up_prev_ = ctx_wait_for_owner(c, prev_);
            owned_ = c;
        }
    }
    ~context_guard() {
        if (owned_) {
            owned_->owner.store(nullptr, std::memory_order_release);
            if (gave_up_prev_) [[unlikely]] ctx_reenter(prev_);
        }
        t_context_slot = prev_;
    }
    context_guard(const context_guard&) = delete;
    context_guard& operator=(const context_guard&) = delete;

private:
    task_context* prev_;
    task_context* owned_;
    bool gave_up_prev_;
};

} // namespace tracecraft::detail
