// The exporter interface's defaults: force_flush, shutdown, export_metrics.
#include "tracecraft/exporter.hpp"

namespace tracecraft {

boost::asio::awaitable<void> exporter::force_flush() { co_return; }
boost::asio::awaitable<void> exporter::shutdown() { co_return; }
boost::asio::awaitable<export_result> exporter::export_metrics(const metrics_snapshot& metrics) {
    (void)metrics;
    co_return export_result::ok();
}

} // namespace tracecraft
