// Semantic-convention attributes derived at export time.
#include "tracecraft/otlp/semconv.hpp"

#include <cstdio>
#include <string>
#include <vector>

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

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                    out += buf;
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
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
    text = "{";
    bool first = true;
    r.for_each([&](std::string_view k, const value_view& v) {
        if (!first) text.push_back(',');
        first = false;
        append_json_string(text, k);
        text.push_back(':');
        append_json_value(text, v);
    });
    text.push_back('}');
    json = true;
    return true;
}

value_view str(std::string_view s) { return value_view::of_string(s.data(), static_cast<std::uint32_t>(s.size())); }

} // namespace

void for_each_export_attribute(const span_view& span, dialect d,
                               const std::function<void(std::string_view, const value_view&)>& f) {
    const attribute_range attrs = span.attributes();
    attrs.for_each(f);
    auto derive = [&](std::string_view key, const value_view& v) {
        if (attrs.find(key).type() == value_type::none) f(key, v);
    };
    const span_kind k = span.kind();
    derive("tracecraft.step.type", str(to_string(k)));
    const bool genai = d != dialect::openinference;
    const bool oi = d != dialect::otel_genai;
    if (genai) {
        if (k == span_kind::agent) {
            derive("gen_ai.operation.name", str("invoke_agent"));
            derive("gen_ai.agent.name", str(span.name()));
        } else if (k == span_kind::llm) {
            derive("gen_ai.operation.name", str("chat"));
        } else if (k == span_kind::tool) {
            derive("gen_ai.operation.name", str("execute_tool"));
            derive("gen_ai.tool.name", str(span.name()));
        }
    }
    if (oi) {
        derive("openinference.span.kind", str(openinference_kind(k)));
        std::string text;
        bool json = false;
        if (io_value(span.inputs(), text, json)) {
            derive("input.value", str(text));
            derive("input.mime_type", str(json ? "application/json" : "text/plain"));
        }
        if (io_value(span.outputs(), text, json)) {
            derive("output.value", str(text));
            derive("output.mime_type", str(json ? "application/json" : "text/plain"));
        }
        if (k == span_kind::llm) {
            const value_view model = attrs.find("gen_ai.request.model");
            if (model.type() != value_type::none) derive("llm.model_name", model);
            const value_view provider = attrs.find("gen_ai.provider.name");
            if (provider.type() != value_type::none) derive("llm.provider", provider);
            const value_view in = attrs.find("gen_ai.usage.input_tokens");
            const value_view out = attrs.find("gen_ai.usage.output_tokens");
            if (in.type() == value_type::int64) derive("llm.token_count.prompt", in);
            if (out.type() == value_type::int64) derive("llm.token_count.completion", out);
            if (in.type() == value_type::int64 && out.type() == value_type::int64)
                derive("llm.token_count.total", value_view::of_int(in.as_int() + out.as_int()));
        }
        if (k == span_kind::tool) derive("tool.name", str(span.name()));
    }
}

void append_json_value(std::string& out, const value_view& v) {
    char buf[32];
    switch (v.type()) {
        case value_type::string: append_json_string(out, v.as_string()); break;
        case value_type::int64: out += std::to_string(v.as_int()); break;
        case value_type::float64:
            std::snprintf(buf, sizeof buf, "%.17g", v.as_double());
            out += buf;
            break;
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
