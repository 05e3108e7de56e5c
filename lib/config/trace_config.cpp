// trace_config::validate: every field checked, the first invalid one named.
#include <string>

#include "tracecraft/config.hpp"

namespace tracecraft {

void trace_config::validate() const {
    auto rate_ok = [](double r) { return r >= 0.0 && r <= 1.0; };
    if (!rate_ok(sampling.rate)) throw config_error("sampling.rate", "must be between 0.0 and 1.0, got " + std::to_string(sampling.rate));
    if (!(sampling.slow_threshold_ms >= 0.0))
        throw config_error("sampling.slow_threshold_ms", "must be >= 0, got " + std::to_string(sampling.slow_threshold_ms));
    for (std::size_t i = 0; i < sampling.rules.size(); ++i) {
        const auto& r = sampling.rules[i];
        const std::string f = "sampling.rules[" + std::to_string(i) + "]";
        if (r.name.empty()) throw config_error(f + ".name", "must not be empty");
        if (!rate_ok(r.rate)) throw config_error(f + ".rate", "must be between 0.0 and 1.0, got " + std::to_string(r.rate));
        if (r.min_duration_ms && !(*r.min_duration_ms >= 0.0))
            throw config_error(f + ".min_duration_ms", "must be >= 0");
    }
    if (service_name.empty()) throw config_error("service_name", "must not be empty");
    if (max_step_depth == 0 || max_step_depth > 65000) throw config_error("max_step_depth", "must be between 1 and 65000");
    if (max_queue_spans == 0) throw config_error("max_queue_spans", "must be > 0");
    if (batch_size == 0) throw config_error("batch_size", "must be > 0");
    if (batch_size > max_queue_spans) throw config_error("batch_size", "must not exceed max_queue_spans");
    if (flush_interval.count() <= 0) throw config_error("flush_interval", "must be > 0 ms");
    if (max_attributes_per_span == 0) throw config_error("max_attributes_per_span", "must be > 0");
    for (std::size_t i = 0; i < exporters.size(); ++i)
        if (!exporters[i]) throw config_error("exporters[" + std::to_string(i) + "]", "is null");
    if (processors.size() > 255) throw config_error("processors", "at most 255, got " + std::to_string(processors.size()));
    for (std::size_t i = 0; i < processors.size(); ++i)
        if (!processors[i]) throw config_error("processors[" + std::to_string(i) + "]", "is null");
}

} // namespace tracecraft
