// Token usage: parsing a provider response's usage object, estimating tokens from text.
#include <algorithm>

#include <atomic>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "llm/token_counts.hpp"
#include "support/log_limiter.hpp"
#include "tracecraft/llm_usage.hpp"
#include "tracecraft/log.hpp"

namespace tracecraft {

namespace json = boost::json;

namespace detail {
namespace {
std::atomic<std::uint64_t> g_rejected{0};
log_limiter g_rejected_log;
} // namespace

void count_rejected_tokens(std::string_view field) noexcept {
    const std::uint64_t n = g_rejected.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!g_rejected_log.allow()) return;
    try {
        logger()->warn("token count '{}' is not a count in [0, 10^12]: ignored or clamped ({} so far)", field, n);
    } catch (...) {
    }
}
} // namespace detail

std::uint64_t rejected_token_counts() noexcept { return detail::g_rejected.load(std::memory_order_relaxed); }
// ---- usage -----------------------------------------------------------------------------

namespace {

std::optional<std::int64_t> int_field(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (!v) return std::nullopt;
    constexpr std::int64_t most = token_usage::max_tokens;
    if (v->is_int64() && v->as_int64() >= 0 && v->as_int64() <= most) return v->as_int64();
    if (v->is_double()) {   // 12.0 is a count; 1e308, -1, 0.5, NaN are not (and never reach a cast)
        const double d = v->as_double();
        if (d >= 0 && d <= static_cast<double>(most) && d == static_cast<double>(static_cast<std::int64_t>(d)))
            return static_cast<std::int64_t>(d);
    }
    if (v->is_int64() || v->is_uint64() || v->is_double()) detail::count_rejected_tokens(key);
    return std::nullopt;
}

std::optional<token_usage> usage_of(const json::object& u) {
    token_usage out;
    bool any = false;
    for (auto [key, field] : {std::pair{"prompt_tokens", &token_usage::input_tokens}, std::pair{"input_tokens", &token_usage::input_tokens},
                              std::pair{"completion_tokens", &token_usage::output_tokens},
                              std::pair{"output_tokens", &token_usage::output_tokens}}) {
        if (auto v = int_field(u, key)) {
            out.*field = *v;
            any = true;
        }
    }
    if (!any) return std::nullopt;
    return out;
}

} // namespace

std::optional<token_usage> parse_usage(std::string_view text) {
    boost::system::error_code ec;
    const json::value doc = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec || !doc.is_object()) return std::nullopt;
    const json::object& o = doc.as_object();
    if (const auto* u = o.if_contains("usage"); u && u->is_object()) return usage_of(u->as_object());
    // Anthropic stream: {"type":"message_start","message":{"usage":{...}}}
    if (const auto* m = o.if_contains("message"); m && m->is_object())
        if (const auto* u = m->as_object().if_contains("usage"); u && u->is_object()) return usage_of(u->as_object());
    return std::nullopt;
}

std::int64_t estimate_tokens(std::string_view text) noexcept {
    if (text.empty()) return 0;
    return std::max<std::int64_t>(1, static_cast<std::int64_t>((text.size() + 3) / 4));
}
} // namespace tracecraft
