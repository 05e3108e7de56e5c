// The hand-off: a trace completes on whatever thread ends its last span; there it passes the
// processors that may run on that thread, then a bounded lock-free queue; the strand drains
// the queue into batches (as soon as batch_size spans wait, or after flush_interval).
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "pipeline/runtime_core.hpp"
#include "tracecraft/log.hpp"

namespace tracecraft::detail {

namespace asio = boost::asio;

void runtime_core::on_trace_complete(trace_buffer* t) noexcept {
    std::uint32_t n = 0;
    bool err = false;
    std::uint8_t flags = 0;
    for (span_record* s = t->ended.load(std::memory_order_acquire); s; s = s->next_ended) {
        ++n;
        err |= s->status == status_code::error;
        flags |= s->flags;
    }
    t->span_count = n;
    t->span_flags = flags;
    t->has_error.store(err, std::memory_order_relaxed);
    if (metrics) metrics->record(*t);   // every trace, before any processor (the sampler) decides
    if (inline_processors != 0 && !process_inline(t)) return;   // dropped (counted, freed)
    if (!accepting.load(std::memory_order_acquire) || liveness->gone.load(std::memory_order_acquire)) {
        stats.traces_after_shutdown.fetch_add(1, std::memory_order_relaxed);
        if (!warned_after_shutdown.exchange(true))
            logger()->warn("traces finished after the runtime shut down (or its io_context was destroyed) "
                           "are not exported; counted in runtime_stats::traces_after_shutdown");
        trace_destroy(t);
        return;
    }
    const std::size_t prev = pipeline_spans.fetch_add(n, std::memory_order_acq_rel);
    if (prev != 0 && prev + n > cfg.max_queue_spans) {
        // drop_oldest admits up to twice the capacity while the strand gives the oldest up
        if (cfg.overflow == overflow_policy::drop_newest || prev + n > 2 * cfg.max_queue_spans) {
            pipeline_spans.fetch_sub(n, std::memory_order_acq_rel);
            stats.traces_queue_dropped.fetch_add(1, std::memory_order_relaxed);
            stats.spans_queue_dropped.fetch_add(n, std::memory_order_relaxed);
            losses->record(failure_log::dropped, n, "pipeline full: a finished trace refused");
            trace_destroy(t);
            return;
        }
        if (!room_requested.exchange(true, std::memory_order_acq_rel))
            asio::post(strand, [c = core_ref(this)] { c->make_room_on_strand(); });
    }
    const std::size_t u = undrained_spans.fetch_add(n, std::memory_order_acq_rel);
    if (!queue.try_push(t)) {   // more traces than slots (cannot happen: slots >= spans)
        undrained_spans.fetch_sub(n, std::memory_order_acq_rel);
        pipeline_spans.fetch_sub(n, std::memory_order_acq_rel);
        stats.traces_queue_dropped.fetch_add(1, std::memory_order_relaxed);
        stats.spans_queue_dropped.fetch_add(n, std::memory_order_relaxed);
        trace_destroy(t);
        return;
    }
    if (u < cfg.batch_size && u + n >= cfg.batch_size) {
        asio::post(strand, [c = core_ref(this)] { c->drain_on_strand(false); });
    } else if (u == 0) {
        asio::post(strand, [c = core_ref(this)] { c->arm_timer_on_strand(); });
    }
}

void runtime_core::arm_timer_on_strand() {
    if (timer_armed || !flush_timer || shut_down) return;
    timer_armed = true;
    flush_timer->expires_after(cfg.flush_interval);
    flush_timer->async_wait([c = core_ref(this)](const boost::system::error_code& ec) {
        c->ioc.get_executor().on_work_started();   // gives back what arm_timer_on_strand took
        asio::post(c->strand, [c, ec] {
            c->timer_armed = false;
            if (!ec) c->drain_on_strand(true);
        });
    });
    // The batch timer alone must not keep the user's io_context::run() from returning: a
    // program that runs its work and then calls shutdown() (which drains every queued trace)
    // would otherwise wait out flush_interval first. So the pending wait does not count as
    // outstanding work. (Never zero here: this handler itself is outstanding work.)
    ioc.get_executor().on_work_finished();
}

void runtime_core::drain_on_strand(bool force) {
    trace_buffer* t = nullptr;
    std::size_t popped = 0, traces = 0;
    while (queue.try_pop(t)) {
        popped += t->span_count;
        ++traces;
        pending_spans += t->span_count;
        pending.emplace_back(t);
    }
    if (popped) {
        undrained_spans.fetch_sub(popped, std::memory_order_acq_rel);
        stats.traces_kept.fetch_add(traces, std::memory_order_relaxed);
        stats.spans_kept.fetch_add(popped, std::memory_order_relaxed);
    }
    dispatch_batches_on_strand(force);
    if (!pending.empty() || undrained_spans.load(std::memory_order_acquire) > 0) arm_timer_on_strand();
    check_waiters_on_strand();
}

} // namespace tracecraft::detail
