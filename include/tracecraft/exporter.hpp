// TraceCraft C++ — the exporter interface (the sink of the pipeline).
//
// An exporter receives batches of finished, sampled, processed traces. export_batch is a
// coroutine run on the runtime's pipeline strand (a strand of the user's io_context, with
// tracing suppressed): it must never block the thread — await I/O instead. Like spdlog sinks,
// the interface is small; stages (batching, rate limiting, retries, async workers) are
// exporters that wrap other exporters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "tracecraft/span_data.hpp"

namespace tracecraft {

namespace detail {
struct trace_buffer;
/// Counted reference to a finished trace; the last reference frees its memory.
class trace_ref {
public:
    trace_ref() noexcept = default;
    explicit trace_ref(trace_buffer* t) noexcept : t_(t) {}   // adopts one reference
    trace_ref(const trace_ref& o) noexcept;
    trace_ref(trace_ref&& o) noexcept : t_(o.t_) { o.t_ = nullptr; }
    trace_ref& operator=(trace_ref o) noexcept { std::swap(t_, o.t_); return *this; }
    ~trace_ref();
    [[nodiscard]] trace_buffer* get() const noexcept { return t_; }

private:
    trace_buffer* t_ = nullptr;
};
} // namespace detail

/// A shareable, immutable batch of finished traces. Copies share the data; span memory is
/// released when the last batch referring to a trace is destroyed.
class span_batch {
public:
    span_batch() = default;
    explicit span_batch(std::vector<detail::trace_ref> traces);

    [[nodiscard]] std::size_t trace_count() const noexcept { return traces_ ? traces_->size() : 0; }
    [[nodiscard]] std::size_t span_count() const noexcept { return spans_; }
    [[nodiscard]] bool empty() const noexcept { return trace_count() == 0; }
    [[nodiscard]] trace_view trace(std::size_t i) const noexcept { return trace_view((*traces_)[i].get()); }

    template <class F>
    void for_each_trace(F&& f) const {
        for (std::size_t i = 0; i < trace_count(); ++i) f(trace(i));
    }
    template <class F>
    void for_each_span(F&& f) const {
        for_each_trace([&](const trace_view& t) { t.for_each_span(f); });
    }

    /// Concatenation of several batches (shares the traces).
    [[nodiscard]] static span_batch merge(const std::vector<span_batch>& parts);
    /// Splits into batches of at most `max_spans` spans (whole traces; a trace larger than
    /// max_spans forms a batch of its own).
    [[nodiscard]] std::vector<span_batch> split(std::size_t max_spans) const;
    [[nodiscard]] const std::vector<detail::trace_ref>& traces() const noexcept;

private:
    std::shared_ptr<const std::vector<detail::trace_ref>> traces_;
    std::size_t spans_ = 0;
};

/// Outcome of one export call.
struct export_result {
    bool success = true;
    bool retryable = false;           ///< worth trying again (timeouts, 429, 503, ...)
    std::uint64_t rejected_spans = 0; ///< spans the backend refused (OTLP partial success)
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

/// What an exporter is given when the runtime starts it.
struct exporter_environment {
    boost::asio::any_io_executor executor;   ///< the pipeline strand (tracing suppressed)
    std::string service_name;
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
};

using exporter_ptr = std::shared_ptr<exporter>;

} // namespace tracecraft
