// Periodic metric export to the exporters that take metrics (strand coroutines).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "pipeline/runtime_core.hpp"

namespace tracecraft::detail {

/// Starts the export loop when metrics are on and an exporter exports metrics.
void start_metric_export(runtime_core& c);
/// At shutdown: stops the loop and exports once more (a single attempt per exporter).
boost::asio::awaitable<void> final_metric_export(core_ref c);
/// `now` minus `before`, point by point (delta temporality; min/max unknown for an interval).
[[nodiscard]] metrics_snapshot delta_of(const metrics_snapshot& now, const metrics_snapshot& before);

} // namespace tracecraft::detail
