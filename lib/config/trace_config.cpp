// trace_config::validate: every field checked, the first invalid one named.
#include <string>

#include "config/limits.hpp"
#include "support/utf8.hpp"
#include "tracecraft/config.hpp"

namespace tracecraft {

namespace {

/// service_name and environment become resource attributes: printable UTF-8, at most 256 bytes.
void check_name(const char* field, const std::string& v, bool may_be_empty) {
    if (v.empty()) {
        if (may_be_empty) return;
        throw config_error(field, "must not be empty");
    }
    if (v.size() > 256) throw config_error(field, "at most 256 bytes, got " + std::to_string(v.size()));
    if (!detail::is_valid_utf8(v)) throw config_error(field, "must be valid UTF-8, got " + config_error::quote(v));
    for (const char c : v)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            throw config_error(field, "must not contain control characters, got " + config_error::quote(v));
}

} // namespace

void trace_config::validate() const {
    auto rate_ok = [](double r) { return r >= 0.0 && r <= 1.0; };
    if (!rate_ok(sampling.rate)) throw config_error("sampling.rate", "must be between 0.0 and 1.0, got " + std::to_string(sampling.rate));
    if (!(sampling.slow_threshold_ms >= 0.0 && sampling.slow_threshold_ms <= 86'400'000.0))
        throw config_error("sampling.slow_threshold_ms", "must be between 0 and 86400000 (a day), got " + std::to_string(sampling.slow_threshold_ms));
    for (std::size_t i = 0; i < sampling.rules.size(); ++i) {
        const auto& r = sampling.rules[i];
        const std::string f = "sampling.rules[" + std::to_string(i) + "]";
        if (r.name.empty()) throw config_error(f + ".name", "must not be empty");
        if (!rate_ok(r.rate)) throw config_error(f + ".rate", "must be between 0.0 and 1.0, got " + std::to_string(r.rate));
        if (r.min_duration_ms && !(*r.min_duration_ms >= 0.0 && *r.min_duration_ms <= 86'400'000.0))
            throw config_error(f + ".min_duration_ms", "must be between 0 and 86400000 (a day)");
    }
    check_name("service_name", service_name, false);
    check_name("environment", environment, true);
    using namespace detail;
    check_range(max_step_depth_range, max_step_depth, "max_step_depth");
    check_range(max_queue_spans_range, max_queue_spans, "max_queue_spans");
    check_range(batch_size_range, batch_size, "batch_size");
    if (batch_size > max_queue_spans) throw config_error("batch_size", "must not exceed max_queue_spans");
    if (flush_interval.count() <= 0) throw config_error("flush_interval", "must be > 0 ms");
    check_range(flush_interval_range, static_cast<std::uint64_t>(flush_interval.count()), "flush_interval");
    if (shutdown_timeout.count() < 0) throw config_error("shutdown_timeout", "must be >= 0 ms (0 = no limit)");
    check_range(shutdown_timeout_range, static_cast<std::uint64_t>(shutdown_timeout.count()), "shutdown_timeout");
    if (overflow != overflow_policy::drop_oldest && overflow != overflow_policy::drop_newest)
        throw config_error("overflow", "must be drop_oldest or drop_newest");
    check_range(max_attributes_range, max_attributes_per_span, "max_attributes_per_span");
    check_range(max_value_length_range, max_attribute_value_length, "max_attribute_value_length");
    for (std::size_t i = 0; i < exporters.size(); ++i)
        if (!exporters[i]) throw config_error("exporters[" + std::to_string(i) + "]", "is null");
    check_range(metric_series_range, metrics.max_series, "metrics.max_series");
    if (metrics.export_interval.count() <= 0) throw config_error("metrics.export_interval", "must be > 0 ms");
    check_range(metric_interval_range, static_cast<std::uint64_t>(metrics.export_interval.count()), "metrics.export_interval");
    if (metrics.temporality != metric_temporality::cumulative && metrics.temporality != metric_temporality::delta)
        throw config_error("metrics.temporality", "must be cumulative or delta");
    if (processors.size() > 255) throw config_error("processors", "at most 255, got " + std::to_string(processors.size()));
    for (std::size_t i = 0; i < processors.size(); ++i)
        if (!processors[i]) throw config_error("processors[" + std::to_string(i) + "]", "is null");
}

} // namespace tracecraft
