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
#include <cstddef>
#include <memory>
#include <span>
#include <type_traits>
#include <string_view>

#include "tracecraft/attribute.hpp"
#include "tracecraft/span_data.hpp"

namespace tracecraft::otlp {

enum class dialect { otel_genai, openinference, both };

/// OpenInference span kind for a TraceCraft kind.
[[nodiscard]] std::string_view openinference_kind(span_kind k) noexcept;

/// A derived attribute whose key and value are both fixed strings (tracecraft.step.type,
/// openinference.span.kind, gen_ai.operation.name, the mime types). Numbered, so that an
/// encoder can keep each one pre-encoded.
struct constant_attribute {
    std::string_view key;
    std::string_view value;
    [[nodiscard]] value_view as_value() const noexcept {
        return value_view::of_string(value.data(), static_cast<std::uint32_t>(value.size()));
    }
};
/// Every constant attribute; an id passed to attribute_visitor::constant indexes this.
[[nodiscard]] std::span<const constant_attribute> constant_attributes() noexcept;

/// A non-owning reference to a `void(std::string_view, const value_view&)` callable (no
/// allocation, one indirect call: the exporters call it once per attribute), and optionally to
/// a `void(std::size_t id)` callable that receives constant attributes by id instead.
class attribute_visitor {
public:
    template <class F>
        requires std::invocable<F&, std::string_view, const value_view&> &&
                     (!std::same_as<std::remove_cvref_t<F>, attribute_visitor>)
    attribute_visitor(F&& f) noexcept   // NOLINT(google-explicit-constructor): lambdas at call sites
        : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* o, std::string_view k, const value_view& v) { (*static_cast<std::remove_reference_t<F>*>(o))(k, v); }) {}
    /// `f` for every attribute but the constant ones, which go to `c` by id.
    template <class F, class C>
        requires std::invocable<F&, std::string_view, const value_view&> && std::invocable<C&, std::size_t>
    attribute_visitor(F&& f, C&& c) noexcept
        : attribute_visitor(std::forward<F>(f)) {
        cobj_ = const_cast<void*>(static_cast<const void*>(std::addressof(c)));
        constant_ = [](void* o, std::size_t id) { (*static_cast<std::remove_reference_t<C>*>(o))(id); };
    }
    void operator()(std::string_view k, const value_view& v) const { call_(obj_, k, v); }
    /// Constant attribute `id` (see constant_attributes()).
    void constant(std::size_t id) const {
        if (constant_) return constant_(cobj_, id);
        const constant_attribute& a = constant_attributes()[id];
        call_(obj_, a.key, a.as_value());
    }

private:
    void* obj_;
    void (*call_)(void*, std::string_view, const value_view&);
    void* cobj_ = nullptr;
    void (*constant_)(void*, std::size_t) = nullptr;
};

/// Visits every attribute to export for `span`: the recorded ones (last write wins), then the
/// derived ones of `d` that the span did not set itself (fixed ones through f.constant()).
/// Values passed to `f` are valid only during the call.

void for_each_export_attribute(const span_view& span, dialect d, attribute_visitor f);

/// Appends `s` to `out` as a JSON string literal (quotes and escapes included).
/// Bytes that are not valid UTF-8 become U+FFFD (JSON text must be UTF-8).
void append_json_string(std::string& out, std::string_view s);
/// Appends a value as plain JSON (strings, numbers, booleans, arrays; none as null). A NaN or
/// infinite double is written as the proto3 JSON mapping writes it: "NaN", "Infinity",
/// "-Infinity" (strings: bare nan/inf are not JSON).
void append_json_value(std::string& out, const value_view& v);
/// Appends `attrs` as a JSON object (last write wins per key), leaving out the keys in `skip`.
void append_json_object(std::string& out, const attribute_range& attrs, std::span<const std::string_view> skip = {});

} // namespace tracecraft::otlp
