// TraceCraft C++ — GenAI metrics computed from every finished trace, before sampling.
//
// Sampling 1 % of traces makes every dashboard built from the kept traces 1 % of the truth. The
// runtime therefore records OpenTelemetry GenAI metrics from each trace as it completes — on the
// thread that ended its last span, before any processor (the tail sampler included) decides —
// so token spend, cost, latency distributions and error counts stay exact at any sampling rate.
// Traces dropped by the head sampler (a plain rate with tail sampling off) are never recorded,
// so they count only in tracecraft.traces (outcome "head_dropped"); with the default
// configuration (always_keep_errors) every trace is recorded and measured.
//
// Instruments (GenAI semantic conventions of the open-telemetry/semantic-conventions-genai
// registry, "Development" status, as of 2026-11; docs/metrics.md lists them with attributes):
//   gen_ai.client.operation.duration                       histogram s      LLM spans
//   gen_ai.client.inference.usage.input_tokens             counter {token} (+ .cache_read. / .cache_write. variants)
//   gen_ai.client.inference.usage.output_tokens            counter {token} (+ .reasoning. variant)
//   gen_ai.client.inference.operation.input_tokens         histogram {token}
//   gen_ai.client.inference.operation.output_tokens        histogram {token}
//   gen_ai.client.operation.time_to_first_chunk            histogram s      streamed LLM spans
//   gen_ai.client.operation.time_per_output_chunk          histogram s      streamed LLM spans
//   gen_ai.invoke_agent.duration / gen_ai.execute_tool.duration / gen_ai.workflow.duration  histogram s
//   tracecraft.cost_usd                                    counter USD      (no standard name exists)
// and the library's own health (tracecraft.traces, tracecraft.exporter.*, tracecraft.queue.*),
// named like the Collector's otelcol_exporter_* telemetry.
//
// Aggregation on the completing thread is lock-free: each (instrument, attribute set) series is
// found in a fixed open-addressing table by one hash and atomics, allocated the first time it is
// seen and never again. Beyond metrics_config::max_series a measurement goes to the instrument's
// overflow series (attribute otel.metric.overflow = true, as the OpenTelemetry SDKs do).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tracecraft/attribute.hpp"

namespace tracecraft {

enum class metric_temporality {
    cumulative,   ///< every export carries totals since the runtime started (the OTLP default)
    delta,        ///< every export carries what happened since the previous export
};

struct metrics_config {
    /// Record GenAI and health metrics (runtime::metrics(), and exporters that export metrics).
    bool enabled = true;
    /// Attribute sets per runtime over all instruments (1..1,000,000); beyond it measurements go
    /// to each instrument's overflow series, counted in runtime_stats::metric_series_overflow.
    std::size_t max_series = 2000;
    /// How often metrics are exported to exporters that take them (OTEL_METRIC_EXPORT_INTERVAL,
    /// default 60 s; 100 ms..1 day), and once more at shutdown.
    std::chrono::milliseconds export_interval{60000};
    /// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: cumulative (default) or delta.
    metric_temporality temporality = metric_temporality::cumulative;
};

enum class metric_type : std::uint8_t { counter, histogram, gauge };

/// One attribute set's values of one metric.
struct metric_point {
    std::vector<std::pair<std::string, attribute_value>> attributes;
    // counter (monotonic sum) and gauge
    double value = 0;
    bool integer = true;                       ///< an integer counter (exported as as_int)
    // histogram
    std::uint64_t count = 0;
    double sum = 0, min = 0, max = 0;
    std::vector<std::uint64_t> bucket_counts;  ///< bounds.size() + 1 buckets

    [[nodiscard]] const attribute_value* attribute(std::string_view key) const noexcept;
};

struct metric_data {
    std::string name, description, unit;
    metric_type type = metric_type::counter;
    std::vector<double> bounds;                ///< histogram bucket boundaries
    std::vector<metric_point> points;
};

/// What runtime::metrics() returns and what metric exporters receive.
struct metrics_snapshot {
    std::int64_t start_unix_ns = 0;            ///< start of the interval (cumulative: the runtime's start)
    std::int64_t time_unix_ns = 0;
    metric_temporality temporality = metric_temporality::cumulative;
    /// The last export, at shutdown: an exporter makes one attempt (shutdown is waiting).
    bool final = false;
    std::vector<metric_data> metrics;

    [[nodiscard]] const metric_data* find(std::string_view name) const noexcept;
    /// Sum of a counter's points (or of a histogram's counts) whose attributes include every
    /// (key, string value) given; 0 when the metric is absent.
    [[nodiscard]] double total(std::string_view name,
                               std::initializer_list<std::pair<std::string_view, std::string_view>> where = {}) const;
};

} // namespace tracecraft
