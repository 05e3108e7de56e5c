// TraceCraft C++ — semantic conventions added when spans leave the process.
//
// A span keeps what the user recorded; at export the chosen dialect(s) add the attributes
// backends look for (attributes the user already set win):
//   every span        tracecraft.step.type = "agent" | "llm" | ...
//   OTel GenAI        gen_ai.operation.name (invoke_agent / chat / execute_tool),
//                     gen_ai.agent.name (AGENT spans), gen_ai.tool.name (TOOL spans);
//                     model, provider and token usage are recorded by span::set_model/set_tokens
//   OpenInference     openinference.span.kind (AGENT, LLM, TOOL, RETRIEVER, CHAIN, GUARDRAIL,
//                     EVALUATOR), input.value / output.value (+ .mime_type), llm.model_name,
//                     llm.provider, llm.token_count.prompt/completion/total, tool.name
// Run-level fields (session.id, user.id, tag.tags) are recorded on the root span by run_scope.
#pragma once

#include <concepts>
#include <memory>
#include <type_traits>
#include <string_view>

#include "tracecraft/attribute.hpp"
#include "tracecraft/span_data.hpp"

namespace tracecraft::otlp {

enum class dialect { otel_genai, openinference, both };

/// OpenInference span kind for a TraceCraft kind.
[[nodiscard]] std::string_view openinference_kind(span_kind k) noexcept;

/// Visits every attribute to export for `span`: the recorded ones (last write wins), then the
/// derived ones of `d` that the span did not set itself. Values passed to `f` are valid only
/// during the call.
/// A non-owning reference to a `void(std::string_view, const value_view&)` callable (no
/// allocation, one indirect call: the exporters call it once per attribute).
class attribute_visitor {
public:
    template <class F>
        requires std::invocable<F&, std::string_view, const value_view&> &&
                     (!std::same_as<std::remove_cvref_t<F>, attribute_visitor>)
    attribute_visitor(F&& f) noexcept   // NOLINT(google-explicit-constructor): lambdas at call sites
        : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* o, std::string_view k, const value_view& v) { (*static_cast<std::remove_reference_t<F>*>(o))(k, v); }) {}
    void operator()(std::string_view k, const value_view& v) const { call_(obj_, k, v); }

private:
    void* obj_;
    void (*call_)(void*, std::string_view, const value_view&);
};

void for_each_export_attribute(const span_view& span, dialect d, attribute_visitor f);

/// Appends `s` to `out` as a JSON string literal (quotes and escapes included).
void append_json_string(std::string& out, std::string_view s);
/// Appends a value as plain JSON (strings, numbers, booleans, arrays; none as null).
void append_json_value(std::string& out, const value_view& v);

} // namespace tracecraft::otlp
