// Delivery to the exporters and the waits built on it (strand coroutines, see delivery.cpp).
#pragma once

#include <chrono>

#include <boost/asio/awaitable.hpp>

#include "pipeline/runtime_core.hpp"

namespace tracecraft::detail {

/// Everything finished before the call: processed, exported (or failed), exporters flushed.
boost::asio::awaitable<void> flush_on_strand(core_ref c);
/// Until `spans` more spans fit in the pipeline (partly filled batches handed over at once).
boost::asio::awaitable<void> capacity_on_strand(core_ref c, std::size_t spans);
/// Until no recorded trace is open or `deadline` passes; true when idle.
boost::asio::awaitable<bool> wait_idle_on_strand(core_ref c, std::chrono::steady_clock::time_point deadline);
boost::asio::awaitable<void> shutdown_on_strand(core_ref c);
boost::asio::awaitable<void> graceful_shutdown_on_strand(core_ref c, std::chrono::milliseconds grace);
/// exporter::start for every exporter, on the strand.
boost::asio::awaitable<void> start_exporters(core_ref c);

} // namespace tracecraft::detail
