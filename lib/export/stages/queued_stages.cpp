// The stages with a bounded queue of their own: async_batch_exporter (one sender coroutine
// forming batches by size or age) and async_exporter (up to num_workers coroutines exporting
// trace by trace). Coroutines on the strand, started on demand and ended when the queue is
// empty, so an idle stage holds no outstanding work on the io_context.
#include <algorithm>
#include <deque>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "record/view_access.hpp"
#include "export/stages/stage_core.hpp"
#include "record/batch_access.hpp"

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

struct queued_stage_state : stage_core {
    std::deque<trace_ref> queue;
    std::size_t batch_size = 50;          ///< batch stage: traces per inner call
    std::chrono::milliseconds flush_interval{5000};
    std::size_t max_workers = 1;          ///< async stage
    std::size_t busy = 0;                 ///< traces being exported
    std::size_t workers = 0;              ///< running sender/worker coroutines
    bool force = false;
    bool timer_fired = false;
    bool timer_armed = false;
    std::unique_ptr<asio::steady_timer> timer;
    waiter_list idle;
    drop_callback on_drop;

    void on_start() override { timer = std::make_unique<asio::steady_timer>(ex); }
    void release_io() override {
        if (timer) timer->cancel();
        timer.reset();
        idle.notify_all();
    }
    void update_gauges() {
        queued_gauge.store(queue.size(), std::memory_order_relaxed);
        pending_gauge.store(queue.size() + busy, std::memory_order_relaxed);
    }
    /// Queues the traces of `b`, dropping (and counting) what does not fit.
    void enqueue(const span_batch& b) {
        for (const auto& t : batch_access::traces(b)) {
            if (queue.size() >= capacity) {
                dropped.fetch_add(1, std::memory_order_relaxed);
                if (on_drop) on_drop(view_access::trace(t.get()));
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
        return batch_access::make(std::move(v));
    }
    /// Exports `b` with the busy gauge up meanwhile.
    asio::awaitable<void> export_busy(span_batch b) {
        busy += b.trace_count();
        update_gauges();
        co_await export_counted(b);
        busy -= b.trace_count();
        update_gauges();
    }
    asio::awaitable<void> wait_idle() {
        while (!(queue.empty() && workers == 0 && busy == 0)) co_await idle.wait(ex);
    }
};

namespace {

// ---------------------------------------------------------------- batch stage

void batch_start_sender(const std::shared_ptr<queued_stage_state>& st);

void batch_arm_timer(const std::shared_ptr<queued_stage_state>& st) {
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

asio::awaitable<void> batch_sender(std::shared_ptr<queued_stage_state> st) {
    while (!st->queue.empty() && (st->queue.size() >= st->batch_size || st->force || st->timer_fired)) {
        auto op = st->export_busy(st->take(st->batch_size));   // named local: GCC 12 co_await rule
        co_await std::move(op);
    }
    st->timer_fired = false;
    --st->workers;
    batch_arm_timer(st);
    if (st->queue.empty() && st->workers == 0) st->idle.notify_all();
}

void batch_start_sender(const std::shared_ptr<queued_stage_state>& st) {
    if (st->workers > 0 || !st->ex) return;
    ++st->workers;
    asio::co_spawn(st->ex, batch_sender(st), asio::detached);
}

// ---------------------------------------------------------------- async stage

asio::awaitable<void> async_worker(std::shared_ptr<queued_stage_state> st) {
    while (!st->queue.empty()) {
        auto op = st->export_busy(st->take(1));   // named local: GCC 12 co_await rule
        co_await std::move(op);
    }
    --st->workers;
    if (st->workers == 0) st->idle.notify_all();
}

void async_start_workers(const std::shared_ptr<queued_stage_state>& st) {
    while (st->ex && st->workers < st->max_workers && st->workers < st->queue.size()) {
        ++st->workers;
        asio::co_spawn(st->ex, async_worker(st), asio::detached);
    }
}

} // namespace
} // namespace detail

// ---------------------------------------------------------------- async_batch_exporter

async_batch_exporter::async_batch_exporter(exporter_ptr inner, options o)
    : export_stage(std::move(inner), "async_batch_exporter"), st_(detail::make_stage_state<detail::queued_stage_state>(this->inner())) {
    if (o.batch_size == 0) throw config_error("async_batch_exporter.batch_size", "must be > 0");
    if (o.max_queue_size == 0) throw config_error("async_batch_exporter.max_queue_size", "must be > 0");
    if (o.flush_interval.count() <= 0) throw config_error("async_batch_exporter.flush_interval", "must be > 0 ms");
    st_->batch_size = o.batch_size;
    st_->capacity = o.max_queue_size;
    st_->flush_interval = o.flush_interval;
    st_->on_error = std::move(o.on_error);
    st_->on_drop = std::move(o.on_drop);
    core_ = st_;
}
async_batch_exporter::~async_batch_exporter() = default;

boost::asio::awaitable<export_result> async_batch_exporter::export_batch(span_batch batch) {
    if (st_->stopping) co_return export_result::failure("async_batch_exporter: shut down");
    st_->enqueue(batch);
    if (st_->queue.size() >= st_->batch_size)
        detail::batch_start_sender(st_);
    else
        detail::batch_arm_timer(st_);
    co_return export_result::ok();
}

boost::asio::awaitable<void> async_batch_exporter::drain() {
    st_->force = true;
    detail::batch_start_sender(st_);
    co_await st_->wait_idle();
    st_->force = false;
}

// ---------------------------------------------------------------- async_exporter

async_exporter::async_exporter(exporter_ptr inner, options o)
    : export_stage(std::move(inner), "async_exporter"), st_(detail::make_stage_state<detail::queued_stage_state>(this->inner())) {
    if (o.queue_size == 0) throw config_error("async_exporter.queue_size", "must be > 0");
    if (o.num_workers == 0) throw config_error("async_exporter.num_workers", "must be > 0");
    st_->capacity = o.queue_size;
    st_->max_workers = o.num_workers;
    st_->on_error = std::move(o.on_error);
    st_->on_drop = std::move(o.on_drop);
    core_ = st_;
}
async_exporter::~async_exporter() = default;

boost::asio::awaitable<export_result> async_exporter::export_batch(span_batch batch) {
    if (st_->stopping) co_return export_result::failure("async_exporter: shut down");
    st_->enqueue(batch);
    detail::async_start_workers(st_);
    co_return export_result::ok();
}

boost::asio::awaitable<void> async_exporter::drain() {
    detail::async_start_workers(st_);
    co_await st_->wait_idle();
}

} // namespace tracecraft
