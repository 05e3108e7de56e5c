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

/// OpenTelemetry span status code.
enum class status_code : std::uint8_t { unset = 0, ok = 1, error = 2 };

[[nodiscard]] std::string_view to_string(status_code c) noexcept;

} // namespace tracecraft
