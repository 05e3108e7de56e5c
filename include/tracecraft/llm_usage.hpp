// TraceCraft C++ — token usage read from LLM provider responses.
//
// OpenAI shape:    {"usage": {"prompt_tokens": 12, "completion_tokens": 34}} (also the final
//                  streaming chunk when stream_options.include_usage is set)
// Anthropic shape: {"usage": {"input_tokens": 12, "output_tokens": 34}}, and in streams
//                  message_start.message.usage.input_tokens / message_delta.usage.output_tokens.
// When a response carries no usage, estimate_tokens() gives a rough count and the span is
// marked tracecraft.usage.estimated = true.
#pragma once

#include <cstdint>
#include <climits>
#include <optional>
#include <string_view>

namespace tracecraft {

struct token_usage {
    /// The largest token count accepted (10^12): larger, negative, fractional or non-finite
    /// counts are no counts; parse_usage ignores them and span::set_tokens clamps them into
    /// [0, max_tokens], each counted (rejected_token_counts()) and said at warn, rate-limited.
    static constexpr std::int64_t max_tokens = 1'000'000'000'000;

    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    bool estimated = false;   ///< not reported by the provider
    /// input + output, saturating at INT64_MAX (never overflows).
    [[nodiscard]] std::int64_t total() const noexcept {
        std::int64_t t = 0;
        return __builtin_add_overflow(input_tokens, output_tokens, &t) ? INT64_MAX : t;
    }
};

/// Usage from a JSON response body or one streaming event's JSON (OpenAI or Anthropic shape).
/// Fields absent in this document are left at 0; nullopt if it has no usage at all (or is not
/// JSON). A count that is negative, fractional, not finite or above token_usage::max_tokens is
/// ignored as if absent, and counted.
[[nodiscard]] std::optional<token_usage> parse_usage(std::string_view json_text);

/// Token counts rejected or clamped so far in this process (parse_usage, span::set_tokens).
[[nodiscard]] std::uint64_t rejected_token_counts() noexcept;

/// Rough token count of text (~4 bytes per token, at least 1 for non-empty text).
[[nodiscard]] std::int64_t estimate_tokens(std::string_view text) noexcept;

} // namespace tracecraft
