// Semantic-convention attributes derived at export time.
#include "tracecraft/otlp/semconv.hpp"

#include <algorithm>

#include <array>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <string>
#include <vector>

#include "support/utf8.hpp"

namespace tracecraft::otlp {

std::string_view openinference_kind(span_kind k) noexcept {
    switch (k) {
        case span_kind::agent: return "AGENT";
        case span_kind::llm: return "LLM";
        case span_kind::tool: return "TOOL";
        case span_kind::retrieval: return "RETRIEVER";
        case span_kind::guardrail: return "GUARDRAIL";
        case span_kind::evaluation: return "EVALUATOR";
        default: return "CHAIN";   // workflow, memory, error
    }
}

namespace {
constexpr auto json_escape_table = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = true;
    t['"'] = t['\\'] = true;
    return t;
}();
} // namespace

void append_json_string(std::string& out, std::string_view s) {
    bool plain = true;   // the common case: nothing to escape, one append
    unsigned char high = 0;
    for (const char ch : s) {
        plain &= !json_escape_table[static_cast<unsigned char>(ch)];
        high |= static_cast<unsigned char>(ch);
    }
    if (high >= 0x80 && !detail::is_valid_utf8(s)) [[unlikely]] {
        std::string valid;
        detail::append_valid_utf8(valid, s);
        append_json_string(out, valid);
        return;
    }
    if (plain) {
        out.push_back('"');
        out.append(s);
        out.push_back('"');
        return;
    }
    // Worst case 6 output bytes per input byte (\u00XX); written through a pointer, then trimmed.
    const std::size_t old = out.size();
    out.resize(old + 6 * s.size() + 2);
    char* o = out.data() + old;
    *o++ = '"';
    static constexpr char hex[] = "0123456789abcdef";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (!json_escape_table[c]) [[likely]] {
            *o++ = ch;
            continue;
        }
        *o++ = '\\';
        switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    out.resize(static_cast<std::size_t>(o - out.data()));
}

void append_json_object(std::string& out, const attribute_range& attrs, std::span<const std::string_view> skip) {
    out.push_back('{');   // not out += "{": GCC 12 -O3 false positive (bug 105329)
    bool first = true;
    attrs.for_each([&](std::string_view k, const value_view& v) {
        if (std::find(skip.begin(), skip.end(), k) != skip.end()) return;
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, k);
        out.push_back(':');
        append_json_value(out, v);
    });
    out.push_back('}');
}

namespace {

/// input.value / output.value: a lone string value as is (text/plain), otherwise a JSON object.
bool io_value(const attribute_range& r, std::string& text, bool& json) {
    if (r.raw_count() == 0) return false;
    std::size_t n = 0;
    value_view single;
    r.for_each([&](std::string_view, const value_view& v) {
        ++n;
        single = v;
    });
    if (n == 1 && single.type() == value_type::string) {
        text.assign(single.as_string());
        json = false;
        return true;
    }
    text.clear();
    append_json_object(text, r);
    json = true;
    return true;
}

value_view str(std::string_view s) { return value_view::of_string(s.data(), static_cast<std::uint32_t>(s.size())); }

// constant_attributes() layout: the step type and the OpenInference kind of every span kind,
// then the GenAI operation names and the input/output mime types.
constexpr std::size_t n_kinds = static_cast<std::size_t>(span_kind::error) + 1;
constexpr std::size_t c_step_type = 0;                     // + kind
constexpr std::size_t c_oi_kind = c_step_type + n_kinds;   // + kind
constexpr std::size_t c_op_invoke_agent = c_oi_kind + n_kinds;
constexpr std::size_t c_op_chat = c_op_invoke_agent + 1;
constexpr std::size_t c_op_execute_tool = c_op_chat + 1;
constexpr std::size_t c_input_json = c_op_execute_tool + 1;
constexpr std::size_t c_input_text = c_input_json + 1;
constexpr std::size_t c_output_json = c_input_text + 1;
constexpr std::size_t c_output_text = c_output_json + 1;
constexpr std::size_t c_count = c_output_text + 1;

} // namespace

namespace {

/// Keys whose presence matters at export: the derived ones (a user-set value wins) and the
/// ones derived values are read from. Classified in the single pass over the attributes.
enum known : unsigned {
    k_step_type, k_op_name, k_agent_name, k_genai_tool_name, k_oi_kind, k_input_value, k_input_mime,
    k_output_value, k_output_mime, k_llm_model_name, k_llm_provider, k_tc_prompt, k_tc_completion, k_tc_total,
    k_tool_name, k_req_model, k_provider, k_in_tokens, k_out_tokens, k_count
};
constexpr std::string_view known_keys[k_count] = {
    "tracecraft.step.type", "gen_ai.operation.name", "gen_ai.agent.name", "gen_ai.tool.name",
    "openinference.span.kind", "input.value", "input.mime_type", "output.value", "output.mime_type",
    "llm.model_name", "llm.provider", "llm.token_count.prompt", "llm.token_count.completion",
    "llm.token_count.total", "tool.name", "gen_ai.request.model", "gen_ai.provider.name",
    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"};

/// Bit i set: some known key has length i (keys longer than 63 bytes are never known).
constexpr std::uint64_t known_lengths = [] {
    std::uint64_t m = 0;
    for (auto k : known_keys) m |= std::uint64_t{1} << k.size();
    return m;
}();

/// Known keys by length: at most `per_length` keys share a length (checked at compile time).
constexpr std::size_t per_length = 3;
struct length_bucket {
    std::uint8_t n = 0;
    std::uint8_t idx[per_length] = {};
};
constexpr auto by_length = [] {
    std::array<length_bucket, 64> b{};
    for (unsigned i = 0; i < k_count; ++i) {
        auto& x = b[known_keys[i].size()];
        if (x.n == per_length) throw "more known keys of one length than per_length";
        x.idx[x.n++] = static_cast<std::uint8_t>(i);
    }
    return b;
}();

/// Equality of two byte ranges of the same length n < 64, inline (no libc call per key).
inline bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
    if (n >= 8) {
        std::uint64_t x, y;
        for (std::size_t i = 0; i + 8 <= n; i += 8) {
            std::memcpy(&x, a + i, 8);
            std::memcpy(&y, b + i, 8);
            if (x != y) return false;
        }
        std::memcpy(&x, a + n - 8, 8);   // the tail, overlapping the last full word
        std::memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    for (std::size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

int classify(std::string_view key) noexcept {
    if (key.size() >= 64 || !((known_lengths >> key.size()) & 1)) return -1;
    const length_bucket& b = by_length[key.size()];
    for (unsigned j = 0; j < b.n; ++j)   // same length: compare the bytes only
        if (same_bytes(known_keys[b.idx[j]].data(), key.data(), key.size())) return b.idx[j];
    return -1;
}

} // namespace

std::span<const constant_attribute> constant_attributes() noexcept {
    static const std::array<constant_attribute, c_count> table = [] {
        std::array<constant_attribute, c_count> t{};
        for (std::size_t i = 0; i < n_kinds; ++i) {
            const auto k = static_cast<span_kind>(i);
            t[c_step_type + i] = {known_keys[k_step_type], to_string(k)};
            t[c_oi_kind + i] = {known_keys[k_oi_kind], openinference_kind(k)};
        }
        t[c_op_invoke_agent] = {known_keys[k_op_name], "invoke_agent"};
        t[c_op_chat] = {known_keys[k_op_name], "chat"};
        t[c_op_execute_tool] = {known_keys[k_op_name], "execute_tool"};
        t[c_input_json] = {known_keys[k_input_mime], "application/json"};
        t[c_input_text] = {known_keys[k_input_mime], "text/plain"};
        t[c_output_json] = {known_keys[k_output_mime], "application/json"};
        t[c_output_text] = {known_keys[k_output_mime], "text/plain"};
        return t;
    }();
    return table;
}

void for_each_export_attribute(const span_view& span, dialect d, attribute_visitor f) {
    // One pass: emit the span's own attributes and note which known keys they set (a bit
    // each); only the four values derived ones are read from are kept.
    static_assert(k_count <= 32 && k_out_tokens - k_req_model == 3);
    std::uint32_t present = 0;
    value_view seen[4];   // k_req_model, k_provider, k_in_tokens, k_out_tokens
    span.attributes().for_each([&](std::string_view key, const value_view& v) {
        f(key, v);
        if (const int i = classify(key); i >= 0) {
            present |= 1u << i;
            if (i >= static_cast<int>(k_req_model)) seen[i - static_cast<int>(k_req_model)] = v;
        }
    });
    auto has = [&](known key) { return (present >> key) & 1u; };
    auto derive = [&](known key, const value_view& v) {
        if (!has(key)) f(known_keys[key], v);
    };
    auto derive_constant = [&](known key, std::size_t id) {   // fixed key and value
        if (!has(key)) f.constant(id);
    };
    const span_kind k = span.kind();
    const auto ki = static_cast<std::size_t>(k);
    const bool valid_kind = ki < n_kinds;
    if (valid_kind)
        derive_constant(k_step_type, c_step_type + ki);
    else
        derive(k_step_type, str(to_string(k)));
    const bool genai = d != dialect::openinference;
    const bool oi = d != dialect::otel_genai;
    if (genai) {
        if (k == span_kind::agent) {
            derive_constant(k_op_name, c_op_invoke_agent);
            derive(k_agent_name, str(span.name()));
        } else if (k == span_kind::llm) {
            derive_constant(k_op_name, c_op_chat);
        } else if (k == span_kind::tool) {
            derive_constant(k_op_name, c_op_execute_tool);
            derive(k_genai_tool_name, str(span.name()));
        }
    }
    if (oi) {
        if (valid_kind)
            derive_constant(k_oi_kind, c_oi_kind + ki);
        else
            derive(k_oi_kind, str(openinference_kind(k)));
        std::string text;
        bool json = false;
        if (io_value(span.inputs(), text, json)) {
            derive(k_input_value, str(text));
            derive_constant(k_input_mime, json ? c_input_json : c_input_text);
        }
        if (io_value(span.outputs(), text, json)) {
            derive(k_output_value, str(text));
            derive_constant(k_output_mime, json ? c_output_json : c_output_text);
        }
        if (k == span_kind::llm) {
            if (has(k_req_model)) derive(k_llm_model_name, seen[k_req_model - k_req_model]);
            if (has(k_provider)) derive(k_llm_provider, seen[k_provider - k_req_model]);
            const value_view in = seen[k_in_tokens - k_req_model], out = seen[k_out_tokens - k_req_model];
            if (in.type() == value_type::int64) derive(k_tc_prompt, in);
            if (out.type() == value_type::int64) derive(k_tc_completion, out);
            if (in.type() == value_type::int64 && out.type() == value_type::int64)
                derive(k_tc_total, value_view::of_int(in.as_int() + out.as_int()));
        }
        if (k == span_kind::tool) derive(k_tool_name, str(span.name()));
    }
}

void append_json_value(std::string& out, const value_view& v) {
    char buf[32];
    switch (v.type()) {
        case value_type::string: append_json_string(out, v.as_string()); break;
        case value_type::int64: out += std::to_string(v.as_int()); break;
        case value_type::float64: {
            const double d = v.as_double();
            if (std::isnan(d)) {
                out += "\"NaN\"";
            } else if (std::isinf(d)) {
                out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
            } else {
                std::snprintf(buf, sizeof buf, "%.17g", d);
                out += buf;
            }
            break;
        }
        case value_type::boolean: out += v.as_bool() ? "true" : "false"; break;
        default:
            if (is_array(v.type())) {
                out.push_back('[');
                bool first = true;
                for_each_element(v, [&](const value_view& e) {
                    if (!first) out.push_back(',');
                    first = false;
                    append_json_value(out, e);
                });
                out.push_back(']');
            } else {
                out += "null";
            }
            break;
    }
}

} // namespace tracecraft::otlp
