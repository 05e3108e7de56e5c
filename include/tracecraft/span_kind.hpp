// TraceCraft C++ — span kinds (the Python SDK's StepType) and span status.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tracecraft {

/// What a span records. Mirrors the Python SDK's StepType values.
enum class span_kind : std::uint8_t {
    agent,
    llm,
    tool,
    retrieval,
    memory,
    guardrail,
    evaluation,
    workflow,
    error,
};

/// Alias kept for readers coming from the Python SDK.
using step_type = span_kind;

/// Lowercase name as in the Python SDK ("agent", "llm", ...).
[[nodiscard]] std::string_view to_string(span_kind k) noexcept;
/// Parses the lowercase name; nullopt for anything else.
[[nodiscard]] std::optional<span_kind> span_kind_from_string(std::string_view s) noexcept;

/// The OpenTelemetry SpanKind a span is exported with. `automatic`: CLIENT for LLM spans (a call
/// to a model server), INTERNAL for the others. A run that serves an incoming request (an HTTP
/// handler, a gateway) is `server`; a span that calls another service may be `client`.
enum class otel_span_kind : std::uint8_t { automatic = 0, internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

/// The SpanKind number of OTLP (1 internal .. 5 consumer) for `k` on a span of `kind`.
[[nodiscard]] constexpr int otlp_span_kind_of(otel_span_kind k, span_kind kind) noexcept {
    if (k != otel_span_kind::automatic) return static_cast<int>(k);
    return kind == span_kind::llm ? 3 : 1;
}

/// OpenTelemetry span status code.
enum class status_code : std::uint8_t { unset = 0, ok = 1, error = 2 };

[[nodiscard]] std::string_view to_string(status_code c) noexcept;

} // namespace tracecraft
