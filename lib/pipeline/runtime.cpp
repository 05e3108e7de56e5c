// The runtime object: creation of its core on an io_context, the public API (flush, shutdown,
// back-pressure, stats) and the process-wide default runtime. The pipeline's work itself is in
// handoff.cpp, processing.cpp and delivery.cpp.
#include "tracecraft/runtime.hpp"

#include <algorithm>
#include <future>
#include <mutex>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "pipeline/delivery.hpp"
#include "pipeline/runtime_core.hpp"
#include "tracecraft/executor.hpp"
#include "tracecraft/log.hpp"

namespace tracecraft {

namespace asio = boost::asio;

namespace detail {

// ---------------------------------------------------------------- io_context lifetime

/// Registered in each io_context a runtime uses: when the io_context starts its destruction,
/// the runtimes on it release their I/O objects and stop posting.
class lifetime_service : public asio::execution_context::service {
public:
    using key_type = lifetime_service;
    static asio::execution_context::id id;

    explicit lifetime_service(asio::execution_context& ctx)
        : asio::execution_context::service(ctx), liveness(std::make_shared<context_liveness>()) {}

    void add(runtime_core* c) {
        std::lock_guard lk(m_);
        cores_.push_back(c);
    }
    void remove(runtime_core* c) {
        std::lock_guard lk(m_);
        cores_.erase(std::remove(cores_.begin(), cores_.end(), c), cores_.end());
    }

    std::shared_ptr<context_liveness> liveness;

private:
    void shutdown() override {
        liveness->gone.store(true);
        std::lock_guard lk(m_);
        for (runtime_core* c : cores_) {
            c->flush_timer.reset();
            c->shutdown_timer.reset();
            c->metrics_timer.reset();
            c->strand = asio::any_io_executor();
            core_add_ref(c);   // releasing its traces may release the last other reference
            c->release_at_io_context_destruction();
            core_release(c);
        }
        cores_.clear();
    }
    std::mutex m_;
    std::vector<runtime_core*> cores_;
};
asio::execution_context::id lifetime_service::id;

// ---------------------------------------------------------------- references

void core_add_ref(runtime_core* c) noexcept {
    if (c) c->refs.fetch_add(1, std::memory_order_relaxed);
}
void core_release(runtime_core* c) noexcept {
    if (c && c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete c;
}

namespace {
std::mutex g_default_mutex;
std::shared_ptr<runtime> g_default;
std::atomic<runtime_core*> g_default_core{nullptr};
} // namespace

runtime_core* default_core() noexcept { return g_default_core.load(std::memory_order_acquire); }
runtime_core* runtime_core_of(runtime* rt) noexcept { return rt ? rt->core_ : nullptr; }

// ---------------------------------------------------------------- core

runtime_core::runtime_core(asio::io_context& c, trace_config config)
    : cfg(std::move(config)), ioc(c), queue(std::max<std::size_t>(64, cfg.max_queue_spans)) {
    auto& svc = asio::use_service<lifetime_service>(ioc);
    liveness = svc.liveness;
    strand = tracecraft::suppressed(asio::make_strand(ioc.get_executor()));
    // On the plain executor (not the strand): its handler hops to the strand itself, and a wait on
    // a plain io_context executor counts as exactly one unit of outstanding work, which
    // arm_timer_on_strand gives back (see there).
    flush_timer = std::make_unique<asio::steady_timer>(ioc.get_executor());
    rate_all = cfg.sampling.rate >= 1.0;
    rate_threshold = rate_to_threshold(cfg.sampling.rate);
    for (const auto& e : cfg.exporters) deliveries.emplace_back(e);
    losses = std::make_unique<failure_log>("tracecraft pipeline of '" + cfg.service_name + "' (max_queue_spans " +
                                           std::to_string(cfg.max_queue_spans) + ")");
    bind_processors();   // may throw config_error (e.g. a redaction rule that does not compile)
    start_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (cfg.metrics.enabled)
        metrics = std::make_unique<genai_metrics>(cfg.metrics.max_series, cfg.prices ? cfg.prices : price_table::builtin());
    svc.add(this);
}

runtime_core::~runtime_core() {
    trace_buffer* t = nullptr;
    std::size_t lost = 0;
    while (queue.try_pop(t)) {
        lost += t->span_count;
        trace_destroy(t);
    }
    if (lost) logger()->error("runtime destroyed with {} queued spans not exported (call shutdown() first)", lost);
    pending.clear();
    if (!liveness->gone.load()) {
        asio::use_service<lifetime_service>(ioc).remove(this);
    }
}

std::uint64_t runtime_core::open_traces() const noexcept {
    // recorded roots minus the traces whose fate is known (a relaxed snapshot: never negative)
    const std::uint64_t done = stats.traces_sampled_out.load() + stats.traces_queue_dropped.load() +
                               stats.traces_after_shutdown.load() + stats.traces_kept.load() +
                               stats.traces_processor_dropped.load() + stats.traces_processor_failed.load();
    const std::uint64_t started = stats.traces_started.load();
    return started > done ? started - done : 0;
}

} // namespace detail

// ---------------------------------------------------------------- runtime

runtime::runtime(asio::io_context& ioc, trace_config config) : ioc_(ioc), core_(nullptr) {
    config.validate();
    core_ = new detail::runtime_core(ioc, std::move(config));
    if (core_->deliveries.empty())
        logger()->info("runtime '{}' has no exporters: finished traces are counted and released",
                       core_->cfg.service_name);
    asio::co_spawn(core_->strand, detail::start_exporters(detail::core_ref(core_)), asio::detached);
}

runtime::~runtime() {
    {
        std::lock_guard lk(detail::g_default_mutex);
        detail::runtime_core* expected = core_;
        detail::g_default_core.compare_exchange_strong(expected, nullptr);
    }
    if (!core_->shut_down && core_->pipeline_spans.load() > 0 && !core_->liveness->gone.load())
        logger()->warn("runtime destroyed before shutdown(): {} spans still in the pipeline",
                       core_->pipeline_spans.load());
    core_->accepting.store(false);
    detail::core_release(core_);
}

asio::awaitable<void> runtime::async_force_flush() {
    auto op = detail::flush_on_strand(detail::core_ref(core_));
    co_await asio::co_spawn(core_->strand, std::move(op), asio::use_awaitable);
}

bool runtime::has_capacity(std::size_t spans) const noexcept { return core_->has_capacity(spans); }

asio::awaitable<void> runtime::async_wait_for_capacity(std::size_t spans) {
    if (core_->has_capacity(spans)) co_return;
    auto op = detail::capacity_on_strand(detail::core_ref(core_), spans);
    co_await asio::co_spawn(core_->strand, std::move(op), asio::use_awaitable);
}

asio::awaitable<void> runtime::async_shutdown() {
    auto op = detail::shutdown_on_strand(detail::core_ref(core_));
    co_await asio::co_spawn(core_->strand, std::move(op), asio::use_awaitable);
}

asio::awaitable<void> runtime::async_shutdown(std::chrono::milliseconds grace) {
    auto op = detail::graceful_shutdown_on_strand(detail::core_ref(core_), grace);
    co_await asio::co_spawn(core_->strand, std::move(op), asio::use_awaitable);
}

asio::awaitable<bool> runtime::async_wait_idle(std::chrono::milliseconds timeout) {
    auto op = detail::wait_idle_on_strand(detail::core_ref(core_), std::chrono::steady_clock::now() + timeout);
    co_return co_await asio::co_spawn(core_->strand, std::move(op), asio::use_awaitable);
}

void runtime::shutdown() { run_blocking(detail::shutdown_on_strand(detail::core_ref(core_))); }
void runtime::shutdown(std::chrono::milliseconds grace) {
    run_blocking(detail::graceful_shutdown_on_strand(detail::core_ref(core_), grace));
}
void runtime::force_flush() { run_blocking(detail::flush_on_strand(detail::core_ref(core_))); }

void runtime::run_blocking(asio::awaitable<void> op) {
    if (core_->liveness->gone.load()) return;   // the io_context is gone (ioc_ with it): nothing can run
    if (ioc_.get_executor().running_in_this_thread())
        throw std::logic_error("tracecraft::runtime: blocking shutdown()/force_flush() called from a handler of "
                               "its own io_context would deadlock; co_await async_shutdown() instead");
    if (core_->liveness->gone.load()) return;
    std::promise<void> done;
    auto fut = done.get_future();
    asio::co_spawn(core_->strand, std::move(op), [&done](std::exception_ptr e) {
        if (e)
            done.set_exception(e);
        else
            done.set_value();
    });
    if (ioc_.stopped()) ioc_.restart();
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        ioc_.run_one_for(std::chrono::milliseconds(20));
        if (ioc_.stopped()) ioc_.restart();
    }
    fut.get();
}


namespace detail {

runtime_stats stats_of(const runtime_core& core) noexcept {
    const auto& s = core.stats;
    runtime_stats r;
    r.traces_head_dropped = s.traces_head_dropped.load();
    r.traces_started = s.traces_started.load() + r.traces_head_dropped;
    r.traces_sampled_out = s.traces_sampled_out.load();
    r.traces_processor_dropped = s.traces_processor_dropped.load();
    r.traces_processor_failed = s.traces_processor_failed.load();
    r.traces_kept = s.traces_kept.load();
    r.traces_queue_dropped = s.traces_queue_dropped.load();
    r.traces_after_shutdown = s.traces_after_shutdown.load();
    r.traces_completed = r.traces_sampled_out + r.traces_processor_dropped + r.traces_processor_failed +
                         r.traces_queue_dropped + r.traces_after_shutdown + r.traces_kept;
    r.spans_kept = s.spans_kept.load();
    r.spans_queue_dropped = s.spans_queue_dropped.load();
    r.spans_depth_dropped = s.spans_depth_dropped.load();
    const deferred_delivery& d = *core.deferred;
    r.spans_exported = s.spans_exported.load() + d.exported.load();
    r.spans_rejected = s.spans_rejected.load() + d.rejected.load();
    r.spans_failed_permanent = s.spans_failed_permanent.load() + d.failed_permanent.load();
    r.spans_retry_expired = s.spans_retry_expired.load() + d.retry_expired.load();
    r.spans_export_failed = s.spans_export_failed.load() + d.failed_permanent.load() + d.retry_expired.load();
    r.spans_spooled = d.pending.load();
    r.spans_spool_dropped = d.dropped.load();
    r.spans_spool_replayed = d.replayed.load();
    r.spans_shutdown_dropped = s.spans_shutdown_dropped.load();
    r.batches_queue_dropped = s.batches_queue_dropped.load();
    r.export_retries = s.export_retries.load() + d.retries.load();
    r.batches_exported = s.batches_exported.load();
    r.queue_spans = core.pipeline_spans.load();
    r.spans_redacted = s.spans_redacted.load();
    r.redaction_failures = s.redaction_failures.load();
    r.redaction_budget_exhausted = s.redaction_budget_exhausted.load();
    r.strings_utf8_repaired = s.strings_utf8_repaired.load();
    r.context_waits = s.context_waits.load();
    r.spans_out_of_order = s.spans_out_of_order.load();
    r.spans_abandoned = s.spans_abandoned.load();
    r.traces_open = core.open_traces();
    if (core.metrics) r.metric_series_overflow = core.metrics->overflowed();
    r.metric_exports = s.metric_exports.load();
    r.metric_export_failures = s.metric_export_failures.load();
    return r;
}

metrics_snapshot metrics_of(const runtime_core& core) {
    metrics_snapshot m;
    if (!core.metrics) return m;
    m.start_unix_ns = core.start_unix_ns;
    m.time_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    core.metrics->collect(m);
    append_health_metrics(m, stats_of(core), core.cfg.max_queue_spans);
    return m;
}

} // namespace detail

runtime_stats runtime::stats() const noexcept { return detail::stats_of(*core_); }

metrics_snapshot runtime::metrics() const { return detail::metrics_of(*core_); }

bool runtime::is_healthy() const noexcept {
    return core_->accepting.load() && !core_->liveness->gone.load() &&
           core_->pipeline_spans.load() * 10 < core_->cfg.max_queue_spans * 9;
}

const trace_config& runtime::config() const noexcept { return core_->cfg; }
asio::io_context& runtime::context() const noexcept { return ioc_; }

std::shared_ptr<runtime> init(asio::io_context& ioc, trace_config config) {
    auto rt = std::make_shared<runtime>(ioc, std::move(config));
    std::shared_ptr<runtime> old;
    {
        std::lock_guard lk(detail::g_default_mutex);
        old = std::move(detail::g_default);
        detail::g_default = rt;
        detail::g_default_core.store(detail::runtime_core_of(rt.get()), std::memory_order_release);
    }
    return rt;
}

std::shared_ptr<runtime> default_runtime() noexcept {
    std::lock_guard lk(detail::g_default_mutex);
    return detail::g_default;
}

void reset_default_runtime() noexcept {
    std::shared_ptr<runtime> old;
    std::lock_guard lk(detail::g_default_mutex);
    old = std::move(detail::g_default);
    detail::g_default_core.store(nullptr, std::memory_order_release);
}

} // namespace tracecraft
