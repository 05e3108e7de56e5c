// The shared state behind a tracecraft::runtime (private to the library).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mpsc_queue.hpp"
#include "tracecraft/config.hpp"
#include "tracecraft/redaction.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/runtime.hpp"

namespace tracecraft::detail {

struct counters {
    std::atomic<std::uint64_t> traces_started{0};
    std::atomic<std::uint64_t> traces_completed{0};
    std::atomic<std::uint64_t> traces_head_dropped{0};
    std::atomic<std::uint64_t> traces_sampled_out{0};
    std::atomic<std::uint64_t> traces_kept{0};
    std::atomic<std::uint64_t> traces_queue_dropped{0};
    std::atomic<std::uint64_t> traces_after_shutdown{0};
    std::atomic<std::uint64_t> spans_kept{0};
    std::atomic<std::uint64_t> spans_queue_dropped{0};
    std::atomic<std::uint64_t> spans_depth_dropped{0};
    std::atomic<std::uint64_t> spans_exported{0};
    std::atomic<std::uint64_t> spans_export_failed{0};
    std::atomic<std::uint64_t> batches_exported{0};
    std::atomic<std::uint64_t> spans_redacted{0};
    std::atomic<std::uint64_t> redaction_failures{0};
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

/// Cost of LLM spans and run totals on the root (lib/llm.cpp).
void enrich_trace(trace_buffer* t, const price_table& prices) noexcept;

/// One string a span carries, as redaction sees it: a scalar attribute value, one element of
/// a string array, or (entry == nullptr) the span's status message.
struct string_slot {
    span_record* span;
    attr_entry* entry;
    std::int32_t index;        ///< -1: scalar
    const char* section;       ///< "attributes", "inputs", "outputs", "events", "status"
    std::string_view get() const {
        if (!entry) return span->status_message.view();
        return index < 0 ? entry->value.as_string() : entry->value.as_string_array()[static_cast<std::size_t>(index)];
    }
    void set(str_ref s) const {
        if (!entry) {
            span->status_message = s;
        } else if (index < 0) {
            entry->value.set_string(s.p, s.n);
        } else {
            auto* arr = const_cast<std::string_view*>(entry->value.as_string_array().data());
            arr[index] = s.view();
        }
    }
};

struct runtime_core {
    explicit runtime_core(boost::asio::io_context& ioc, trace_config cfg);
    ~runtime_core();

    std::atomic<std::uint32_t> refs{1};
    trace_config cfg;
    boost::asio::io_context& ioc;
    boost::asio::any_io_executor strand;          ///< suppressed strand of ioc
    std::shared_ptr<context_liveness> liveness;

    // --- head sampling (read on the hot path) ---
    bool tail_enabled = false;    ///< keep_errors / keep_slow / rules need the whole trace
    std::shared_ptr<const price_table> prices;   ///< null when enrichment is off
    std::uint64_t rate_threshold = 0;   ///< keep iff low 56 bits of trace id < threshold
    bool rate_all = true;
    std::vector<std::uint64_t> rule_thresholds;

    // --- hand-off ---
    mpsc_queue<trace_buffer*> queue;
    std::atomic<std::size_t> pipeline_spans{0};   ///< queued + being exported (memory bound)
    std::atomic<std::size_t> undrained_spans{0};  ///< pushed but not yet popped by the strand
    std::atomic<bool> accepting{true};
    std::atomic<bool> warned_queue_full{false};
    std::atomic<bool> warned_after_shutdown{false};
    counters stats;

    std::unique_ptr<redactor> redact;             ///< null when redaction is disabled
    std::unique_ptr<redaction_scratch> scratch;   ///< strand-only
    std::unique_ptr<redactor::batch> redact_batch;   ///< strand-only, reused for every trace
    std::vector<string_slot> redact_slots;           ///< strand-only, reused for every trace

    // --- strand-only state ---
    std::unique_ptr<boost::asio::steady_timer> flush_timer;
    bool timer_armed = false;
    bool started = false;
    bool shut_down = false;
    std::vector<trace_ref> pending;     ///< popped, not yet batched
    std::size_t pending_spans = 0;
    struct delivery {
        exporter_ptr exp;
        std::deque<std::shared_ptr<inflight_batch>> batches;
        bool busy = false;
    };
    std::vector<delivery> deliveries;
    std::vector<std::shared_ptr<flush_waiter>> waiters;
    std::vector<std::pair<std::size_t, std::shared_ptr<flush_waiter>>> capacity_waiters;   ///< (spans, waiter)

    [[nodiscard]] bool has_capacity(std::size_t spans) const noexcept {
        return pipeline_spans.load(std::memory_order_acquire) + std::min(spans, cfg.max_queue_spans) <= cfg.max_queue_spans;
    }
    void check_capacity_waiters_on_strand();

    /// Hot path: decision for a new local root.
    [[nodiscard]] bool head_keep(const trace_id& t) const noexcept;
    /// Called when a recorded trace completes (any thread). Takes ownership of `t`.
    void on_trace_complete(trace_buffer* t) noexcept;
    /// Tail decision; records reason on `t`.
    bool tail_keep(trace_buffer* t) const noexcept;
    [[nodiscard]] std::uint64_t rule_to_threshold(std::size_t i) const noexcept;

    // strand handlers
    void start_on_strand();
    void drain_on_strand(bool force);
    void arm_timer_on_strand();
    void dispatch_batches_on_strand(bool force);
    void start_delivery(std::size_t i);
    void deliver(std::vector<trace_ref> traces);
    void start_processor();
    std::deque<std::vector<trace_ref>> to_process;   ///< batches waiting for redaction
    bool processing = false;
    void check_waiters_on_strand();
    [[nodiscard]] bool idle_on_strand() const noexcept;
    /// Recorded traces not yet complete (or complete and not yet popped from the queue).
    [[nodiscard]] std::uint64_t open_traces() const noexcept;
};

void core_add_ref(runtime_core* c) noexcept;
void core_release(runtime_core* c) noexcept;

/// The default runtime's core, or null.
runtime_core* default_core() noexcept;

/// Keeps the 56-bit rule in one place: keep iff low 56 bits < rate * 2^56.
std::uint64_t rate_to_threshold(double rate) noexcept;
bool rate_keep(const trace_id& t, std::uint64_t threshold) noexcept;
std::string format_sample_reason(const trace_buffer* t, const trace_config& cfg);

} // namespace tracecraft::detail
