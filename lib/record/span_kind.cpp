// Names of span kinds and status codes (as exported and parsed).
#include "tracecraft/span_kind.hpp"

#include <iterator>

namespace tracecraft {
namespace {
constexpr std::string_view kind_names[] = {"agent",     "llm",        "tool",     "retrieval", "memory",
                                           "guardrail", "evaluation", "workflow", "error"};
}

std::string_view to_string(span_kind k) noexcept {
    const auto i = static_cast<std::size_t>(k);
    return i < std::size(kind_names) ? kind_names[i] : std::string_view("unknown");
}

std::optional<span_kind> span_kind_from_string(std::string_view s) noexcept {
    for (std::size_t i = 0; i < std::size(kind_names); ++i)
        if (kind_names[i] == s) return static_cast<span_kind>(i);
    return std::nullopt;
}

std::string_view to_string(status_code c) noexcept {
    switch (c) {
        case status_code::ok: return "OK";
        case status_code::error: return "ERROR";
        default: return "UNSET";
    }
}
} // namespace tracecraft
