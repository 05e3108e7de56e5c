// TraceCraft C++ — configuration from a JSON file and TRACECRAFT_* environment variables.
//
// Precedence: built-in defaults < JSON file < environment variables < what your code sets on
// the returned trace_config afterwards. Every documented key works; an unknown key, a value of
// the wrong type or out of range throws config_error naming the key (or variable).
//
// JSON (all keys optional):
//   { "service_name": "checkout-agent", "environment": "production",
//     "sampling": { "rate": 0.1, "always_keep_errors": true, "always_keep_slow": true,
//                   "slow_threshold_ms": 3000,
//                   "rules": [ { "name": "payments", "rate": 1.0, "match_names": ["pay"],
//                                "match_tags": ["vip"], "match_error": false,
//                                "min_duration_ms": 100 } ] },
//     "processor_order": "safety" | "efficiency",   (sets processors to that ready-made list)
//     "max_step_depth": 100, "max_queue_spans": 2048, "batch_size": 512,
//     "flush_interval_ms": 1000, "max_attributes_per_span": 128,
//     "max_attribute_value_length": 1048576,
//     "capture_message_content": true,
//     "metrics": { "enabled": true, "max_series": 2000, "export_interval_ms": 60000,
//                  "temporality": "cumulative" | "delta" } }
//
// Numbers are decimal integers within the documented ranges (config.hpp); a value out of range,
// a duplicate key, or (in a variable) anything but the digits -- a sign, a space, trailing bytes
// -- is an error. Files must be regular files of at most 1 MiB.
//
// Environment variables:
//   TRACECRAFT_CONFIG_FILE             JSON file read by load_config() when no path is given
//   TRACECRAFT_SERVICE_NAME, TRACECRAFT_ENVIRONMENT
//   TRACECRAFT_SAMPLING_RATE           0..1
//   TRACECRAFT_SAMPLING_KEEP_ERRORS    true/false/1/0/yes/no
//   TRACECRAFT_SAMPLING_KEEP_SLOW, TRACECRAFT_SAMPLING_SLOW_THRESHOLD_MS
//   TRACECRAFT_PROCESSOR_ORDER         safety | efficiency (processors::safety() / efficiency())
//   TRACECRAFT_MAX_STEP_DEPTH, TRACECRAFT_MAX_QUEUE_SPANS, TRACECRAFT_BATCH_SIZE,
//   TRACECRAFT_FLUSH_INTERVAL_MS, TRACECRAFT_MAX_ATTRIBUTES, TRACECRAFT_MAX_ATTRIBUTE_LENGTH
//   TRACECRAFT_METRICS, TRACECRAFT_METRICS_MAX_SERIES, OTEL_METRIC_EXPORT_INTERVAL (ms),
//   OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE     cumulative | delta | lowmemory
//   OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT    true/false
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "tracecraft/config.hpp"

namespace tracecraft {

/// Looks up an environment variable; returns null when unset.
using env_lookup = std::function<const char*(const char*)>;

/// Applies a JSON document on top of `cfg`. Throws config_error naming the key, or "json" with
/// the line and column of a syntax error or a duplicate key.
void apply_json(trace_config& cfg, std::string_view json);
/// The largest configuration file read (1 MiB).
inline constexpr std::size_t max_config_file_bytes = 1 << 20;

/// Applies a JSON file on top of `cfg`. Throws config_error (field "file" if unreadable, not a
/// regular file or larger than max_config_file_bytes; otherwise the key, with the path).
void apply_json_file(trace_config& cfg, const std::string& path);
/// Applies TRACECRAFT_* variables on top of `cfg`. Throws config_error naming the variable.
void apply_env(trace_config& cfg, const env_lookup& lookup = {});
/// Defaults, then the JSON file (`path`, else $TRACECRAFT_CONFIG_FILE if set), then the
/// environment; validated.
[[nodiscard]] trace_config load_config(const std::string& path = {}, const env_lookup& lookup = {});

} // namespace tracecraft
