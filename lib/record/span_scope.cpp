// Span start and end — the hot path: head sampling at a local root, the context slot's
// current span, trace completion when the last span ends, misuse detection.
#include "tracecraft/span.hpp"

#include <cxxabi.h>

#include <atomic>
#include <cstring>

#include <spdlog/spdlog.h>

#include "metrics/metric_probe.hpp"
#include "pipeline/runtime_core.hpp"
#include "support/log_limiter.hpp"
#include "tracecraft/detail/clock.hpp"
#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/log.hpp"

namespace tracecraft {

using namespace detail;

namespace {

std::atomic<bool> g_warned_no_runtime{false};
std::atomic<bool> g_warned_depth{false};

void warn_once(std::atomic<bool>& flag, const char* msg) {
    if (!flag.load(std::memory_order_relaxed) && !flag.exchange(true)) logger()->warn("{}", msg);
}

void push_ended(trace_buffer* t, span_record* r) noexcept {
    span_record* head = t->ended.load(std::memory_order_relaxed);
    if (!trace_forked(t)) {   // only this agent touches the list (see trace_buffer::forked)
        r->next_ended = head;
        t->ended.store(r, std::memory_order_relaxed);
        return;
    }
    do {
        r->next_ended = head;
    } while (!t->ended.compare_exchange_weak(head, r, std::memory_order_release, std::memory_order_relaxed));
}

/// One more recorded span holds `t` open. Every recorded span holds its trace until it ends,
/// so a trace never completes (and frees its records) under a span that is still open, even
/// when scopes of several agents were mixed up in one context.
inline void hold_trace(trace_buffer* t) noexcept {
    if (!trace_forked(t))
        t->open.store(t->open.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    else
        t->open.fetch_add(1, std::memory_order_relaxed);
}

/// A recorded span of `t` ended: completes the trace if it held it last. Returns true then
/// (`t` may be gone).
inline bool release_trace(trace_buffer* t) noexcept {
    if (!trace_forked(t)) {   // no other agent: plain read-modify-write
        const std::int32_t n = t->open.load(std::memory_order_relaxed) - 1;
        t->open.store(n, std::memory_order_relaxed);
        if (n != 0) return false;
    } else if (t->open.fetch_sub(1, std::memory_order_acq_rel) != 1) {
        return false;
    }
    t->rt->on_trace_complete(t);
    return true;
}

log_limiter g_abandoned_log;
log_limiter g_out_of_order_log;
runtime_core* stats_core(const task_context* c, const span_record* r) noexcept {
    if (r) return r->trace->rt;
    return c->rt ? c->rt : default_core();
}


/// Field-by-field copy: every load is contained in one earlier store, so no store-forwarding
/// stall (a 16-byte struct copy over fields written separately cost ~15 % of a recorded span in perf).
inline void copy_state(current_span_state& d, const current_span_state& s) noexcept {
    d.rec = s.rec;
    d.trace = s.trace;
    d.ctx.trace.hi = s.ctx.trace.hi;
    d.ctx.trace.lo = s.ctx.trace.lo;
    d.ctx.span.value = s.ctx.span.value;
    d.ctx.flags = s.ctx.flags;
    d.ctx.remote = s.ctx.remote;
    d.depth = s.depth;
    d.mode = s.mode;
    d.probe = s.probe;
}

inline void set_ids(span_context& c, const trace_id& t, span_id s, std::uint8_t flags) noexcept {
    c.trace.hi = t.hi;
    c.trace.lo = t.lo;
    c.span.value = s.value;
    c.flags = flags;
    c.remote = false;
}

/// std::uncaught_exceptions() without its cost: the libstdc++ call reaches the thread's
/// exception globals through __tls_get_addr (~4 ns, twice per recorded span). Their address is
/// fixed per thread, so it is cached here; the struct's first two members are fixed by the
/// Itanium C++ ABI (2.2.2: caughtExceptions, then uncaughtExceptions).
#if defined(__GLIBCXX__)
struct eh_globals_prefix {
    void* caught;
    unsigned int uncaught;
};
__attribute__((tls_model("initial-exec"))) thread_local const eh_globals_prefix* t_eh_globals = nullptr;
inline int uncaught_count() noexcept {
    const eh_globals_prefix* g = t_eh_globals;
    if (!g) [[unlikely]]
        t_eh_globals = g = reinterpret_cast<const eh_globals_prefix*>(abi::__cxa_get_globals());
    return static_cast<int>(g->uncaught);
}
#else
inline int uncaught_count() noexcept { return std::uncaught_exceptions(); }
#endif

/// Field-wise span_context copy (see copy_state: no wide loads over narrow stores).
inline void copy_ctx(span_context& d, const span_context& s) noexcept {
    d.trace.hi = s.trace.hi;
    d.trace.lo = s.trace.lo;
    d.span.value = s.span.value;
    d.flags = s.flags;
    d.remote = s.remote;
}

/// Makes `c` the current state of an unrecorded root (head-sampled out or no runtime) and
/// `ctx` its context: trace id kept for propagation, sampled flag off.
inline void set_unrecorded_root(current_span_state& c, span_context& ctx, const trace_id& tid, span_id sid) noexcept {
    c.rec = nullptr;
    c.trace = nullptr;
    set_ids(c.ctx, tid, sid, 0);
    c.depth = 0;
    c.mode = span_mode::non_recording;
    c.probe = nullptr;
    set_ids(ctx, tid, sid, 0);
}

/// A metric probe for an unrecorded span of `kind` when the runtime measures GenAI metrics
/// (null otherwise: the span then costs nothing more).
inline metric_probe* maybe_probe(const task_context* c, runtime_core* rt, span_kind kind, std::string_view name) noexcept {
    if (!rt || !rt->metrics || !measured_kind(kind)) return nullptr;
    return probe_start(rt, c->rt == nullptr, kind, name);   // no context holds the default runtime
}

} // namespace

// ---------------------------------------------------------------- span_scope

span_scope::span_scope(std::string_view name, span_kind kind) { start(name, kind, nullptr); }
span_scope::span_scope(std::string_view name, const span_options& options) { start(name, options.kind, &options); }

void span_scope::start(std::string_view name, span_kind kind, const span_options* o) {
    task_context* c = current_context();
    if (c->suppressed) return;   // nothing recorded, nothing to restore (task_ stays null)
    task_ = c;
    c->unwound = nullptr;   // a new span: any earlier unwinding was caught
    const current_span_state& p = c->cur;
    const bool explicit_parent = o && o->parent && o->parent->valid();
    const bool new_trace = o && o->new_trace;
    if (!explicit_parent && !new_trace && p.mode == span_mode::non_recording) {
        // unrecorded child (the hot path of a trace dropped at its root): only the depth changes, so only it is saved
        restore_ = restore::depth;
        saved_.depth = p.depth;
        saved_.probe = p.probe;
        c->cur.depth = static_cast<std::uint16_t>(p.depth + 1);
        copy_ctx(ctx_, p.ctx);
        if (measured_kind(kind)) [[unlikely]] {
            probe_ = maybe_probe(c, c->rt ? c->rt : default_core(), kind, name);
            if (probe_) uncaught_ = uncaught_count();
        }
        c->cur.probe = probe_;
        return;
    }

    trace_buffer* t = nullptr;
    span_record* root_rec = nullptr;   // a new trace's root record, created with its buffer
    span_id root_sid;                  // a new root's span id (drawn with its trace id)
    span_context parent{};
    std::uint16_t depth = 0;
    bool root = false;

    if (!explicit_parent && !new_trace && p.mode == span_mode::recording) {
        t = p.trace;
        copy_ctx(parent, p.ctx);
        depth = static_cast<std::uint16_t>(p.depth + 1);
        if (depth > t->rt->cfg.max_step_depth) {
            copy_state(saved_, c->cur);
            t->rt->stats.spans_depth_dropped.fetch_add(1, std::memory_order_relaxed);
            warn_once(g_warned_depth, "span nesting exceeds max_step_depth; deeper spans are not recorded "
                                      "(counted in runtime_stats::spans_depth_dropped)");
            c->cur.mode = span_mode::non_recording;
            c->cur.rec = nullptr;
            c->cur.trace = nullptr;
            c->cur.depth = depth;
            copy_ctx(ctx_, p.ctx);
            probe_ = maybe_probe(c, t->rt, kind, name);   // not in the trace, still measured
            if (probe_) uncaught_ = uncaught_count();
            c->cur.probe = probe_;
            return;
        }
        restore_ = restore::child;
        saved_.rec = p.rec;
        saved_.ctx.span.value = p.ctx.span.value;
        saved_.depth = p.depth;
        hold_trace(t);
    } else {
        // a new local trace: under an explicit/remote parent, or a fresh root
        copy_state(saved_, c->cur);
        root = true;
        if (explicit_parent)
            parent = *o->parent;
        else if (!new_trace && p.mode == span_mode::remote)
            copy_ctx(parent, p.ctx);
        runtime_core* rt = c->rt ? c->rt : default_core();
        trace_id tid = parent.trace;   // kept under a remote parent, else generated
        detail::random_root_ids(tid, root_sid);
        if (!rt) {
            warn_once(g_warned_no_runtime, "a span was started but no tracecraft runtime exists "
                                           "(call tracecraft::init); spans are not recorded");
            set_unrecorded_root(c->cur, ctx_, tid, root_sid);
            return;
        }
        const bool record = rt->rate_all || rt->tail_enabled || rate_keep(tid, rt->rate_threshold);
        if (!record) {
            // one counter per dropped root; traces_started is derived (head-dropped + recorded)
            rt->stats.traces_head_dropped.fetch_add(1, std::memory_order_relaxed);
            set_unrecorded_root(c->cur, ctx_, tid, root_sid);
            probe_ = maybe_probe(c, rt, kind, name);   // the GenAI metrics still count it
            if (probe_) uncaught_ = uncaught_count();
            c->cur.probe = probe_;
            return;
        }
        rt->stats.traces_started.fetch_add(1, std::memory_order_relaxed);   // recorded roots
        root_rec = span_record::create();
        t = trace_create(rt, tid, root_rec);
        if (rt->tail_enabled) {
            t->head = head_decision::tail;
        } else {
            t->head = head_decision::keep;
            t->reason = static_cast<std::uint8_t>(rt->rate_all ? sample_reason_code::rate_all
                                                                : sample_reason_code::head_rate);
        }
        if (o && !o->tracestate.empty()) t->tracestate = o->tracestate;
    }

    span_record* r = root_rec ? root_rec : span_record::create();
    uncaught_ = uncaught_count();   // only recorded spans look at it (in the destructor)
    r->trace = t;
    r->id = root ? root_sid : span_id::generate();
    r->parent = parent.span;
    r->kind = kind;
    r->depth = depth;
    r->max_attributes = t->rt->cfg.max_attributes_per_span;
    r->max_value_length = t->rt->cfg.max_attribute_value_length;
    r->name = r->copy(name);
    if (root) {
        r->flags |= span_flag_local_root;
        if (parent.remote) r->flags |= span_flag_remote_parent;
        t->root = r;
    }
    if (!t->capture_content) r->flags |= span_flag_no_inputs;   // and set_output checks the trace
    if (o) {
        r->otel_kind = o->otel_kind;
        if (!o->capture_inputs) r->flags |= span_flag_no_inputs;
        if (!o->exclude_inputs.empty()) {
            auto* ex = static_cast<str_ref*>(r->alloc(sizeof(str_ref) * o->exclude_inputs.size(), alignof(str_ref)));
            for (std::size_t i = 0; i < o->exclude_inputs.size(); ++i) ex[i] = r->copy(o->exclude_inputs[i]);
            r->excluded_inputs = ex;
            r->n_excluded = static_cast<std::uint32_t>(o->exclude_inputs.size());
        }
        for (const auto& l : o->links)
            if (l.valid()) append_link(r, l);
    }
    if (c->link_to.valid()) {   // first span of a spawn_linked agent
        append_link(r, c->link_to);
        c->link_to = span_context{};
    }
    // Only a local root holds the trace open: every other span is nested within an open
    // span of its own agent or within a fork that holds the trace (LIFO rule).
    if (root) t->open.store(1, std::memory_order_relaxed);   // fresh buffer: no other agent yet
    rec_ = r;
    set_ids(ctx_, t->id, r->id, 1);
    current_span_state& cur = c->cur;
    cur.rec = r;
    cur.trace = t;
    set_ids(cur.ctx, t->id, r->id, 1);
    cur.depth = depth;
    cur.mode = span_mode::recording;
    r->start_ticks = now_ticks();
}

span_scope::~span_scope() {
    task_context* c = task_;
    if (!c) return;
    // A traced coroutine's scopes end under its own context; plain code's under its thread's.
    const bool home = t_context_slot == c || (t_context_slot == nullptr && is_this_thread_fallback(c));
    span_record* r = rec_;
    if (!r) {
        if (probe_) [[unlikely]]
            probe_end(probe_, uncaught_count() > uncaught_);
        if (!home) [[unlikely]] {
            end_elsewhere();
        } else if (restore_ == restore::depth) {
            c->cur.depth = saved_.depth;
            c->cur.probe = saved_.probe;
        } else {
            copy_state(c->cur, saved_);
        }
        return;
    }
    r->end_ticks = now_ticks();
    bool unwinding = false;
    if (uncaught_count() > uncaught_ && !(r->flags & span_flag_exception)) {
        if (r->status != status_code::error) {   // an explicit error status says more: keep it
            r->status = status_code::error;
            r->status_message = r->copy("exception escaped the span scope");
        }
        unwinding = true;
    }
    trace_buffer* t = r->trace;
    const bool was_root = (r->flags & span_flag_local_root) != 0;
    if (!home) [[unlikely]] {
        end_elsewhere();
    } else if (c->cur.rec != r) [[unlikely]] {
        end_out_of_order();
    } else if (restore_ == restore::child) {
        current_span_state& cur = c->cur;
        cur.rec = saved_.rec;
        cur.ctx.span.value = saved_.ctx.span.value;
        cur.depth = saved_.depth;
    } else {
        copy_state(c->cur, saved_);
    }
    r->flags |= span_flag_ended;
    if (home) {
        if (was_root) {
            c->unwound = nullptr;   // closing the root may complete (and free) the trace
        } else if (unwinding) {
            // an open root or this fork's hold on the trace keeps `r` alive until the catch site
            // reads the chain
            r->next_unwound = c->unwound;
            c->unwound = r;
        }
    }
    push_ended(t, r);   // after this, `r` may be read by the completing thread
    if (release_trace(t) && home) c->unwound = nullptr;   // completed here (a root outlived): `r` is gone
}

void span_scope::end_elsewhere() noexcept {
    task_context* c = task_;
    span_record* r = rec_;
    if (runtime_core* rt = stats_core(c, r)) {
        const std::uint64_t n = rt->stats.spans_abandoned.fetch_add(1, std::memory_order_relaxed) + 1;
        if (g_abandoned_log.allow())
            logger()->warn("a span ended outside the agent that started it ({} so far; counted in "
                           "runtime_stats::spans_abandoned, exported with tracecraft.abandoned): its coroutine "
                           "was destroyed with its io_context, or it runs on a plain executor after starting "
                           "inside a traced one (asio::co_spawn from traced code: use tracecraft::spawn)",
                           n);
    }
    if (r) {
        r->flags |= span_flag_abandoned;
        r->trace->forked.store(true, std::memory_order_relaxed);   // from here on every update is atomic
    }
    // Put the starting context back only if this span is still its current one and no other
    // thread is running in it; otherwise leave it to its owner.
    const void* const me = &t_context_slot;
    const void* owner = nullptr;
    const bool acquired =
        c->owner.compare_exchange_strong(owner, me, std::memory_order_acquire, std::memory_order_relaxed);
    if (!acquired && owner != me) return;
    const bool top = r ? c->cur.rec == r
                       : (restore_ == restore::depth ? c->cur.depth == saved_.depth + 1 && c->cur.mode == span_mode::non_recording
                                                     : c->cur.ctx.span.value == ctx_.span.value);
    if (top) {
        if (restore_ == restore::child) {
            c->cur.rec = saved_.rec;
            c->cur.ctx.span.value = saved_.ctx.span.value;
            c->cur.depth = saved_.depth;
        } else if (restore_ == restore::depth) {
            c->cur.depth = saved_.depth;
            c->cur.probe = saved_.probe;
        } else {
            copy_state(c->cur, saved_);
        }
    }
    if (acquired) c->owner.store(nullptr, std::memory_order_release);
}

void span_scope::end_out_of_order() noexcept {
    task_context* c = task_;
    span_record* r = rec_;
    trace_buffer* t = r->trace;
    const std::uint64_t n = t->rt->stats.spans_out_of_order.fetch_add(1, std::memory_order_relaxed) + 1;
    if (g_out_of_order_log.allow())
        logger()->warn("span scopes closed out of order ({} so far; counted in runtime_stats::spans_out_of_order): "
                       "two coroutines share one traced context (asio::co_spawn with the current coroutine's "
                       "executor, or asio::experimental::awaitable_operators); use tracecraft::spawn, when_all, "
                       "when_any or tracecraft::awaitable_operators",
                       n);
    // Scopes form a stack per context: ending one that is not on top pops it and whatever was
    // started above it; one that was already popped leaves the context alone.
    current_span_state& cur = c->cur;
    if (restore_ == restore::all) {
        copy_state(cur, saved_);   // a local root: back to the state before the trace
    } else if (cur.trace == t && cur.depth > r->depth) {
        cur.rec = saved_.rec;
        set_ids(cur.ctx, t->id, saved_.ctx.span, 1);
        cur.depth = saved_.depth;
        cur.mode = span_mode::recording;
    }
}

void detail::attribute_exception(task_context* c, std::exception_ptr e, bool cancelled) noexcept {
    if (!c || !e) return;
    for (span_record* r = std::exchange(c->unwound, nullptr); r; r = r->next_unwound) {
        r->status = status_code::unset;
        r->status_message = {};
        try {
            if (cancelled)
                span(r, span_context{}).record_cancellation(e);
            else
                span(r, span_context{}).record_exception(e);
        } catch (...) {
        }
    }
}

// ---------------------------------------------------------------- run_scope

namespace {
span_options run_to_span_options(const run_options& o) {
    span_options s;
    s.kind = o.kind;
    s.otel_kind = o.otel_kind;
    s.parent = o.parent;
    s.tracestate = o.tracestate;
    return s;
}
} // namespace

run_scope::run_scope(std::string_view name) : span_scope(name, span_kind::agent) {
    if (rec_) rec_->flags |= span_flag_run;
}

run_scope::run_scope(std::string_view name, const run_options& o) : span_scope(name, run_to_span_options(o)) {
    if (!rec_) return;
    rec_->flags |= span_flag_run;
    if (!o.description.empty()) set_attribute("tracecraft.run.description", o.description);
    if (!o.session_id.empty()) set_attribute("session.id", o.session_id);
    if (!o.user_id.empty()) set_attribute("user.id", o.user_id);
    if (!o.tags.empty()) set_attribute("tag.tags", std::span<const std::string>(o.tags));
    if (!o.environment.empty()) set_attribute("deployment.environment.name", o.environment);
    if (!o.input.empty()) set_input("input", o.input);
}

run_scope& run_scope::set_run_output(std::string_view output) {
    set_output("output", output);
    return *this;
}

} // namespace tracecraft
