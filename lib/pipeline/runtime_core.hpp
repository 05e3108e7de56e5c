// The shared state behind a tracecraft::runtime (private to the library): what the span hot
// path reads (head sampling, limits, counters), the hand-off queue, the bound processors and
// the strand-only state of batching and delivery.
//
// Who touches what:
//   any thread   head-sampling fields, counters, queue push (on_trace_complete, handoff.cpp)
//   strand only  everything under "strand-only" (handoff.cpp, processing.cpp, delivery.cpp)
#pragma once

#include "metrics/genai_metrics.hpp"
#include "support/background_wait.hpp"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "export/delivery/failure_log.hpp"
#include "pipeline/mpsc_queue.hpp"
#include "tracecraft/config.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/runtime.hpp"

namespace tracecraft::detail {

struct counters {
    std::atomic<std::uint64_t> metric_exports{0};
    std::atomic<std::uint64_t> metric_export_failures{0};
    std::atomic<std::uint64_t> traces_started{0};
    std::atomic<std::uint64_t> traces_head_dropped{0};
    std::atomic<std::uint64_t> traces_sampled_out{0};
    std::atomic<std::uint64_t> traces_processor_dropped{0};
    std::atomic<std::uint64_t> traces_processor_failed{0};
    std::atomic<std::uint64_t> traces_kept{0};
    std::atomic<std::uint64_t> traces_queue_dropped{0};
    std::atomic<std::uint64_t> traces_after_shutdown{0};
    std::atomic<std::uint64_t> spans_kept{0};
    std::atomic<std::uint64_t> spans_queue_dropped{0};
    std::atomic<std::uint64_t> spans_depth_dropped{0};
    std::atomic<std::uint64_t> spans_exported{0};
    std::atomic<std::uint64_t> spans_export_failed{0};
    std::atomic<std::uint64_t> spans_rejected{0};
    std::atomic<std::uint64_t> spans_failed_permanent{0};
    std::atomic<std::uint64_t> spans_retry_expired{0};
    std::atomic<std::uint64_t> spans_shutdown_dropped{0};
    std::atomic<std::uint64_t> batches_queue_dropped{0};
    std::atomic<std::uint64_t> export_retries{0};
    std::atomic<std::uint64_t> batches_exported{0};
    std::atomic<std::uint64_t> spans_redacted{0};
    std::atomic<std::uint64_t> redaction_failures{0};
    std::atomic<std::uint64_t> redaction_budget_exhausted{0};
    std::atomic<std::uint64_t> strings_utf8_repaired{0};
    std::atomic<std::uint64_t> context_waits{0};
    std::atomic<std::uint64_t> spans_out_of_order{0};
    std::atomic<std::uint64_t> spans_abandoned{0};
};

/// Flag shared with an io_context service: set when the io_context begins destruction.
struct context_liveness {
    std::atomic<bool> gone{false};
};

struct flush_waiter;
struct inflight_batch;

struct runtime_core;
/// The counters of runtime::stats() and the snapshot of runtime::metrics() (any thread).
runtime_stats stats_of(const runtime_core& core) noexcept;
metrics_snapshot metrics_of(const runtime_core& core);

struct runtime_core {
    explicit runtime_core(boost::asio::io_context& ioc, trace_config cfg);
    ~runtime_core();

    std::atomic<std::uint32_t> refs{1};
    trace_config cfg;
    boost::asio::io_context& ioc;
    boost::asio::any_io_executor strand;          ///< suppressed strand of ioc
    std::shared_ptr<context_liveness> liveness;

    // --- head sampling (read on the span hot path; see record/span_scope.cpp) ---
    bool tail_enabled = false;    ///< set by the tail sampler when bound: record every trace
    std::uint64_t rate_threshold = 0;   ///< keep iff low 56 bits of trace id < threshold
    bool rate_all = true;

    // --- processors (bound to this runtime, see processing.cpp) ---
    std::vector<processor_ptr> processors;
    std::size_t inline_processors = 0;   ///< leading ones that run on the completing thread

    // --- hand-off (handoff.cpp) ---
    mpsc_queue<trace_buffer*> queue;
    std::atomic<std::size_t> pipeline_spans{0};   ///< queued + being processed/exported (memory bound)
    std::atomic<std::size_t> undrained_spans{0};  ///< pushed but not yet popped by the strand
    std::atomic<bool> accepting{true};
    std::atomic<bool> room_requested{false};   ///< make_room_on_strand is posted (drop_oldest)
    std::unique_ptr<failure_log> losses;       ///< the pipeline's own losses, said at warn
    std::unique_ptr<genai_metrics> metrics;    ///< null when cfg.metrics.enabled is false
    std::int64_t start_unix_ns = 0;            ///< the runtime's start (cumulative metrics' start time)
    // --- metric export (strand only) ---
    std::unique_ptr<background_timer> metrics_timer;   ///< the export loop waits on it
    metrics_snapshot metrics_sent;                     ///< what the last delta export was taken against
    bool metrics_exporting = false;                    ///< an export is in progress
    bool metrics_final_done = false;
    std::atomic<bool> warned_after_shutdown{false};
    counters stats;

    // --- strand-only state ---
    std::unique_ptr<boost::asio::steady_timer> flush_timer;
    bool timer_armed = false;
    bool shut_down = false;
    std::vector<trace_ref> pending;     ///< popped, not yet batched
    std::size_t pending_spans = 0;
    std::deque<std::vector<trace_ref>> to_process;   ///< batches waiting for the strand processors
    bool processing = false;
    struct delivery {
        explicit delivery(exporter_ptr e) : exp(std::move(e)) {}
        exporter_ptr exp;
        std::deque<std::shared_ptr<inflight_batch>> batches;   ///< waiting for this exporter
        std::shared_ptr<inflight_batch> current;               ///< being exported
        /// Cancels the export of `current` (an exporter retrying through an outage gives up).
        /// One per run of the delivery coroutine, kept alive by its completion handler: a new
        /// run must not share a slot with the previous one while that one is still finishing.
        std::shared_ptr<boost::asio::cancellation_signal> cancel;
        bool cancelling = false;
        bool busy = false;
    };
    std::shared_ptr<deferred_delivery> deferred = std::make_shared<deferred_delivery>();
    std::uint64_t next_batch_seq = 0;
    std::size_t spans_being_cancelled = 0;   ///< in-flight batches asked to give up for room
    bool abandoning = false;                 ///< the shutdown deadline passed
    std::unique_ptr<boost::asio::steady_timer> shutdown_timer;
    std::vector<delivery> deliveries;
    std::vector<std::shared_ptr<flush_waiter>> waiters;
    std::vector<std::pair<std::size_t, std::shared_ptr<flush_waiter>>> capacity_waiters;   ///< (spans, waiter)

    [[nodiscard]] bool has_capacity(std::size_t spans) const noexcept {
        return pipeline_spans.load(std::memory_order_acquire) + std::min(spans, cfg.max_queue_spans) <= cfg.max_queue_spans;
    }

    // handoff.cpp
    /// Called when a recorded trace completes (any thread). Takes ownership of `t`.
    void on_trace_complete(trace_buffer* t) noexcept;
    void drain_on_strand(bool force);
    void arm_timer_on_strand();

    // processing.cpp
    void bind_processors();
    /// Runs the inline processors on the completing thread; false if one dropped `t` (freed).
    bool process_inline(trace_buffer* t) noexcept;
    /// Hands a batch to the strand processors (then to deliver), or straight to deliver.
    void process_batch(std::vector<trace_ref> traces);
    /// Counts a trace a processor dropped, by who dropped it: the tail sampler (its drop reason
    /// is on the trace) or another processor. (Failures are counted where they are caught.)
    void count_drop(const trace_buffer* t) noexcept;

    // delivery.cpp
    void dispatch_batches_on_strand(bool force);
    void deliver(std::vector<trace_ref> traces);
    /// drop_oldest: gives the oldest undelivered batches up until the pipeline fits again.
    void make_room_on_strand();
    /// Shutdown deadline: gives every undelivered batch up (counted as shutdown-dropped).
    void abandon_on_strand();
    /// The io_context is being destroyed before shutdown(): tells the exporters, and gives up
    /// every trace the pipeline holds (counted as shutdown-dropped, said at warn). Each holds a
    /// reference on this core, which holds them: kept, they would never be freed.
    void release_at_io_context_destruction() noexcept;
    /// Takes `b` out of delivery `d`'s queue or cancels its export; true if it was found.
    void give_up_batch_on_strand(const std::shared_ptr<inflight_batch>& b, bool shutdown);
    /// Counts a batch every exporter is done with and releases its room.
    void finish_batch(inflight_batch& b);
    void start_delivery(std::size_t i);
    void check_capacity_waiters_on_strand();
    void check_waiters_on_strand();
    [[nodiscard]] bool idle_on_strand() const noexcept;

    /// Recorded traces not yet complete (or complete and not yet popped from the queue).
    [[nodiscard]] std::uint64_t open_traces() const noexcept;
};

void core_add_ref(runtime_core* c) noexcept;
void core_release(runtime_core* c) noexcept;

/// Counted core pointer for handlers.
class core_ref {
public:
    explicit core_ref(runtime_core* c) noexcept : c_(c) { core_add_ref(c_); }
    core_ref(const core_ref& o) noexcept : c_(o.c_) { core_add_ref(c_); }
    core_ref(core_ref&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    core_ref& operator=(const core_ref&) = delete;
    core_ref& operator=(core_ref&&) = delete;
    ~core_ref() { core_release(c_); }
    runtime_core* operator->() const noexcept { return c_; }
    runtime_core* get() const noexcept { return c_; }

private:
    runtime_core* c_;
};

/// The default runtime's core, or null.
runtime_core* default_core() noexcept;
/// The core of `rt` (null for null).
runtime_core* runtime_core_of(runtime* rt) noexcept;

/// The 56-bit rate rule, shared by head and tail sampling: keep iff the trace id's low 56 bits
/// are below rate × 2^56 (the W3C random bits), so every service using one rate agrees.
std::uint64_t rate_to_threshold(double rate) noexcept;
inline bool rate_keep(const trace_id& t, std::uint64_t threshold) noexcept {
    return (t.lo & ((1ull << 56) - 1)) < threshold;
}
std::string format_sample_reason(const trace_buffer* t, const trace_config& cfg);

} // namespace tracecraft::detail
