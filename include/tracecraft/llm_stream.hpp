// TraceCraft C++ — tracing a streamed LLM response.
//
//   tracecraft::llm_stream s("chat gpt-4o", "gpt-4o", "openai");   // or (name, llm_call_options)
//   s.set_input("prompt", prompt);
//   while (auto chunk = co_await s.next(upstream))   // upstream.next_chunk() -> awaitable<optional<llm_chunk>>
//       co_await send_to_client(chunk->text);
//   // end of stream: finished; a break out of the loop: stopped early; an exception: failed
//
// The span is an LLM span (SpanKind CLIENT at export) and a child of the current span. It
// records gen_ai.response.time_to_first_chunk (seconds), tracecraft.stream.chunks, the output
// text up to max_output_bytes (then tracecraft.stream.output_truncated), usage from the final
// chunk (or an estimate, marked tracecraft.usage.estimated), gen_ai.response.finish_reasons and
// tracecraft.stream.tokens_per_second. Whatever happens — the stream ends, breaks, or the
// consumer stops early — the span ends with what was seen (partial output included).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "tracecraft/llm_usage.hpp"
#include "tracecraft/span.hpp"

namespace tracecraft {

/// One piece of a streamed response, as a chunk source produces it.
struct llm_chunk {
    std::string text;                  ///< delta text (may be empty, e.g. a usage-only chunk)
    std::optional<token_usage> usage;  ///< usually only on the final chunk
    std::string finish_reason;         ///< "stop", "length", ... on the last content chunk
    std::string model;                 ///< response model, if the provider reports it
};

struct llm_call_options {
    std::string model;      ///< gen_ai.request.model
    std::string provider;   ///< gen_ai.provider.name
    std::size_t max_output_bytes = 16 * 1024;   ///< output text kept on the span
    std::int64_t input_tokens_estimate = 0;     ///< used when the provider reports no usage
};

class llm_stream {
public:
    llm_stream(std::string_view name, llm_call_options options);
    llm_stream(std::string_view name, std::string_view model, std::string_view provider = {})
        : llm_stream(name, options_for(model, provider)) {}
    /// Ends the span if finish()/fail() was not called: the consumer stopped early
    /// (tracecraft.stream.stopped_early = true; status left UNSET) — or, when unwinding from
    /// an exception, failed.
    ~llm_stream();
    llm_stream(const llm_stream&) = delete;
    llm_stream& operator=(const llm_stream&) = delete;

    /// Awaits the source's next chunk and records it; nullopt at the end of the stream (the
    /// span is then finished). An exception from the source fails the span and propagates.
    template <class Source>
    boost::asio::awaitable<std::optional<llm_chunk>> next(Source& source) {
        std::optional<llm_chunk> c;
        try {
            c = co_await source.next_chunk();
        } catch (const std::exception& e) {
            fail(e.what());
            throw;
        }
        if (c) on_chunk(*c);
        else finish();
        co_return c;
    }

    /// Records a chunk (the first one sets time to first chunk).
    void on_chunk(const llm_chunk& chunk);
    void on_chunk(std::string_view text) { on_chunk(llm_chunk{std::string(text), std::nullopt, {}, {}}); }
    void set_usage(const token_usage& usage) { usage_ = usage; }
    /// The stream ended normally.
    void finish();
    /// The stream broke: ERROR with `error`, partial output kept.
    void fail(std::string_view error);

    template <class V>
    llm_stream& set_input(std::string_view name, const V& value) {
        scope_.set_input(name, value);
        return *this;
    }
    [[nodiscard]] span& get_span() noexcept { return scope_; }
    [[nodiscard]] std::size_t chunks() const noexcept { return chunks_; }
    [[nodiscard]] const std::string& text() const noexcept { return text_; }
    [[nodiscard]] bool done() const noexcept { return done_; }

private:
    static llm_call_options options_for(std::string_view model, std::string_view provider) {
        llm_call_options o;
        o.model = model;
        o.provider = provider;
        return o;
    }
    void close(std::string_view error, bool stopped_early);

    span_scope scope_;
    llm_call_options opt_;
    std::chrono::steady_clock::time_point start_, first_{};
    std::size_t chunks_ = 0;
    std::size_t bytes_ = 0;
    bool truncated_ = false;
    bool done_ = false;
    std::string text_;
    std::string finish_reason_;
    std::string response_model_;
    std::optional<token_usage> usage_;
    int uncaught_ = std::uncaught_exceptions();
};

} // namespace tracecraft
