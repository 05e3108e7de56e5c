// The GenAI metrics of traces dropped at their root: such a trace records no span, so each of
// its LLM / AGENT / TOOL / WORKFLOW spans borrows a small probe that keeps its start time and the
// few attributes the metrics read, and measures it when the span ends.
#pragma once

#include <cstdint>
#include <string_view>

#include "metrics/genai_metrics.hpp"

namespace tracecraft::detail {

struct runtime_core;

struct metric_probe {
    static constexpr std::size_t arena_size = 240;

    genai_metrics* metrics = nullptr;
    runtime_core* held = nullptr;   ///< a counted reference when no agent's context holds the runtime
    metric_probe* next_free = nullptr;
    std::uint64_t start_ticks = 0;
    span_facts facts;
    std::string_view name;          ///< the span's name (agent / tool / workflow series)
    span_kind kind = span_kind::llm;
    bool error = false;
    bool lost = false;              ///< a string did not fit the arena: measured in the overflow series
    std::uint16_t used = 0;
    char arena[arena_size];

    /// A copy of `s` in the arena (last write wins; an overwritten value's bytes stay used).
    std::string_view copy(std::string_view s) noexcept;
};

/// A probe for a span of kind `kind` (measured_kind) of a dropped trace, from this thread's
/// pool (no allocation in steady state); null if memory runs out. `hold`: take a counted
/// reference on `rt` for the probe's life.
metric_probe* probe_start(runtime_core* rt, bool hold, span_kind kind, std::string_view name) noexcept;
/// Measures the span (an escaping exception marks it an error) and gives the probe back.
void probe_end(metric_probe* p, bool unwinding) noexcept;
/// set_status(error) / record_exception on a probed span.
void probe_error(metric_probe* p, std::string_view error_type) noexcept;

} // namespace tracecraft::detail
