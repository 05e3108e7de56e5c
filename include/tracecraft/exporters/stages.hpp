// TraceCraft C++ — export stages: exporters that wrap exporters (the Python SDK's names).
//
//   auto otlp  = std::make_shared<my_exporter>();
//   auto batch = std::make_shared<tracecraft::async_batch_exporter>(otlp, batch_options{});
//   auto limit = std::make_shared<tracecraft::rate_limited_exporter>(batch, 50.0, 10, false);
//   cfg.exporters = {limit};
//
// Every stage derives from export_stage (stage.hpp: start, force_flush, shutdown, stats, gauges,
// health written once) and runs as coroutines on the runtime's pipeline strand — a worker is a
// coroutine, never a thread. Every queue is bounded with an explicit, counted overflow.
// force_flush() and shutdown() drain the stage and then its inner exporter: nothing accepted
// is lost.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "tracecraft/config.hpp"
#include "tracecraft/exporters/stage.hpp"
#include "tracecraft/retry_policy.hpp"

namespace tracecraft {

/// Called with a failed batch and the error text (on the pipeline strand).
using error_callback = std::function<void(const span_batch&, const std::string&)>;
/// Called for each trace dropped because a queue was full.
using drop_callback = std::function<void(const trace_view&)>;

namespace detail {
struct queued_stage_state;
struct rate_limit_state;
struct retry_state;
} // namespace detail

/// The Python SDK's AsyncBatchExporter: buffers traces and hands real batches (one inner call per
/// batch) to `inner` when `batch_size` traces are queued or `flush_interval` has passed since
/// the oldest queued trace. Returns to the pipeline at once: the inner export never delays it.
class async_batch_exporter final : public export_stage {
public:
    struct options {
        std::size_t batch_size = 50;                           ///< traces per inner call
        std::chrono::milliseconds flush_interval{5000};
        std::size_t max_queue_size = 1000;                     ///< traces; beyond: dropped, counted
        error_callback on_error;
        drop_callback on_drop;
    };
    async_batch_exporter(exporter_ptr inner, options opts);
    explicit async_batch_exporter(exporter_ptr inner) : async_batch_exporter(std::move(inner), options{}) {}
    ~async_batch_exporter() override;

    [[nodiscard]] std::string_view name() const noexcept override { return "async_batch"; }
    boost::asio::awaitable<export_result> export_batch(span_batch batch) override;

private:
    boost::asio::awaitable<void> drain() override;
    std::shared_ptr<detail::queued_stage_state> st_;
};

/// The Python SDK's AsyncExporter: exports traces one by one with `num_workers` concurrent export
/// coroutines (not threads) pulling from a bounded queue.
class async_exporter final : public export_stage {
public:
    struct options {
        std::size_t queue_size = 1000;   ///< traces
        std::size_t num_workers = 1;
        error_callback on_error;
        drop_callback on_drop;
    };
    async_exporter(exporter_ptr inner, options opts);
    explicit async_exporter(exporter_ptr inner) : async_exporter(std::move(inner), options{}) {}
    ~async_exporter() override;

    [[nodiscard]] std::string_view name() const noexcept override { return "async"; }
    boost::asio::awaitable<export_result> export_batch(span_batch batch) override;

private:
    boost::asio::awaitable<void> drain() override;
    std::shared_ptr<detail::queued_stage_state> st_;
};

/// The Python SDK's RateLimitedExporter: a token bucket of `rate` traces per second with `burst`
/// capacity (starts full). Non-blocking: traces beyond the available tokens are dropped and
/// counted (dropped_count()). Blocking: the export awaits a timer until tokens are available —
/// it never sleeps a thread.
class rate_limited_exporter final : public export_stage {
public:
    rate_limited_exporter(exporter_ptr inner, double rate = 100.0, double burst = 10.0, bool blocking = true);
    ~rate_limited_exporter() override;

    [[nodiscard]] std::string_view name() const noexcept override { return "rate_limited"; }
    boost::asio::awaitable<export_result> export_batch(span_batch batch) override;

    /// Traces refused for lack of tokens (get_stats().dropped_traces).
    [[nodiscard]] std::uint64_t dropped_count() const noexcept;

private:
    std::shared_ptr<detail::rate_limit_state> st_;
};

/// The Python SDK's RetryingExporter: retries an inner export that failed with `retryable` set,
/// by `policy` (retry_policy.hpp — the same policy and code the OTLP exporter uses: backoff with
/// jitter on a timer, max_elapsed, cancellation). Non-retryable failures return at once. Around
/// an exporter that retries by itself (otlp_http_exporter), the two compose: the inner one
/// returns `retryable` when its own policy gives up, and this stage retries again — give the
/// inner one retry_policy::none() to have one layer only.
class retrying_exporter final : public export_stage {
public:
    retrying_exporter(exporter_ptr inner, retry_policy policy);
    explicit retrying_exporter(exporter_ptr inner) : retrying_exporter(std::move(inner), retry_policy{}) {}
    ~retrying_exporter() override;

    [[nodiscard]] std::string_view name() const noexcept override { return "retrying"; }
    boost::asio::awaitable<export_result> export_batch(span_batch batch) override;

private:
    std::shared_ptr<detail::retry_state> st_;
};

} // namespace tracecraft
