// TraceCraft C++ — runtime configuration (the Python SDK's TraceCraftConfig, SamplingConfig, ...).
//
// Every field has a documented default; validate() throws config_error naming the field when
// a value is out of range. Defaults follow the Python SDK: sampling rate 1.0,
// always_keep_errors true, always_keep_slow false, slow_threshold_ms 5000, ProcessorOrder
// SAFETY, max_step_depth 100.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tracecraft/pricing.hpp"

#include "tracecraft/exporter.hpp"
#include "tracecraft/redaction.hpp"

namespace tracecraft {

/// Thrown for invalid configuration; what() names the offending field.
class config_error : public std::invalid_argument {
public:
    config_error(const std::string& field, const std::string& problem)
        : std::invalid_argument(field + ": " + problem), field_(field) {}
    [[nodiscard]] const std::string& field() const noexcept { return field_; }

private:
    std::string field_;
};

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

/// The Python SDK's ProcessorOrder.
/// Where enrichment (LLM cost from trace_config::prices, run totals of tokens, cost and errors
/// on the root span) runs relative to the tail sampler. Redaction always runs on the pipeline
/// strand and only on kept traces (scanning a trace that is then dropped protects nothing).
enum class processor_order {
    safety,      ///< enrich -> sample -> redact (default): tail rules and on_sampled_out see cost and totals
    efficiency,  ///< sample -> enrich -> redact: dropped traces are never enriched
};

/// What to do when the pipeline queue is full (spdlog's overflow policies).
enum class overflow_policy {
    discard_new,     ///< drop the newly finished trace and count it (default; never blocks)
};

/// The Python SDK's TraceCraftConfig.
struct trace_config {
    std::string service_name = "tracecraft";
    std::string environment = "development";
    sampling_config sampling;
    /// PII/secret redaction of every string a kept span carries (on by default, as in the
    /// seed's "privacy-first" RedactionConfig). Runs on the pipeline strand, never on the
    /// producer's path; a trace the sampler drops is never scanned.
    redaction_config redaction;
    processor_order order = processor_order::safety;
    /// Enrichment: tracecraft.cost_usd on LLM spans with a model and usage (unless set), and
    /// tracecraft.run.{input,output,total}_tokens, .cost_usd, .error_count on the root span.
    bool enrich = true;
    /// Model prices for enrichment; null means price_table::builtin() (data/model_prices.json).
    std::shared_ptr<const price_table> prices;
    /// Spans nested deeper than this are not recorded (counted in stats).
    std::uint32_t max_step_depth = 100;
    /// Capacity of the pipeline, in spans: finished traces waiting for or in export.
    std::size_t max_queue_spans = 2048;
    /// Spans per batch handed to the exporters; a batch is formed as soon as this many wait.
    std::size_t batch_size = 512;
    /// A partly filled batch is handed over after this delay.
    std::chrono::milliseconds flush_interval{1000};
    overflow_policy overflow = overflow_policy::discard_new;
    /// Maximum attributes per span (OTel default 128); extra ones are counted as dropped.
    std::uint32_t max_attributes_per_span = 128;
    /// Maximum length of a string attribute value in bytes (0 = unlimited, the OTel default).
    std::uint32_t max_attribute_value_length = 0;
    /// Where finished traces go (fan-out: each exporter gets every batch).
    std::vector<exporter_ptr> exporters;
    /// Debug hook, called inline (on the thread that ended the trace) for each trace the tail
    /// sampler drops, with its reason available from trace_view::sample_reason(). Keep it cheap.
    std::function<void(const trace_view&)> on_sampled_out;

    /// Throws config_error naming the first invalid field.
    void validate() const;
};

} // namespace tracecraft
