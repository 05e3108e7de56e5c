// GenAI metrics recorded from every finished trace (see include/tracecraft/metrics.hpp): the
// instruments, the lock-free series table, and snapshots.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tracecraft/metrics.hpp"
#include "tracecraft/pricing.hpp"
#include "tracecraft/runtime.hpp"
#include "tracecraft/span_kind.hpp"

namespace tracecraft::detail {

struct trace_buffer;

enum class instrument : std::uint8_t {
    operation_duration,
    usage_input_tokens,
    usage_output_tokens,
    usage_cache_read_tokens,
    usage_cache_write_tokens,
    usage_reasoning_tokens,
    operation_input_tokens,
    operation_output_tokens,
    time_to_first_chunk,
    time_per_output_chunk,
    agent_duration,
    tool_duration,
    workflow_duration,
    cost,
    count_
};

/// What a series measures: one kind of operation.
enum class operation_kind : std::uint8_t { llm, agent, tool, workflow, count_ };

/// The attribute values of one series (views while measuring; owned copies in a series).
struct series_attributes {
    std::string_view operation, provider, request_model, response_model, error_type, server_address, name;
    std::int64_t server_port = 0;
};

/// What one span says for the metrics: read from a recorded span's attributes, or kept by a
/// metric_probe for a span of a trace dropped at its root. -1: not set.
struct span_facts {
    std::string_view operation, provider, request_model, response_model, error_type, server_address, agent_name, tool_name;
    std::int64_t server_port = 0;
    std::int64_t input_tokens = -1, output_tokens = -1, cache_read = -1, cache_write = -1, reasoning = -1, chunks = -1;
    double cost = -1, first_chunk = -1;
};

/// The field of `f` an attribute fills, or null for attributes the metrics do not read.
std::string_view* string_fact(span_facts& f, std::string_view key) noexcept;
std::int64_t* int_fact(span_facts& f, std::string_view key) noexcept;
double* double_fact(span_facts& f, std::string_view key) noexcept;

/// True for the span kinds the metrics measure (LLM, AGENT, TOOL, WORKFLOW).
[[nodiscard]] constexpr bool measured_kind(span_kind k) noexcept {
    return k == span_kind::llm || k == span_kind::agent || k == span_kind::tool || k == span_kind::workflow;
}

/// One lookup per span: a series holds every instrument of its operation kind for one attribute
/// set (an LLM series: duration, token histograms, stream timings, usage counters and cost).
/// Instruments whose conventions leave an attribute out (usage counters carry no error.type)
/// are merged over it when collected.
class genai_metrics {
public:
    genai_metrics(std::size_t max_series, std::shared_ptr<const price_table> prices);
    ~genai_metrics();
    genai_metrics(const genai_metrics&) = delete;
    genai_metrics& operator=(const genai_metrics&) = delete;

    /// Every span of a finished trace (any thread; lock-free).
    void record(const trace_buffer& t) noexcept;
    /// One span of kind `kind` (measured_kind) that ended after `seconds` (any thread; lock-free).
    /// `overflow`: its attributes are not known exactly (into the overflow series, counted).
    void measure(span_kind kind, const span_facts& f, std::string_view span_name, bool error, double seconds,
                 bool overflow = false) noexcept;

    /// Cumulative values of every series that saw a measurement.
    void collect(metrics_snapshot& out) const;

    [[nodiscard]] std::uint64_t overflowed() const noexcept { return overflowed_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t series_count() const noexcept { return used_.load(std::memory_order_relaxed); }

    struct series;

private:
    struct slot {
        std::atomic<std::uint64_t> hash{0};
        std::atomic<series*> s{nullptr};
    };
    series* find(operation_kind k, const series_attributes& a) noexcept;     ///< per-thread cache, then lookup
    series* lookup(operation_kind k, const series_attributes& a) noexcept;   ///< the table
    series* overflow_series(operation_kind k) noexcept;

    std::size_t max_series_;
    std::uint64_t instance_;   ///< unique for the process's life (per-thread caches name it)
    std::size_t mask_;
    std::unique_ptr<slot[]> slots_;
    std::array<std::atomic<series*>, static_cast<std::size_t>(operation_kind::count_)> overflow_{};
    std::atomic<std::size_t> used_{0};
    std::atomic<std::uint64_t> overflowed_{0};
    std::shared_ptr<const price_table> prices_;
};

/// The library's own health as metrics (tracecraft.traces, tracecraft.exporter.*, ...).
void append_health_metrics(metrics_snapshot& out, const runtime_stats& s, std::size_t queue_capacity);

} // namespace tracecraft::detail
