// Export stages: batching, async workers, rate limiting, retries — coroutines on the strand.
#include "tracecraft/exporters/stages.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <spdlog/spdlog.h>

#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/log.hpp"

namespace tracecraft {

namespace asio = boost::asio;

namespace detail {

/// Coroutines waiting for a condition on the strand; notify_all wakes them.
struct waiter_list {
    std::vector<std::shared_ptr<asio::steady_timer>> list;
    asio::awaitable<void> wait(asio::any_io_executor ex) {
        auto t = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
        list.push_back(t);
        boost::system::error_code ec;
        co_await t->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    void notify_all() {
        for (auto& t : list) t->cancel();
        list.clear();
    }
};

struct stage_state {
    exporter_ptr inner;
    asio::any_io_executor ex;
    bool started = false;
    bool stopping = false;

    // queue (batch / async stages)
    std::deque<trace_ref> queue;
    std::size_t capacity = 1000;
    std::size_t batch_size = 50;
    std::chrono::milliseconds flush_interval{5000};
    std::size_t busy = 0;          ///< traces being exported
    std::size_t workers = 0;       ///< running sender/worker coroutines
    std::size_t max_workers = 1;
    bool force = false;
    bool timer_fired = false;
    bool timer_armed = false;
    std::unique_ptr<asio::steady_timer> timer;
    waiter_list idle;
    error_callback on_error;
    drop_callback on_drop;

    // rate limiting
    double rate = 100.0, burst = 10.0, tokens = 10.0;
    bool blocking = true;
    std::chrono::steady_clock::time_point last_refill = std::chrono::steady_clock::now();

    // retries
    retrying_exporter::options retry;

    // counters (read from any thread)
    std::atomic<std::uint64_t> exported_traces{0}, exported_spans{0}, batches{0}, dropped{0}, errors{0},
        failed_traces{0}, retries{0};
    std::atomic<std::size_t> queued_gauge{0}, pending_gauge{0};

    void update_gauges() {
        queued_gauge.store(queue.size(), std::memory_order_relaxed);
        pending_gauge.store(queue.size() + busy, std::memory_order_relaxed);
    }
    exporter_stats stats() const noexcept {
        exporter_stats s;
        s.exported_traces = exported_traces.load();
        s.exported_spans = exported_spans.load();
        s.batches = batches.load();
        s.dropped_traces = dropped.load();
        s.errors = errors.load();
        s.failed_traces = failed_traces.load();
        s.retries = retries.load();
        return s;
    }
    /// Queues the traces of `b`, dropping (and counting) what does not fit.
    void enqueue(const span_batch& b) {
        for (const auto& t : b.traces()) {
            if (queue.size() >= capacity) {
                dropped.fetch_add(1, std::memory_order_relaxed);
                if (on_drop) on_drop(trace_view(t.get()));
                continue;
            }
            queue.push_back(t);
        }
        update_gauges();
    }
    span_batch take(std::size_t max_traces) {
        std::vector<trace_ref> v;
        const std::size_t n = std::min(max_traces, queue.size());
        v.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            v.push_back(std::move(queue.front()));
            queue.pop_front();
        }
        return span_batch(std::move(v));
    }
    /// One inner export with exception safety and accounting.
    asio::awaitable<export_result> export_counted(span_batch b) {
        export_result r;
        try {
            r = co_await inner->export_batch(b);
        } catch (const std::exception& e) {
            r = export_result::failure(std::string("exporter threw: ") + e.what());
        }
        if (r.success) {
            exported_traces.fetch_add(b.trace_count(), std::memory_order_relaxed);
            exported_spans.fetch_add(b.span_count(), std::memory_order_relaxed);
            batches.fetch_add(1, std::memory_order_relaxed);
        } else {
            errors.fetch_add(1, std::memory_order_relaxed);
            failed_traces.fetch_add(b.trace_count(), std::memory_order_relaxed);
            if (on_error) on_error(b, r.error);
        }
        co_return r;
    }
    void start_inner(const exporter_environment& env) {
        ex = env.executor;
        started = true;
        timer = std::make_unique<asio::steady_timer>(ex);
        inner->start(env);
    }
    void release_io() {
        if (timer) timer->cancel();
        timer.reset();
        idle.notify_all();
        ex = asio::any_io_executor();
    }
};

namespace {

void check_inner(const exporter_ptr& p, const char* stage) {
    if (!p) throw std::invalid_argument(std::string(stage) + ": inner exporter is null");
}

// ---------------------------------------------------------------- batch stage

void batch_start_sender(const std::shared_ptr<stage_state>& st);

void batch_arm_timer(const std::shared_ptr<stage_state>& st) {
    if (st->timer_armed || !st->timer || st->queue.empty()) return;
    st->timer_armed = true;
    st->timer->expires_after(st->flush_interval);
    st->timer->async_wait([st](const boost::system::error_code& ec) {
        st->timer_armed = false;
        if (ec) return;
        st->timer_fired = true;
        batch_start_sender(st);
    });
}

asio::awaitable<void> batch_sender(std::shared_ptr<stage_state> st) {
    while (!st->queue.empty() && (st->queue.size() >= st->batch_size || st->force || st->timer_fired)) {
        span_batch b = st->take(st->batch_size);
        st->busy += b.trace_count();
        st->update_gauges();
        co_await st->export_counted(b);
        st->busy -= b.trace_count();
        st->update_gauges();
    }
    st->timer_fired = false;
    --st->workers;
    batch_arm_timer(st);
    if (st->queue.empty() && st->workers == 0) st->idle.notify_all();
}

void batch_start_sender(const std::shared_ptr<stage_state>& st) {
    if (st->workers > 0 || !st->ex) return;
    ++st->workers;
    asio::co_spawn(st->ex, batch_sender(st), asio::detached);
}

// ---------------------------------------------------------------- async stage

asio::awaitable<void> async_worker(std::shared_ptr<stage_state> st) {
    while (!st->queue.empty()) {
        span_batch one = st->take(1);
        ++st->busy;
        st->update_gauges();
        co_await st->export_counted(one);
        --st->busy;
        st->update_gauges();
    }
    --st->workers;
    if (st->workers == 0) st->idle.notify_all();
}

void async_start_workers(const std::shared_ptr<stage_state>& st) {
    // workers are started on demand and end when the queue is empty, so an idle stage holds
    // no outstanding work on the io_context
    while (st->ex && st->workers < st->max_workers && st->workers < st->queue.size()) {
        ++st->workers;
        asio::co_spawn(st->ex, async_worker(st), asio::detached);
    }
}

asio::awaitable<void> wait_idle(std::shared_ptr<stage_state> st) {
    while (!(st->queue.empty() && st->workers == 0 && st->busy == 0)) co_await st->idle.wait(st->ex);
}

} // namespace
} // namespace detail

// ---------------------------------------------------------------- async_batch_exporter

async_batch_exporter::async_batch_exporter(exporter_ptr inner, options o) : st_(std::make_shared<detail::stage_state>()) {
    detail::check_inner(inner, "async_batch_exporter");
    if (o.batch_size == 0) throw config_error("async_batch_exporter.batch_size", "must be > 0");
    if (o.max_queue_size == 0) throw config_error("async_batch_exporter.max_queue_size", "must be > 0");
    if (o.flush_interval.count() <= 0) throw config_error("async_batch_exporter.flush_interval", "must be > 0 ms");
    st_->inner = std::move(inner);
    st_->batch_size = o.batch_size;
    st_->capacity = o.max_queue_size;
    st_->flush_interval = o.flush_interval;
    st_->on_error = std::move(o.on_error);
    st_->on_drop = std::move(o.on_drop);
}
async_batch_exporter::~async_batch_exporter() = default;

void async_batch_exporter::start(const exporter_environment& env) { st_->start_inner(env); }

boost::asio::awaitable<export_result> async_batch_exporter::export_batch(span_batch batch) {
    if (st_->stopping) co_return export_result::failure("async_batch_exporter: shut down");
    st_->enqueue(batch);
    if (st_->queue.size() >= st_->batch_size)
        detail::batch_start_sender(st_);
    else
        detail::batch_arm_timer(st_);
    co_return export_result::ok();
}

boost::asio::awaitable<void> async_batch_exporter::force_flush() {
    if (!st_->ex) co_return;
    st_->force = true;
    detail::batch_start_sender(st_);
    co_await detail::wait_idle(st_);
    st_->force = false;
    co_await st_->inner->force_flush();
}

boost::asio::awaitable<void> async_batch_exporter::shutdown() {
    co_await force_flush();
    st_->stopping = true;
    st_->release_io();
    co_await st_->inner->shutdown();
}

exporter_stats async_batch_exporter::get_stats() const noexcept { return st_->stats(); }
std::size_t async_batch_exporter::queue_size() const noexcept { return st_->queued_gauge.load(); }
std::size_t async_batch_exporter::pending_count() const noexcept { return st_->pending_gauge.load(); }
bool async_batch_exporter::is_healthy() const noexcept {
    return !st_->stopping && st_->queued_gauge.load() * 10 < st_->capacity * 9;
}

// ---------------------------------------------------------------- async_exporter

async_exporter::async_exporter(exporter_ptr inner, options o) : st_(std::make_shared<detail::stage_state>()) {
    detail::check_inner(inner, "async_exporter");
    if (o.queue_size == 0) throw config_error("async_exporter.queue_size", "must be > 0");
    if (o.num_workers == 0) throw config_error("async_exporter.num_workers", "must be > 0");
    st_->inner = std::move(inner);
    st_->capacity = o.queue_size;
    st_->max_workers = o.num_workers;
    st_->on_error = std::move(o.on_error);
    st_->on_drop = std::move(o.on_drop);
}
async_exporter::~async_exporter() = default;

void async_exporter::start(const exporter_environment& env) { st_->start_inner(env); }

boost::asio::awaitable<export_result> async_exporter::export_batch(span_batch batch) {
    if (st_->stopping) co_return export_result::failure("async_exporter: shut down");
    st_->enqueue(batch);
    detail::async_start_workers(st_);
    co_return export_result::ok();
}

boost::asio::awaitable<void> async_exporter::force_flush() {
    if (!st_->ex) co_return;
    detail::async_start_workers(st_);
    co_await detail::wait_idle(st_);
    co_await st_->inner->force_flush();
}

boost::asio::awaitable<void> async_exporter::shutdown() {
    co_await force_flush();
    st_->stopping = true;
    st_->release_io();
    co_await st_->inner->shutdown();
}

exporter_stats async_exporter::get_stats() const noexcept { return st_->stats(); }
std::size_t async_exporter::queue_size() const noexcept { return st_->queued_gauge.load(); }
std::size_t async_exporter::pending_count() const noexcept { return st_->pending_gauge.load(); }
bool async_exporter::is_healthy() const noexcept {
    return !st_->stopping && st_->queued_gauge.load() * 10 < st_->capacity * 9;
}

// ---------------------------------------------------------------- rate_limited_exporter

rate_limited_exporter::rate_limited_exporter(exporter_ptr inner, double rate, double burst, bool blocking)
    : st_(std::make_shared<detail::stage_state>()) {
    detail::check_inner(inner, "rate_limited_exporter");
    if (!(rate > 0.0)) throw config_error("rate_limited_exporter.rate", "must be > 0");
    if (!(burst >= 1.0)) throw config_error("rate_limited_exporter.burst", "must be >= 1");
    st_->inner = std::move(inner);
    st_->rate = rate;
    st_->burst = burst;
    st_->tokens = burst;
    st_->blocking = blocking;
}
rate_limited_exporter::~rate_limited_exporter() = default;

void rate_limited_exporter::start(const exporter_environment& env) { st_->start_inner(env); }

boost::asio::awaitable<export_result> rate_limited_exporter::export_batch(span_batch batch) {
    auto& st = *st_;
    auto refill = [&st] {
        const auto now = std::chrono::steady_clock::now();
        st.tokens = std::min(st.burst, st.tokens + std::chrono::duration<double>(now - st.last_refill).count() * st.rate);
        st.last_refill = now;
    };
    std::vector<detail::trace_ref> allowed;
    for (const auto& t : batch.traces()) {
        refill();
        if (st.tokens < 1.0 && st.blocking && st.ex) {
            // a timer of our own: concurrent callers (e.g. async_exporter workers) never cancel
            // each other's waits
            const double wait_s = (1.0 - st.tokens) / st.rate;
            asio::steady_timer wait(st.ex, std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                               std::chrono::duration<double>(wait_s)));
            boost::system::error_code ec;
            co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            refill();
        }
        if (st.tokens >= 1.0) {
            st.tokens -= 1.0;
            allowed.push_back(t);
        } else {
            st.dropped.fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (allowed.empty()) co_return export_result::ok();
    co_return co_await st_->export_counted(span_batch(std::move(allowed)));
}

boost::asio::awaitable<void> rate_limited_exporter::force_flush() { co_await st_->inner->force_flush(); }
boost::asio::awaitable<void> rate_limited_exporter::shutdown() {
    st_->stopping = true;
    st_->release_io();
    co_await st_->inner->shutdown();
}
std::uint64_t rate_limited_exporter::dropped_count() const noexcept { return st_->dropped.load(); }
exporter_stats rate_limited_exporter::get_stats() const noexcept { return st_->stats(); }

// ---------------------------------------------------------------- retrying_exporter

retrying_exporter::retrying_exporter(exporter_ptr inner, options o) : st_(std::make_shared<detail::stage_state>()) {
    detail::check_inner(inner, "retrying_exporter");
    if (o.base_delay.count() < 0) throw config_error("retrying_exporter.base_delay", "must be >= 0");
    if (o.max_delay < o.base_delay) throw config_error("retrying_exporter.max_delay", "must be >= base_delay");
    st_->inner = std::move(inner);
    st_->retry = o;
}
retrying_exporter::~retrying_exporter() = default;

void retrying_exporter::start(const exporter_environment& env) { st_->start_inner(env); }

boost::asio::awaitable<export_result> retrying_exporter::export_batch(span_batch batch) {
    auto& st = *st_;
    for (std::uint32_t attempt = 0;; ++attempt) {
        export_result r;
        try {
            r = co_await st.inner->export_batch(batch);
        } catch (const boost::system::system_error& e) {
            r = export_result::failure(std::string("exporter threw: ") + e.what(), true);   // I/O: retry
        } catch (const std::exception& e) {
            r = export_result::failure(std::string("exporter threw: ") + e.what(), false);
        }
        if (r.success || !r.retryable || attempt >= st.retry.max_retries || st.stopping || !st.ex) {
            if (r.success) {
                st.exported_traces.fetch_add(batch.trace_count(), std::memory_order_relaxed);
                st.exported_spans.fetch_add(batch.span_count(), std::memory_order_relaxed);
                st.batches.fetch_add(1, std::memory_order_relaxed);
            } else {
                st.errors.fetch_add(1, std::memory_order_relaxed);
                st.failed_traces.fetch_add(batch.trace_count(), std::memory_order_relaxed);
            }
            co_return r;
        }
        st.retries.fetch_add(1, std::memory_order_relaxed);
        const double base = static_cast<double>(st.retry.base_delay.count()) * std::ldexp(1.0, static_cast<int>(attempt));
        const double capped = std::min(base, static_cast<double>(st.retry.max_delay.count()));
        const double jitter = 0.5 + 0.5 * static_cast<double>(detail::random_u64() >> 11) / 9007199254740992.0;
        asio::steady_timer backoff(st.ex, std::chrono::microseconds(static_cast<std::int64_t>(capped * jitter * 1000.0)));
        boost::system::error_code ec;
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

boost::asio::awaitable<void> retrying_exporter::force_flush() { co_await st_->inner->force_flush(); }
boost::asio::awaitable<void> retrying_exporter::shutdown() {
    st_->stopping = true;
    st_->release_io();
    co_await st_->inner->shutdown();
}
exporter_stats retrying_exporter::get_stats() const noexcept { return st_->stats(); }

} // namespace tracecraft
