// TraceCraft C++ — runtime configuration (the Python SDK's TraceCraftConfig, SamplingConfig, ...).
//
// Every field has a documented default; validate() throws config_error naming the field when
// a value is out of range. Defaults follow the Python SDK: sampling rate 1.0,
// always_keep_errors true, always_keep_slow false, slow_threshold_ms 5000, processors in the
// SAFETY order, max_step_depth 100.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tracecraft/config_error.hpp"
#include "tracecraft/exporter.hpp"
#include "tracecraft/metrics.hpp"
#include "tracecraft/pricing.hpp"
#include "tracecraft/processor.hpp"
#include "tracecraft/redaction.hpp"

namespace tracecraft {

/// A tail-sampling rule (the Python SDK's SamplingRule). All set conditions must hold; rules are
/// tried in order and the first that matches decides, whether it keeps or drops.
struct sampling_rule {
    std::string name;                     ///< required, used in sample reasons
    double rate = 1.0;                    ///< 0.0..1.0
    bool match_error = false;             ///< only traces with an ERROR span
    std::vector<std::string> match_names; ///< root span (run) name, exact
    std::vector<std::string> match_tags;  ///< any run tag in common
    std::optional<double> min_duration_ms;
};

/// The Python SDK's SamplingConfig.
struct sampling_config {
    double rate = 1.0;                    ///< default keep rate, 0.0..1.0
    bool always_keep_errors = true;
    bool always_keep_slow = false;
    double slow_threshold_ms = 5000.0;
    std::vector<sampling_rule> rules;
};

/// What a full pipeline gives up (named as spdlog's async overflow policies are).
enum class overflow_policy {
    /// The oldest undelivered batch is given up for the newest traces (a batch being retried
    /// through a collector outage is cancelled): the freshest data survives a long outage.
    drop_oldest,
    /// A newly finished trace is refused while the pipeline is full.
    drop_newest,
};

/// The Python SDK's TraceCraftConfig.
struct trace_config {
    std::string service_name = "tracecraft";
    std::string environment = "development";
    sampling_config sampling;
    /// PII/secret redaction of every string a kept span carries (on by default: privacy first),
    /// done by processors::redaction(). Runs on the pipeline strand, never on the producer's
    /// path; a trace the sampler drops is never scanned.
    redaction_config redaction;
    /// What every finished trace passes through, in order, before the exporters (see
    /// processor.hpp). Default processors::safety(): enrichment → tail sampling → redaction;
    /// processors::efficiency() samples first. Add your own with one line, e.g.
    /// `cfg.processors.push_back(std::make_shared<my_scrubber>());`.
    processor_list processors;
    /// Enrichment (processors::enrichment()): tracecraft.cost_usd on LLM spans with a model and
    /// usage (unless set), and tracecraft.run.{input,output,total}_tokens, .cost_usd,
    /// .error_count on the root span.
    bool enrich = true;
    /// Model prices for enrichment; null means price_table::builtin() (data/model_prices.json).
    std::shared_ptr<const price_table> prices;
    /// Spans nested deeper than this are not recorded (counted in stats). 1..65000.
    std::uint32_t max_step_depth = 100;
    /// Capacity of the pipeline, in spans: finished traces waiting for or in export (batches
    /// being retried included). When it is full, `overflow` decides what is given up, counted in
    /// runtime_stats::spans_queue_dropped and said at warn (the producer never blocks);
    /// producers that must not lose traces wait with runtime::async_wait_for_capacity.
    /// 1..16,777,216.
    std::size_t max_queue_spans = 2048;
    /// drop_oldest by default. With drop_oldest, finished traces are admitted up to twice
    /// max_queue_spans for the moment it takes the pipeline strand to give the oldest up;
    /// beyond that the newest is refused.
    overflow_policy overflow = overflow_policy::drop_oldest;
    /// How long shutdown() may spend delivering what is queued (exporters retrying through an
    /// outage included); what is still undelivered then is given up and counted in
    /// runtime_stats::spans_shutdown_dropped. 0 = no limit. Default 30 s; at most 1 day.
    std::chrono::milliseconds shutdown_timeout{30000};
    /// Spans per batch handed to the exporters; a batch is formed as soon as this many wait.
    /// 1..1,048,576 and at most max_queue_spans.
    std::size_t batch_size = 512;
    /// A partly filled batch is handed over after this delay. 1 ms..1 day.
    std::chrono::milliseconds flush_interval{1000};
    /// Maximum attributes per span (OTel default 128, 1..65535); extra ones are counted as dropped.
    std::uint32_t max_attributes_per_span = 128;
    /// Maximum length in bytes of every string a span records (attributes, inputs, outputs,
    /// event attributes), cut at a UTF-8 boundary; 1 MiB by default, up to 256 MiB, 0 = no limit
    /// (the OTel default, which leaves a span's memory unbounded). The per-span worst case is
    /// about max_attributes_per_span x this for attributes (128 MiB by default) plus the inputs,
    /// outputs and events the code records.
    std::uint32_t max_attribute_value_length = 1 << 20;
    /// Where finished traces go (fan-out: each exporter gets every batch). Exporters that take
    /// metrics (exports_metrics(), e.g. otlp_http_exporter) also get the metrics every
    /// metrics.export_interval.
    std::vector<exporter_ptr> exporters;
    /// GenAI and health metrics from every finished trace, before sampling (metrics.hpp).
    metrics_config metrics;
    /// Record message content — span inputs and outputs (set_input / set_output, a run's input
    /// and output, a stream's completion text), exported as input.value / output.value. The
    /// GenAI conventions make content capture a switch: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
    /// (true/false) sets it. Default true, as the Python SDK records inputs and outputs; false
    /// keeps every prompt and completion out of the process's telemetry (span options'
    /// capture_inputs / exclude_inputs still apply when true).
    bool capture_message_content = true;
    /// Debug hook, called by the tail sampler (on the thread that ended the trace, unless a
    /// strand-only processor precedes the sampler) for each trace it drops, with its reason
    /// available from trace_view::sample_reason(). Keep it cheap.
    std::function<void(const trace_view&)> on_sampled_out;

    /// Throws config_error naming the first invalid field.
    void validate() const;
};

} // namespace tracecraft
