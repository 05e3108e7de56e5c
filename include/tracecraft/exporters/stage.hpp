// TraceCraft C++ — the base of export stages: exporters that wrap an inner exporter.
//
// As spdlog's sinks derive from base_sink, every stage derives from export_stage, which does
// what all of them share once: starting the inner exporter with the pipeline strand, flushing
// and shutting down in order (the stage's own work first, then the inner exporter), counters,
// queue gauges and health. A stage adds only its export_batch and, if it holds work of its own
// (a queue, workers), drain().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tracecraft/exporter.hpp"

namespace tracecraft {

namespace detail {
struct stage_core;
}

/// Counters shared by the stages (all since construction).
struct exporter_stats {
    std::uint64_t exported_traces = 0;   ///< handed to the inner exporter and acknowledged
    std::uint64_t exported_spans = 0;
    std::uint64_t batches = 0;           ///< inner export calls that succeeded
    std::uint64_t dropped_traces = 0;    ///< refused: queue full or rate limit (non-blocking)
    std::uint64_t errors = 0;            ///< inner export calls that failed (after retries)
    std::uint64_t failed_traces = 0;
    std::uint64_t retries = 0;           ///< retrying_exporter only
};

class export_stage : public exporter {
public:
    ~export_stage() override;

    /// Keeps the pipeline strand for the stage's coroutines and starts the inner exporter.
    void start(const exporter_environment& env) final;
    /// The stage's own work (drain()), then the inner exporter's force_flush.
    boost::asio::awaitable<void> force_flush() final;
    /// drain(), then no more exports are accepted, timers and executors are released, and the
    /// inner exporter shuts down.
    boost::asio::awaitable<void> shutdown() final;
    /// Releases the stage's timers and executors, then tells the inner exporter.
    void io_context_destroyed() noexcept final;

    [[nodiscard]] exporter_stats get_stats() const noexcept;
    /// Traces waiting in the stage's queue (0 for stages without one).
    [[nodiscard]] std::size_t queue_size() const noexcept;
    /// Queued plus being exported.
    [[nodiscard]] std::size_t pending_count() const noexcept;
    /// True until shutdown while the queue (if any) is below 90 % of its capacity.
    [[nodiscard]] bool is_healthy() const noexcept;
    [[nodiscard]] const exporter_ptr& inner() const noexcept;

protected:
    /// Throws std::invalid_argument if `inner` is null (the message names `stage`).
    export_stage(exporter_ptr inner, const char* stage);
    /// Completes when the stage holds no work of its own (default: at once).
    virtual boost::asio::awaitable<void> drain();

    /// Shared with the stage's coroutines (which may outlive a call); set by the derived
    /// constructor to its own state (derived from the library's stage core).
    std::shared_ptr<detail::stage_core> core_;

private:
    exporter_ptr inner_;
};

} // namespace tracecraft
