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

#include <functional>
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
void for_each_export_attribute(const span_view& span, dialect d,
                               const std::function<void(std::string_view, const value_view&)>& f);

/// Appends `s` to `out` as a JSON string literal (quotes and escapes included).
void append_json_string(std::string& out, std::string_view s);
/// Appends a value as plain JSON (strings, numbers, booleans, arrays; none as null).
void append_json_value(std::string& out, const value_view& v);

} // namespace tracecraft::otlp
