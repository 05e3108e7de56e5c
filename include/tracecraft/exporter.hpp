// TraceCraft C++ — the exporter interface (the sink of the pipeline).
//
// An exporter receives batches of finished, sampled, processed traces. export_batch is a
// coroutine run on the runtime's pipeline strand (a strand of the user's io_context, with
// tracing suppressed): it must never block the thread — await I/O instead. Like spdlog sinks,
// the interface is small; stages (batching, rate limiting, retries, async workers) are
// exporters that wrap other exporters.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/awaitable.hpp>

#include "tracecraft/metrics.hpp"
#include "tracecraft/span_batch.hpp"

namespace tracecraft {

/// Outcome of one export call.
struct export_result {
    bool success = true;
    /// A failure worth trying again (connection refused/reset, timeouts, 429, 502, 503, 504).
    /// An exporter that retried by itself until its retry_policy ran out keeps it set, so an
    /// outer retrying_exporter still retries (stages compose; none silently disables retries).
    bool retryable = false;
    /// Given up because the caller cancelled it (the runtime needed the room for newer traces,
    /// or the shutdown deadline passed), not because the receiver failed.
    bool cancelled = false;
    std::uint64_t rejected_spans = 0; ///< spans the backend refused (OTLP partial success)
    std::uint32_t attempts = 1;       ///< tries made (retries = attempts - 1)
    /// Accepted into durable storage (a disk spool) and delivered later: the outcome is
    /// reported through exporter_environment::deferred, not by this result.
    bool deferred = false;
    std::string error;

    static export_result ok() { return {}; }
    static export_result failure(std::string message, bool retryable = false) {
        export_result r;
        r.success = false;
        r.retryable = retryable;
        r.error = std::move(message);
        return r;
    }
};

/// Where an exporter that delivers after export_batch returned (from a disk spool) counts what
/// became of those spans; the runtime adds these to its runtime_stats. Any thread.
struct deferred_delivery {
    std::atomic<std::uint64_t> exported{0};          ///< delivered (rejected ones excluded)
    std::atomic<std::uint64_t> rejected{0};          ///< partial success
    std::atomic<std::uint64_t> failed_permanent{0};  ///< refused by the receiver
    std::atomic<std::uint64_t> retry_expired{0};     ///< retries gave up
    std::atomic<std::uint64_t> dropped{0};           ///< spool byte limit, corrupt records
    std::atomic<std::uint64_t> retries{0};
    std::atomic<std::uint64_t> pending{0};           ///< gauge: spans waiting in the spool
    std::atomic<std::uint64_t> replayed{0};          ///< spans found in the spool at start
};

/// What an exporter is given when the runtime starts it.
struct exporter_environment {
    boost::asio::any_io_executor executor;   ///< the pipeline strand (tracing suppressed)
    /// The io_context of `executor` (set by the runtime). Exporters use it to keep their
    /// background waits (retry backoff) from holding io_context::run().
    boost::asio::io_context* io_context = nullptr;
    std::string service_name;
    /// The runtime's counters for deferred deliveries (never null when started by a runtime).
    std::shared_ptr<deferred_delivery> deferred;
    /// trace_config::metrics.export_interval (an exporter's metric retries end within it).
    std::chrono::milliseconds metrics_export_interval{60000};
};

class exporter {
public:
    virtual ~exporter() = default;
    [[nodiscard]] virtual std::string_view name() const noexcept = 0;
    /// Called once before the first export, on the pipeline strand.
    virtual void start(const exporter_environment& env) { (void)env; }
    virtual boost::asio::awaitable<export_result> export_batch(span_batch batch) = 0;
    /// Completes when everything this exporter accepted has been exported (or failed).
    virtual boost::asio::awaitable<void> force_flush();
    /// Flushes, then releases resources. No export_batch calls follow. An exporter must drop
    /// every executor and I/O object of the io_context here: the exporter may outlive it.
    virtual boost::asio::awaitable<void> shutdown();
    /// Called instead of shutdown() when the io_context the exporter was started on is destroyed
    /// first (from inside its destructor, on the destroying thread; no handler of it runs any
    /// more): drop every executor, timer and socket of it now, without waiting. No other call
    /// follows but the destructor. The default does nothing (an exporter that keeps none).
    virtual void io_context_destroyed() noexcept {}
    /// True for an exporter that also takes metrics (metrics.hpp): export_metrics is then called
    /// on the pipeline strand every trace_config::metrics.export_interval and once at shutdown
    /// (before shutdown()), never concurrently with itself.
    [[nodiscard]] virtual bool exports_metrics() const noexcept { return false; }
    virtual boost::asio::awaitable<export_result> export_metrics(const metrics_snapshot& metrics);
};

using exporter_ptr = std::shared_ptr<exporter>;

} // namespace tracecraft
