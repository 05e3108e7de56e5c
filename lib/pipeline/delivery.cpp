// Delivery: finished traces formed into batches of batch_size spans, handed to every exporter
// (fan-out, each exporter awaited in order by its own coroutine), and the waits built on it —
// force_flush, back-pressure, idle, shutdown. Strand only.
#include "pipeline/delivery.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "record/batch_access.hpp"
#include "metrics/metrics_export.hpp"
#include "support/background_wait.hpp"
#include "record/utf8_repair.hpp"
#include "support/log_limiter.hpp"
#include "tracecraft/log.hpp"

namespace tracecraft::detail {

namespace asio = boost::asio;

namespace {
log_limiter g_utf8_log;
}

struct inflight_batch {
    span_batch batch;
    std::uint64_t seq = 0;            ///< age: smaller is older
    std::size_t remaining = 0;        ///< exporters not done with it
    std::uint64_t rejected = 0;       ///< most spans any exporter's receiver rejected
    bool deferred = false;            ///< an exporter spooled it: its outcome is counted later
    bool failed = false, permanent = false, expired = false;
    bool dropped_for_room = false, dropped_at_shutdown = false;
    bool cancel_counted = false;      ///< in runtime_core::spans_being_cancelled
};

void runtime_core::dispatch_batches_on_strand(bool force) {
    while (!pending.empty() && (force || pending_spans >= cfg.batch_size)) {
        std::vector<trace_ref> take;
        std::size_t spans = 0;
        std::size_t i = 0;
        for (; i < pending.size(); ++i) {
            const std::size_t n = pending[i].get()->span_count;
            if (!take.empty() && spans + n > cfg.batch_size) break;
            spans += n;
            take.push_back(std::move(pending[i]));
        }
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(i));
        pending_spans -= spans;
        process_batch(std::move(take));
    }
}

void runtime_core::deliver(std::vector<trace_ref> take) {
    if (take.empty()) return;
    std::size_t repaired = 0;
    for (const trace_ref& t : take) repaired += repair_utf8(t.get());
    if (repaired) [[unlikely]] {
        const std::uint64_t n = stats.strings_utf8_repaired.fetch_add(repaired, std::memory_order_relaxed) + repaired;
        if (g_utf8_log.allow())
            logger()->warn("strings with invalid UTF-8 exported with U+FFFD in place of the bad bytes ({} so far, "
                           "counted in runtime_stats::strings_utf8_repaired)",
                           n);
    }
    auto b = std::make_shared<inflight_batch>();
    b->batch = batch_access::make(std::move(take));
    b->seq = next_batch_seq++;
    b->remaining = deliveries.size();
    if (abandoning) {   // the shutdown deadline has passed
        b->remaining = 0;
        b->dropped_at_shutdown = true;
        finish_batch(*b);
        return;
    }
    if (deliveries.empty()) {
        pipeline_spans.fetch_sub(b->batch.span_count(), std::memory_order_acq_rel);
        check_capacity_waiters_on_strand();
        return;
    }
    for (std::size_t d = 0; d < deliveries.size(); ++d) {
        deliveries[d].batches.push_back(b);
        start_delivery(d);
    }
}

void runtime_core::finish_batch(inflight_batch& b) {
    const std::size_t n = b.batch.span_count();
    if (b.cancel_counted) spans_being_cancelled -= n;
    if (b.dropped_for_room) {
        stats.spans_queue_dropped.fetch_add(n, std::memory_order_relaxed);
        stats.batches_queue_dropped.fetch_add(1, std::memory_order_relaxed);
        losses->record(failure_log::dropped, n, "the oldest undelivered batch given up for newer traces");
    } else if (b.dropped_at_shutdown) {
        stats.spans_shutdown_dropped.fetch_add(n, std::memory_order_relaxed);
        losses->record(failure_log::dropped, n, "undelivered when shutdown_timeout passed");
    } else if (b.failed) {
        stats.spans_export_failed.fetch_add(n, std::memory_order_relaxed);
        (b.permanent ? stats.spans_failed_permanent : stats.spans_retry_expired).fetch_add(n, std::memory_order_relaxed);
    } else if (b.deferred) {
        // counted through runtime_core::deferred when the spool delivers (or gives up)
    } else {
        const std::uint64_t rejected = std::min<std::uint64_t>(b.rejected, n);
        stats.spans_exported.fetch_add(n - rejected, std::memory_order_relaxed);
        stats.spans_rejected.fetch_add(rejected, std::memory_order_relaxed);
        stats.batches_exported.fetch_add(1, std::memory_order_relaxed);
    }
    pipeline_spans.fetch_sub(n, std::memory_order_acq_rel);
    check_capacity_waiters_on_strand();
}

namespace {
asio::awaitable<void> delivery_loop(core_ref c, std::size_t i) {
    runtime_core::delivery& d = c->deliveries[i];
    while (!d.batches.empty()) {
        std::shared_ptr<inflight_batch> b = std::move(d.batches.front());
        d.batches.pop_front();
        d.current = b;
        export_result r;
        try {
            r = co_await d.exp->export_batch(b->batch);
        } catch (const std::exception& e) {
            r = export_result::failure(std::string("exporter threw: ") + e.what());
        }
        d.current.reset();
        if (d.cancelling) {   // give_up_batch_on_strand asked this export to give up
            d.cancelling = false;
            if (!r.success) r.cancelled = true;
            co_await asio::this_coro::reset_cancellation_state();
        }
        c->stats.export_retries.fetch_add(r.attempts > 0 ? r.attempts - 1 : 0, std::memory_order_relaxed);
        if (r.success) {
            b->rejected = std::max(b->rejected, r.rejected_spans);
            b->deferred |= r.deferred;
        } else if (r.cancelled) {
            (c->abandoning ? b->dropped_at_shutdown : b->dropped_for_room) = true;
        } else {
            b->failed = true;
            (r.retryable ? b->expired : b->permanent) = true;
            logger()->debug("exporter '{}' failed: {}", d.exp->name(), r.error);
        }
        if (--b->remaining == 0) c->finish_batch(*b);
    }
    d.busy = false;
    c->check_waiters_on_strand();
}
} // namespace

void runtime_core::give_up_batch_on_strand(const std::shared_ptr<inflight_batch>& b, bool shutdown) {
    for (delivery& d : deliveries) {
        if (d.current == b) {
            // asked to give up; counted as dropped only if the export then ends cancelled (it may
            // already have succeeded, its completion queued behind this handler)
            if (!d.cancelling) {
                d.cancelling = true;
                if (!b->cancel_counted) {
                    b->cancel_counted = true;
                    spans_being_cancelled += b->batch.span_count();
                }
                d.cancel->emit(asio::cancellation_type::terminal);
            }
            continue;
        }
        const auto it = std::find(d.batches.begin(), d.batches.end(), b);
        if (it == d.batches.end()) continue;
        d.batches.erase(it);
        (shutdown ? b->dropped_at_shutdown : b->dropped_for_room) = true;
        if (--b->remaining == 0) {
            finish_batch(*b);
            return;
        }
    }
}

void runtime_core::make_room_on_strand() {
    room_requested.store(false, std::memory_order_release);
    while (pipeline_spans.load(std::memory_order_acquire) > cfg.max_queue_spans + spans_being_cancelled) {
        // the oldest batch an exporter has not finished: in flight (not yet asked) or waiting
        std::shared_ptr<inflight_batch> oldest;
        for (const delivery& d : deliveries) {
            if (d.current && !d.cancelling && (!oldest || d.current->seq < oldest->seq)) oldest = d.current;
            if (!d.batches.empty() && (!oldest || d.batches.front()->seq < oldest->seq)) oldest = d.batches.front();
        }
        if (oldest) {
            give_up_batch_on_strand(oldest, false);
            continue;
        }
        // no batch left to give up: the newest work, not yet batched
        std::vector<trace_ref> victims;
        if (!to_process.empty()) {
            victims = std::move(to_process.front());
            to_process.pop_front();
        } else if (!pending.empty()) {
            pending_spans -= pending.front().get()->span_count;
            victims.push_back(std::move(pending.front()));
            pending.erase(pending.begin());
        } else {
            break;   // all of it is in flight and already asked to give up
        }
        std::size_t n = 0;
        for (const trace_ref& t : victims) n += t.get()->span_count;
        stats.spans_queue_dropped.fetch_add(n, std::memory_order_relaxed);
        losses->record(failure_log::dropped, n, "queued traces given up for newer ones");
        pipeline_spans.fetch_sub(n, std::memory_order_acq_rel);
    }
}

void runtime_core::abandon_on_strand() {
    if (abandoning) return;
    abandoning = true;
    std::size_t waiting = 0;
    for (const delivery& d : deliveries) waiting += d.batches.size() + (d.current ? 1 : 0);
    logger()->warn("shutdown: shutdown_timeout ({} ms) passed with {} batches undelivered; they are given up and "
                   "counted in runtime_stats::spans_shutdown_dropped",
                   cfg.shutdown_timeout.count(), waiting);
    for (;;) {
        std::shared_ptr<inflight_batch> b;
        for (const delivery& d : deliveries) {
            if (!d.batches.empty()) b = d.batches.front();
            else if (d.current && !d.cancelling) b = d.current;
            if (b) break;
        }
        if (!b) break;
        give_up_batch_on_strand(b, true);
    }
}

void runtime_core::release_at_io_context_destruction() noexcept {
    if (shut_down) return;
    for (const auto& e : cfg.exporters) e->io_context_destroyed();
    const std::size_t lost = pipeline_spans.exchange(0, std::memory_order_acq_rel);
    accepting.store(false);
    trace_buffer* t = nullptr;
    while (queue.try_pop(t)) trace_destroy(t);
    pending.clear();
    pending_spans = 0;
    to_process.clear();
    for (delivery& d : deliveries) {
        d.batches.clear();
        d.current.reset();
        d.cancel.reset();
    }
    waiters.clear();
    capacity_waiters.clear();
    if (lost == 0) return;
    stats.spans_shutdown_dropped.fetch_add(lost, std::memory_order_relaxed);
    try {
        logger()->warn("the io_context of runtime '{}' was destroyed before shutdown(): {} spans in its pipeline are "
                       "lost (counted in runtime_stats::spans_shutdown_dropped)",
                       cfg.service_name, lost);
    } catch (...) {
    }
}

void runtime_core::start_delivery(std::size_t i) {
    delivery& d = deliveries[i];
    if (d.busy || d.batches.empty()) return;
    d.busy = true;
    // untracked: an exporter retrying through an outage does not hold the user's io_context::run()
    // (runtime::shutdown() runs the io_context itself until the delivery ends or shutdown_timeout)
    d.cancel = std::make_shared<asio::cancellation_signal>();
    auto done = [keep = d.cancel](const std::exception_ptr&) {};   // keeps the slot's signal alive to the end
    asio::co_spawn(asio::any_io_executor(untracked_executor::wrap(strand)), delivery_loop(core_ref(this), i),
                   with_cancellation_slot(d.cancel->slot(), std::move(done)));
}

bool runtime_core::idle_on_strand() const noexcept {
    if (!pending.empty() || processing || !to_process.empty()) return false;
    for (const auto& d : deliveries)
        if (d.busy || !d.batches.empty()) return false;
    return true;
}

struct flush_waiter {
    explicit flush_waiter(const asio::any_io_executor& ex) : timer(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
};

void runtime_core::check_capacity_waiters_on_strand() {
    if (capacity_waiters.empty()) return;
    std::erase_if(capacity_waiters, [this](const auto& w) {
        if (!has_capacity(w.first) && !shut_down) return false;
        w.second->timer.cancel();
        return true;
    });
}

void runtime_core::check_waiters_on_strand() {
    if (waiters.empty() || !idle_on_strand()) return;
    for (auto& w : waiters) w->timer.cancel();
    waiters.clear();
}

asio::awaitable<void> flush_on_strand(core_ref c) {
    c->drain_on_strand(true);
    while (!c->idle_on_strand()) {
        auto w = std::make_shared<flush_waiter>(c->strand);
        c->waiters.push_back(w);
        boost::system::error_code ec;
        co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        c->drain_on_strand(true);
    }
    for (auto& d : c->deliveries) co_await d.exp->force_flush();
}

asio::awaitable<void> capacity_on_strand(core_ref c, std::size_t spans) {
    while (!c->has_capacity(spans) && !c->shut_down && c->accepting.load(std::memory_order_acquire)) {
        c->drain_on_strand(true);   // hand partly filled batches over now: the producer is waiting
        if (c->has_capacity(spans)) break;
        auto w = std::make_shared<flush_waiter>(c->strand);
        c->capacity_waiters.emplace_back(spans, w);
        boost::system::error_code ec;
        co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

/// Waits (on the strand) until no recorded trace is open or `deadline` passes; true when idle.
/// Polls: a trace completes on whatever thread ends its last span, and completion must stay
/// free of notifications on the hot path.
asio::awaitable<bool> wait_idle_on_strand(core_ref c, std::chrono::steady_clock::time_point deadline) {
    asio::steady_timer timer(c->strand);
    std::chrono::milliseconds step{1};
    for (;;) {
        c->drain_on_strand(false);   // queued traces are complete: count them as kept
        if (c->open_traces() == 0) co_return true;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) co_return false;
        timer.expires_at(std::min(deadline, now + step));
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        step = std::min(step * 2, std::chrono::milliseconds(20));
    }
}

asio::awaitable<void> shutdown_on_strand(core_ref c) {
    if (c->shut_down) co_return;
    c->accepting.store(false, std::memory_order_release);
    if (c->cfg.shutdown_timeout.count() > 0 && !c->shutdown_timer) {
        c->shutdown_timer = std::make_unique<asio::steady_timer>(c->strand, c->cfg.shutdown_timeout);
        c->shutdown_timer->async_wait([c](const boost::system::error_code& ec) {
            if (!ec) c->abandon_on_strand();
        });
    }
    co_await flush_on_strand(core_ref(c));
    co_await final_metric_export(core_ref(c));   // everything the traces recorded, once more
    if (c->shutdown_timer) c->shutdown_timer->cancel();
    for (auto& d : c->deliveries) co_await d.exp->shutdown();
    for (const auto& p : c->processors) {
        try {
            p->shutdown();
        } catch (const std::exception& e) {
            logger()->warn("processor '{}' threw in shutdown: {}", p->name(), e.what());
        }
    }
    c->shut_down = true;
    c->losses->flush();
    c->check_capacity_waiters_on_strand();   // release producers waiting for capacity
    if (c->flush_timer) c->flush_timer->cancel();
}

asio::awaitable<void> graceful_shutdown_on_strand(core_ref c, std::chrono::milliseconds grace) {
    if (c->shut_down) co_return;
    const auto deadline = std::chrono::steady_clock::now() + grace;
    if (!co_await wait_idle_on_strand(core_ref(c), deadline))
        logger()->warn("shutdown: {} traces still open after the {} ms grace period (detached work still "
                       "running); spans that end later are counted in runtime_stats::traces_after_shutdown",
                       c->open_traces(), grace.count());
    co_await shutdown_on_strand(core_ref(c));
}

asio::awaitable<void> start_exporters(core_ref c) {
    exporter_environment env;
    env.executor = c->strand;
    env.service_name = c->cfg.service_name;
    env.deferred = c->deferred;
    env.io_context = &c->ioc;
    env.metrics_export_interval = c->cfg.metrics.export_interval;
    for (auto& d : c->deliveries) d.exp->start(env);
    start_metric_export(*c.get());
    co_return;
}
} // namespace tracecraft::detail
