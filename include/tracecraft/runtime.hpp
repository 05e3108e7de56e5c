// TraceCraft C++ — the runtime: sampling, processing and export on strands of your io_context.
//
//   boost::asio::io_context ioc;
//   auto rt = tracecraft::init(ioc, cfg);          // default runtime for all spans
//   tracecraft::spawn(ioc, agent(), boost::asio::detached);
//   ioc.run();
//   rt->shutdown();                               // drains every stage; nothing is lost
//
// The runtime never creates a thread. A finished trace passes the processors that may run where
// it completed (enrichment, tail sampling), then a bounded lock-free queue; on a strand of the
// io_context it is batched, passes the remaining processors (redaction, your own) and goes to
// the exporters. docs/architecture.md draws the whole path. Several independent runtimes may exist (pass one to make_executor /
// spawn to route an agent's spans to it).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "tracecraft/config.hpp"

namespace tracecraft {

class runtime;
namespace detail {
struct runtime_core;
runtime_core* runtime_core_of(runtime* rt) noexcept;
} // namespace detail

/// Counters of every stage. All counts are since the runtime started.
struct runtime_stats {
    std::uint64_t traces_started = 0;         ///< local roots created (recorded or not)
    std::uint64_t traces_completed = 0;       ///< recorded traces whose last span ended
    std::uint64_t traces_head_dropped = 0;    ///< not recorded at all (rate decision at start)
    std::uint64_t traces_sampled_out = 0;     ///< recorded, then dropped by the tail sampler
    std::uint64_t traces_processor_dropped = 0;   ///< dropped by another processor (your own)
    std::uint64_t traces_processor_failed = 0;    ///< dropped because a processor threw (warned)
    std::uint64_t traces_kept = 0;            ///< passed sampling
    std::uint64_t traces_queue_dropped = 0;   ///< refused at hand-off: the pipeline was full
    std::uint64_t traces_after_shutdown = 0;  ///< completed after shutdown (not exported)
    std::uint64_t spans_kept = 0;
    /// Lost for room in the pipeline (trace_config::overflow): refused at hand-off, or given up
    /// as the oldest undelivered batch (a batch being retried included).
    std::uint64_t spans_queue_dropped = 0;
    std::uint64_t batches_queue_dropped = 0;  ///< batches given up for room (drop_oldest)
    std::uint64_t spans_depth_dropped = 0;    ///< deeper than max_step_depth
    /// Delivered: acknowledged by every exporter, minus the spans the receiver rejected.
    /// With one exporter every kept or refused span ends in exactly one of spans_exported,
    /// spans_rejected, spans_export_failed, spans_queue_dropped, spans_shutdown_dropped,
    /// spans_spool_dropped, or is still in queue_spans or spans_spooled: nothing is lost
    /// without a count.
    std::uint64_t spans_exported = 0;
    std::uint64_t spans_rejected = 0;         ///< accepted but rejected by the receiver (OTLP partial success)
    /// Some exporter failed the batch: refused permanently (spans_failed_permanent) or its
    /// retries gave up (spans_retry_expired).
    std::uint64_t spans_export_failed = 0;
    std::uint64_t spans_failed_permanent = 0; ///< the receiver refused them (4xx other than 429)
    std::uint64_t spans_retry_expired = 0;    ///< retryable failures past retry_policy::max_elapsed
    std::uint64_t spans_shutdown_dropped = 0; ///< undelivered when trace_config::shutdown_timeout passed
    std::uint64_t export_retries = 0;         ///< attempts after a retryable failure (all exporters)
    // With a disk spool (otlp_http_options::spool_dir) a batch is counted when the spool
    // delivers it; until then it is in spans_spooled. The counts above include spans replayed
    // from a previous process's spool (spans_spool_replayed).
    std::uint64_t spans_spooled = 0;          ///< waiting in a disk spool (gauge)
    std::uint64_t spans_spool_dropped = 0;    ///< dropped from a spool: byte limit, corrupt records
    std::uint64_t spans_spool_replayed = 0;   ///< found in a spool at start, left by a previous process
    std::uint64_t batches_exported = 0;
    std::uint64_t spans_redacted = 0;         ///< spans in which at least one value changed
    std::uint64_t redaction_failures = 0;     ///< spans fully masked because scanning failed
    /// values masked whole because confirming their matches exceeded the redactor's work budget
    /// (fail closed; a last line of defence that the default rules do not reach)
    std::uint64_t redaction_budget_exhausted = 0;
    /// strings exported with U+FFFD in place of bytes that were not valid UTF-8 (receivers
    /// reject a whole request holding one invalid string)
    std::uint64_t strings_utf8_repaired = 0;
    std::uint64_t queue_spans = 0;            ///< currently queued (gauge)
    std::uint64_t traces_open = 0;            ///< recorded traces not yet complete (gauge)
    /// Functions of one agent that arrived while the agent ran on another thread and waited for
    /// their turn (one agent never runs on two threads at once). Asio's own bookkeeping causes a
    /// few; plain completion handlers of I/O objects made from a traced coroutine's executor, on
    /// a multi-threaded io_context, cause more (they then run in the agent's context between two
    /// of its resumptions). Not an error.
    std::uint64_t context_waits = 0;
    // Context misuse, detected in every build (each also said at warn, at most once per 10 s):
    /// Span scopes of one context closed out of LIFO order: two coroutines share one context
    /// (asio::co_spawn with the current coroutine's executor, Asio's awaitable_operators).
    std::uint64_t spans_out_of_order = 0;
    /// Spans ended outside the agent that started them (exported with tracecraft.abandoned):
    /// a suspended coroutine destroyed with its io_context, or a coroutine that started inside a
    /// traced one and then ran on a plain executor (asio::co_spawn from traced code).
    std::uint64_t spans_abandoned = 0;
    /// Metric measurements that went to an overflow series (metrics_config::max_series reached).
    std::uint64_t metric_series_overflow = 0;
    std::uint64_t metric_exports = 0;          ///< metric exports delivered (all exporters)
    std::uint64_t metric_export_failures = 0;  ///< metric exports that failed (said at warn)
};

class runtime {
public:
    /// Validates `config` (throws config_error) and starts the pipeline on `ioc`.
    runtime(boost::asio::io_context& ioc, trace_config config);
    /// Does not block. If shutdown() was not called, still-queued traces are reported (logged
    /// and counted as lost) — call shutdown() first.
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    /// Completes when every trace that finished before the call has been exported (or failed).
    boost::asio::awaitable<void> async_force_flush();
    /// Stops accepting traces, drains every stage, shuts the exporters down.
    boost::asio::awaitable<void> async_shutdown();
    /// The same after a grace period for detached work: first waits, at most `grace`, until no
    /// recorded trace is open (every span ended and every fork — spawn, bind_context — released),
    /// so traces of agents still running are exported instead of counted as after-shutdown.
    boost::asio::awaitable<void> async_shutdown(std::chrono::milliseconds grace);
    /// Completes when no recorded trace is open, or after `timeout`; true when idle. Polls on
    /// the pipeline strand (1 ms, doubling to 20 ms); costs nothing on the hot path.
    boost::asio::awaitable<bool> async_wait_idle(std::chrono::milliseconds timeout);
    /// Blocking convenience for main(): must not be called from a handler of the io_context.
    /// If no thread is running the io_context, runs it until the shutdown completes.
    void shutdown();
    void shutdown(std::chrono::milliseconds grace);
    void force_flush();

    /// Back-pressure for producers that must not lose traces: true while `spans` more spans
    /// fit in the pipeline (max_queue_spans). Cheap (one atomic load); call it per agent run.
    [[nodiscard]] bool has_capacity(std::size_t spans) const noexcept;
    /// Completes once `spans` more spans fit in the pipeline (partly filled batches are handed
    /// to the exporters at once instead of waiting for flush_interval). The producer coroutine
    /// waits; the io_context thread keeps running everything else. Completes at once after
    /// shutdown. Typical use, once per agent run:
    ///   if (!rt->has_capacity(n)) co_await rt->async_wait_for_capacity(n);
    boost::asio::awaitable<void> async_wait_for_capacity(std::size_t spans);

    [[nodiscard]] runtime_stats stats() const noexcept;
    /// GenAI metrics recorded from every finished trace (before sampling) and the library's
    /// health, cumulative since the runtime started (metrics.hpp). Empty when
    /// trace_config::metrics.enabled is false. Any thread.
    [[nodiscard]] metrics_snapshot metrics() const;
    /// True while accepting traces and the queue is below 90 % of capacity.
    [[nodiscard]] bool is_healthy() const noexcept;
    [[nodiscard]] const trace_config& config() const noexcept;
    [[nodiscard]] boost::asio::io_context& context() const noexcept;

private:
    friend detail::runtime_core* detail::runtime_core_of(runtime* rt) noexcept;
    void run_blocking(boost::asio::awaitable<void> op);
    boost::asio::io_context& ioc_;
    detail::runtime_core* core_;
};

/// Creates a runtime and makes it the default for spans whose agent names no runtime.
/// Calling init again replaces the default (the previous runtime keeps working for agents
/// bound to it). Returns shared ownership; the default holds a reference too.
std::shared_ptr<runtime> init(boost::asio::io_context& ioc, trace_config config = {});
/// The default runtime, or null.
[[nodiscard]] std::shared_ptr<runtime> default_runtime() noexcept;
/// Clears the default runtime (it is destroyed when the last reference goes).
void reset_default_runtime() noexcept;

} // namespace tracecraft
