// Run totals of a trace (private to the library): computed once by the enrichment processor,
// which writes them on the root span, and by exporters that need them when it did not run.
#pragma once

#include <cstdint>

#include "tracecraft/span_data.hpp"

namespace tracecraft::detail {

struct run_totals {
    std::int64_t input_tokens = 0, output_tokens = 0;
    double cost_usd = 0;
    std::int64_t error_count = 0;
    bool any_usage = false;   ///< some span carries integer gen_ai.usage.*_tokens
    bool any_cost = false;    ///< some span carries tracecraft.cost_usd
    bool estimated = false;   ///< some usage was estimated (tracecraft.usage.estimated)
};

/// Sums every span of `t`: tokens, cost (tracecraft.cost_usd), ERROR spans.
run_totals compute_run_totals(const trace_view& t) noexcept;

/// The totals on the root span as enrichment wrote them (tracecraft.run.*), if it did;
/// otherwise computed.
run_totals run_totals_of(const trace_view& t) noexcept;

} // namespace tracecraft::detail
