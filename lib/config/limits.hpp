// The documented range of every numeric setting (README, Configuration), shared by
// trace_config::validate and the file and environment loaders so that each names its source.
#pragma once

#include <cstdint>
#include <string>

#include "tracecraft/config_error.hpp"

namespace tracecraft::detail {

struct setting_range {
    const char* name;   ///< the trace_config field
    std::uint64_t min, max;
};

inline constexpr setting_range max_step_depth_range{"max_step_depth", 1, 65000};
inline constexpr setting_range max_queue_spans_range{"max_queue_spans", 1, std::uint64_t{1} << 24};
inline constexpr setting_range batch_size_range{"batch_size", 1, std::uint64_t{1} << 20};
inline constexpr setting_range flush_interval_range{"flush_interval_ms", 1, 86'400'000};   // 1 ms .. 1 day
inline constexpr setting_range shutdown_timeout_range{"shutdown_timeout_ms", 0, 86'400'000};   // 0 = no limit
inline constexpr setting_range max_attributes_range{"max_attributes_per_span", 1, 65535};
inline constexpr setting_range max_value_length_range{"max_attribute_value_length", 0, std::uint64_t{1} << 28};
inline constexpr setting_range metric_series_range{"metrics.max_series", 1, 1'000'000};
inline constexpr setting_range metric_interval_range{"metrics.export_interval_ms", 100, 86'400'000};   // 100 ms .. 1 day

/// Throws config_error(field) unless min <= v <= max.
inline void check_range(const setting_range& r, std::uint64_t v, const std::string& field) {
    if (v < r.min || v > r.max)
        throw config_error(field, "must be between " + std::to_string(r.min) + " and " + std::to_string(r.max) +
                                      ", got " + std::to_string(v));
}

} // namespace tracecraft::detail
