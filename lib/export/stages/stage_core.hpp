// What every export stage shares (private to the library): the inner exporter, the strand,
// counters, gauges, and one counted inner export call.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "tracecraft/exporters/stages.hpp"

namespace tracecraft::detail {

struct stage_core {
    virtual ~stage_core() = default;

    exporter_ptr inner;
    boost::asio::any_io_executor ex;   ///< the pipeline strand, from start() to shutdown()
    boost::asio::io_context* ioc = nullptr;   ///< its io_context (background waits)
    std::atomic<bool> stopping{false};
    error_callback on_error;

    // counters (read from any thread)
    std::atomic<std::uint64_t> exported_traces{0}, exported_spans{0}, batches{0}, dropped{0}, errors{0},
        failed_traces{0}, retries{0};
    // gauges of stages with a queue (read from any thread)
    std::atomic<std::size_t> queued_gauge{0}, pending_gauge{0};
    std::size_t capacity = 0;   ///< queue capacity in traces; 0: no queue

    /// Counts one inner export's outcome.
    void count(const span_batch& b, const export_result& r);
    /// One inner export, exceptions turned into failures, counted.
    boost::asio::awaitable<export_result> export_counted(span_batch b);
    /// Called by start() on the strand, and by shutdown() (drop timers and executors).
    virtual void on_start() {}
    virtual void release_io() {}
};

/// A stage's state, bound to its inner exporter (the derived constructor's one line).
template <class State>
std::shared_ptr<State> make_stage_state(const exporter_ptr& inner) {
    auto st = std::make_shared<State>();
    st->inner = inner;
    return st;
}

} // namespace tracecraft::detail
