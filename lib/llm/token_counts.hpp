// Token counts that are no counts (negative, fractional, huge): counted and said once per 10 s.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "tracecraft/llm_usage.hpp"

namespace tracecraft::detail {

void count_rejected_tokens(std::string_view field) noexcept;

/// `n` clamped into [0, token_usage::max_tokens], counting a clamp.
inline std::int64_t clamp_tokens(std::int64_t n, std::string_view field) noexcept {
    if (n >= 0 && n <= token_usage::max_tokens) [[likely]] return n;
    count_rejected_tokens(field);
    return std::clamp<std::int64_t>(n, 0, token_usage::max_tokens);
}

/// a + b saturating at INT64_MAX (both non-negative).
inline std::int64_t add_tokens(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t t = 0;
    return __builtin_add_overflow(a, b, &t) ? INT64_MAX : t;
}

} // namespace tracecraft::detail
