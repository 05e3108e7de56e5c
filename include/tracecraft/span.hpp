// TraceCraft C++ — spans: the handle, the RAII scope, and the run (a trace's root).
//
//   tracecraft::span_scope s("vector_search", tracecraft::span_kind::retrieval);
//   s.set_attribute("db.collection.name", "docs").set_input("query", q);
//   ... // nested scopes and co_awaited work become children of `s`
//
// A span_scope starts a span as a child of the current span of this agent (or a new trace when
// there is none), makes it current, and ends it in its destructor — including when an exception
// escapes, in which case the span is marked ERROR. Scopes must be destroyed in reverse order of
// construction within one agent (they are plain locals, so this holds naturally).
//
// GCC 12 note: never build span_options with a braced temporary inside a co_await expression;
// declare it as a named local first (GCC PR 100611, docs/context.md §7).
#pragma once

#include <concepts>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tracecraft/attribute.hpp"
#include "tracecraft/llm_usage.hpp"
#include "tracecraft/detail/task_context.hpp"
#include "tracecraft/ids.hpp"
#include "tracecraft/span_kind.hpp"

namespace tracecraft {

namespace detail {
struct span_record;
/// What a span of a trace dropped at its root keeps for the GenAI metrics (lib/metrics).
struct metric_probe;
void probe_string(metric_probe* p, std::string_view key, std::string_view value) noexcept;
void probe_int(metric_probe* p, std::string_view key, std::int64_t value) noexcept;
void probe_double(metric_probe* p, std::string_view key, double value) noexcept;
} // namespace detail

/// A non-owning scalar attribute argument (string, integer, double or bool).
class attribute_arg {
public:
    attribute_arg(std::string_view s) noexcept : v_(value_view::of_string(s.data(), static_cast<std::uint32_t>(s.size()))) {}
    attribute_arg(const char* s) noexcept : attribute_arg(std::string_view(s)) {}
    attribute_arg(const std::string& s) noexcept : attribute_arg(std::string_view(s)) {}
    template <std::integral I>
        requires(!std::same_as<I, bool>)
    attribute_arg(I i) noexcept : v_(value_view::of_int(static_cast<std::int64_t>(i))) {}
    attribute_arg(double d) noexcept : v_(value_view::of_double(d)) {}
    attribute_arg(float d) noexcept : v_(value_view::of_double(d)) {}
    attribute_arg(bool b) noexcept : v_(value_view::of_bool(b)) {}

    [[nodiscard]] const value_view& view() const noexcept { return v_; }

private:
    value_view v_;
};

/// A key and a scalar value, for event attributes.
struct key_value {
    std::string_view key;
    attribute_arg value;
};

/// Options for starting a span. Build it as a named local (see the GCC 12 note above).
struct span_options {
    span_kind kind = span_kind::workflow;
    /// Explicit parent (e.g. an extracted remote context). Overrides the current span.
    std::optional<span_context> parent;
    /// W3C tracestate to carry with a trace started from `parent`.
    std::string tracestate;
    /// Start a new trace even if a span is current.
    bool new_trace = false;
    /// When false, set_input() is ignored for this span (the Python SDK's capture_inputs=False).
    bool capture_inputs = true;
    /// Input names whose values are replaced by "[EXCLUDED]" (the Python SDK's exclude_inputs).
    std::vector<std::string> exclude_inputs;
    /// Links to other spans (e.g. the request that scheduled this background work).
    std::vector<span_context> links;
    /// The OpenTelemetry SpanKind it is exported with (automatic: CLIENT for LLM spans).
    otel_span_kind otel_kind = otel_span_kind::automatic;
};

/// Convenience: options for a span of `kind` (see span_options).
[[nodiscard]] inline span_options options_for(span_kind kind) {
    span_options o;
    o.kind = kind;
    return o;
}

/// Handle to a live span. Cheap to copy; does nothing when the span is not recorded
/// (sampled out, suppressed or past max_step_depth). Valid only while the span is open.
class span {
public:
    span() noexcept = default;

    [[nodiscard]] bool is_recording() const noexcept { return rec_ != nullptr; }
    /// Ids of this span (also for non-recording spans inside a trace).
    [[nodiscard]] span_context context() const noexcept { return ctx_; }

    // Scalar setters are inline templates so that a non-recording span (sampled out at the root)
    // costs one test: the value is not even converted.
    template <class V>
    span& set_attribute(std::string_view key, const V& value) {
        if (rec_) {
            // strings and integers (most attributes) take specialised paths: no type dispatch
            if constexpr (std::is_convertible_v<const V&, std::string_view>)
                set_string_attribute_impl(key, std::string_view(value));
            else if constexpr (std::is_integral_v<V> && !std::is_same_v<V, bool>)
                set_int_attribute_impl(key, static_cast<std::int64_t>(value));
            else
                set_attribute_impl(key, attribute_arg(value));
        } else if (probe_) [[unlikely]] {
            // a span of a trace dropped at its root, measured for the GenAI metrics: only the
            // few attributes the metrics read are looked at
            if constexpr (std::is_convertible_v<const V&, std::string_view>)
                detail::probe_string(probe_, key, std::string_view(value));
            else if constexpr (std::is_integral_v<V> && !std::is_same_v<V, bool>)
                detail::probe_int(probe_, key, static_cast<std::int64_t>(value));
            else if constexpr (std::is_floating_point_v<V>)
                detail::probe_double(probe_, key, static_cast<double>(value));
        }
        return *this;
    }
    span& set_attribute(std::string_view key, std::span<const std::string_view> values);
    span& set_attribute(std::string_view key, std::span<const std::string> values);
    span& set_attribute(std::string_view key, std::span<const std::int64_t> values);
    span& set_attribute(std::string_view key, std::span<const double> values);
    span& set_attribute(std::string_view key, std::span<const bool> values);
    span& set_attribute(std::string_view key, const std::vector<bool>& values);   ///< bit-packed: copied element-wise
    span& set_attribute(std::string_view key, const std::vector<std::string>& values) {
        return set_attribute(key, std::span<const std::string>(values));
    }
    span& set_attribute(std::string_view key, const std::vector<std::int64_t>& values) {
        return set_attribute(key, std::span<const std::int64_t>(values));
    }
    span& set_attribute(std::string_view key, const std::vector<double>& values) {
        return set_attribute(key, std::span<const double>(values));
    }
    span& set_attribute(std::string_view key, std::initializer_list<std::string_view> values) {
        return set_attribute(key, std::span<const std::string_view>(values.begin(), values.size()));
    }

    /// Records an input (the Python SDK's step.inputs). Honours capture_inputs / exclude_inputs.
    template <class V>
    span& set_input(std::string_view name, const V& value) {
        if (rec_) set_input_impl(name, attribute_arg(value));
        return *this;
    }
    /// Records an output (the Python SDK's step.outputs).
    template <class V>
    span& set_output(std::string_view name, const V& value) {
        if (rec_) set_output_impl(name, attribute_arg(value));
        return *this;
    }

    /// LLM helpers: model and provider (gen_ai.request.model, gen_ai.provider.name).
    span& set_model(std::string_view model, std::string_view provider = {});
    /// Token usage (gen_ai.usage.input_tokens / output_tokens).
    span& set_tokens(std::int64_t input_tokens, std::int64_t output_tokens);
    /// Usage as read from a provider response (llm_usage.hpp); an estimate is marked
    /// tracecraft.usage.estimated = true.
    span& set_usage(const token_usage& usage);
    /// Cost in USD (tracecraft.cost_usd). Without it, the pipeline prices LLM spans that have
    /// a model and token usage from trace_config::prices.
    span& set_cost(double usd);

    span& add_event(std::string_view name, std::initializer_list<key_value> attributes = {});
    span& add_link(const span_context& linked);
    span& set_status(status_code code, std::string_view message = {});
    span& set_name(std::string_view name);

    /// Marks the span ERROR and adds an "exception" event with exception.type and
    /// exception.message. A cancellation is recorded as cancelled (tracecraft.cancelled = true
    /// and a "cancelled" event), not as an error: a boost::system::system_error whose code is
    /// operation_aborted, a channel's channel_cancelled, or any code equal to
    /// errc::operation_canceled (see is_cancellation).
    span& record_exception(const std::exception& e);
    span& record_exception(std::exception_ptr e);
    /// Records `e` as a cancellation whatever its type: for catch sites that know the agent was
    /// cancelled (its cancellation state says so) when the exception reached them.
    span& record_cancellation(std::exception_ptr e);

protected:
    span(detail::span_record* r, span_context c) noexcept : rec_(r), ctx_(c) {}
    span(detail::metric_probe* p, span_context c) noexcept : probe_(p), ctx_(c) {}
    void set_attribute_impl(std::string_view key, const attribute_arg& value);
    void set_string_attribute_impl(std::string_view key, std::string_view value);
    void set_int_attribute_impl(std::string_view key, std::int64_t value);
    void set_input_impl(std::string_view name, const attribute_arg& value);
    void set_output_impl(std::string_view name, const attribute_arg& value);
    detail::span_record* rec_ = nullptr;
    detail::metric_probe* probe_ = nullptr;   ///< set only when rec_ is null (see probe_string)
    span_context ctx_{};

    friend span current_span() noexcept;
    friend void detail::attribute_exception(detail::task_context*, std::exception_ptr, bool) noexcept;
};

/// True when `e` reports a cancelled operation rather than a failure: a
/// boost::system::system_error with asio::error::operation_aborted, the experimental channels'
/// channel_cancelled, or any code that compares equal to errc::operation_canceled.
[[nodiscard]] bool is_cancellation(const std::exception& e) noexcept;
[[nodiscard]] bool is_cancellation(std::exception_ptr e) noexcept;

/// The current span of the calling agent (a non-recording handle when there is none).
[[nodiscard]] span current_span() noexcept;
/// Ids of the current span; invalid when there is none.
[[nodiscard]] span_context current_span_context() noexcept;

/// RAII: starts a span, makes it current, ends it on destruction.
class span_scope : public span {
public:
    explicit span_scope(std::string_view name, span_kind kind = span_kind::workflow);
    span_scope(std::string_view name, const span_options& options);
    ~span_scope();

    span_scope(const span_scope&) = delete;
    span_scope& operator=(const span_scope&) = delete;
    span_scope(span_scope&&) = delete;
    span_scope& operator=(span_scope&&) = delete;

private:
    void start(std::string_view name, span_kind kind, const span_options* options);
    void end_elsewhere() noexcept;      ///< the destructor runs outside the starting context
    void end_out_of_order() noexcept;   ///< the span is not its context's current one
    detail::task_context* task_ = nullptr;
    detail::current_span_state saved_;   ///< written by start(): whole, or the fields restore_ names
    int uncaught_ = 0;
    /// What the destructor restores: everything, only the depth (an unrecorded child), or the
    /// current record, span id and depth (a recorded child: trace, mode and flags are unchanged).
    enum class restore : std::uint8_t { all, depth, child } restore_ = restore::all;
};

/// Run-level fields (the Python SDK's AgentRun) carried on the trace's root span.
struct run_options {
    std::string description;
    std::string session_id;
    std::string user_id;
    std::vector<std::string> tags;
    std::string environment;     ///< empty: the runtime's configured environment
    std::string input;           ///< the run's input (redacted like any other string)
    /// Continue an incoming trace: the run's span becomes a child of this remote span.
    std::optional<span_context> parent;
    std::string tracestate;
    span_kind kind = span_kind::agent;
    /// otel_span_kind::server for a run that serves an incoming request (exported as SpanKind
    /// SERVER, with the http.* / url.* / server.* attributes the handler records).
    otel_span_kind otel_kind = otel_span_kind::automatic;
};

/// An agent run: an AGENT span that is the root of a new trace (or the local root under an
/// extracted remote parent), with run-level fields as attributes. Nested inside another span,
/// it becomes a child AGENT span of that span (a sub-agent) carrying its run fields.
class run_scope : public span_scope {
public:
    explicit run_scope(std::string_view name);
    run_scope(std::string_view name, const run_options& options);

    /// The run's output (the Python SDK's AgentRun.output).
    run_scope& set_run_output(std::string_view output);
};

} // namespace tracecraft
