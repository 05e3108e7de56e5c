// export_stage: start, flush, shutdown, counters and health, written once for every stage.
#include "export/stages/stage_core.hpp"

#include <stdexcept>

namespace tracecraft {

namespace detail {

void stage_core::count(const span_batch& b, const export_result& r) {
    if (r.success) {
        exported_traces.fetch_add(b.trace_count(), std::memory_order_relaxed);
        exported_spans.fetch_add(b.span_count(), std::memory_order_relaxed);
        batches.fetch_add(1, std::memory_order_relaxed);
    } else {
        errors.fetch_add(1, std::memory_order_relaxed);
        failed_traces.fetch_add(b.trace_count(), std::memory_order_relaxed);
        if (on_error) on_error(b, r.error);
    }
}

boost::asio::awaitable<export_result> stage_core::export_counted(span_batch b) {
    export_result r;
    try {
        r = co_await inner->export_batch(b);
    } catch (const std::exception& e) {
        r = export_result::failure(std::string("exporter threw: ") + e.what());
    }
    count(b, r);
    co_return r;
}

} // namespace detail

export_stage::export_stage(exporter_ptr inner, const char* stage) : inner_(std::move(inner)) {
    if (!inner_) throw std::invalid_argument(std::string(stage) + ": inner exporter is null");
}
export_stage::~export_stage() = default;

void export_stage::start(const exporter_environment& env) {
    core_->ex = env.executor;
    core_->ioc = env.io_context;
    core_->on_start();
    inner_->start(env);
}

boost::asio::awaitable<void> export_stage::drain() { co_return; }

boost::asio::awaitable<void> export_stage::force_flush() {
    if (!core_->ex) co_return;   // not started, or shut down
    co_await drain();
    co_await inner_->force_flush();
}

boost::asio::awaitable<void> export_stage::shutdown() {
    if (core_->ex) co_await drain();
    core_->stopping = true;
    core_->release_io();
    core_->ex = boost::asio::any_io_executor();
    co_await inner_->shutdown();
}

void export_stage::io_context_destroyed() noexcept {
    core_->stopping = true;
    core_->release_io();
    core_->ex = boost::asio::any_io_executor();
    core_->ioc = nullptr;
    inner_->io_context_destroyed();
}

exporter_stats export_stage::get_stats() const noexcept {
    const detail::stage_core& c = *core_;
    exporter_stats s;
    s.exported_traces = c.exported_traces.load();
    s.exported_spans = c.exported_spans.load();
    s.batches = c.batches.load();
    s.dropped_traces = c.dropped.load();
    s.errors = c.errors.load();
    s.failed_traces = c.failed_traces.load();
    s.retries = c.retries.load();
    return s;
}

std::size_t export_stage::queue_size() const noexcept { return core_->queued_gauge.load(); }
std::size_t export_stage::pending_count() const noexcept { return core_->pending_gauge.load(); }
bool export_stage::is_healthy() const noexcept {
    if (core_->stopping.load()) return false;
    return core_->capacity == 0 || core_->queued_gauge.load() * 10 < core_->capacity * 9;
}
const exporter_ptr& export_stage::inner() const noexcept { return inner_; }

} // namespace tracecraft
