// Token usage: parsing a provider response's usage object, estimating tokens from text.
#include <algorithm>

#include <boost/json.hpp>

#include "tracecraft/llm_usage.hpp"

namespace tracecraft {

namespace json = boost::json;
// ---- usage -----------------------------------------------------------------------------

namespace {

std::optional<std::int64_t> int_field(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
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
