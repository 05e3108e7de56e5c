// Streamed LLM calls: one span per stream, usage from the last chunk or estimated.
#include <algorithm>

#include "tracecraft/llm_stream.hpp"
#include "tracecraft/llm_usage.hpp"

namespace tracecraft {
namespace {
span_options llm_span_options() {
    span_options o;
    o.kind = span_kind::llm;
    return o;
}
} // namespace

llm_stream::llm_stream(std::string_view name, llm_call_options options)
    : scope_(name, llm_span_options()), opt_(std::move(options)), start_(std::chrono::steady_clock::now()) {
    if (!opt_.model.empty()) scope_.set_model(opt_.model, opt_.provider);
}

llm_stream::~llm_stream() {
    if (done_) return;
    if (std::uncaught_exceptions() > uncaught_) close("stream abandoned by an exception", false);
    else close({}, true);
}

void llm_stream::on_chunk(const llm_chunk& c) {
    if (done_) return;
    const auto now = std::chrono::steady_clock::now();
    if (chunks_ == 0) first_ = now;
    ++chunks_;
    bytes_ += c.text.size();
    if (!c.text.empty()) {
        const std::size_t room = opt_.max_output_bytes > text_.size() ? opt_.max_output_bytes - text_.size() : 0;
        if (c.text.size() > room) truncated_ = true;
        text_.append(c.text, 0, std::min(room, c.text.size()));
    }
    if (c.usage) usage_ = c.usage;
    if (!c.finish_reason.empty()) finish_reason_ = c.finish_reason;
    if (!c.model.empty()) response_model_ = c.model;
}

void llm_stream::finish() { close({}, false); }
void llm_stream::fail(std::string_view error) { close(error.empty() ? std::string_view("stream failed") : error, false); }

void llm_stream::close(std::string_view error, bool stopped_early) {
    if (done_) return;
    done_ = true;
    span& s = scope_;
    const auto end = std::chrono::steady_clock::now();
    s.set_attribute("tracecraft.stream.chunks", static_cast<std::int64_t>(chunks_));
    s.set_attribute("tracecraft.stream.output_bytes", static_cast<std::int64_t>(bytes_));
    if (chunks_ > 0)
        s.set_attribute("gen_ai.response.time_to_first_chunk", std::chrono::duration<double>(first_ - start_).count());
    if (!response_model_.empty()) s.set_attribute("gen_ai.response.model", response_model_);
    if (!finish_reason_.empty()) s.set_attribute("gen_ai.response.finish_reasons", {std::string_view(finish_reason_)});
    token_usage u;
    if (usage_) {
        u = *usage_;
    } else {
        u.input_tokens = opt_.input_tokens_estimate;
        u.output_tokens = estimate_tokens(text_);
        u.estimated = true;
    }
    if (chunks_ > 0 || usage_) s.set_usage(u);
    if (chunks_ > 1 && u.output_tokens > 0) {
        const double secs = std::chrono::duration<double>(end - first_).count();
        if (secs > 0) s.set_attribute("tracecraft.stream.tokens_per_second", static_cast<double>(u.output_tokens) / secs);
    }
    s.set_output("completion", text_);
    if (truncated_) s.set_attribute("tracecraft.stream.output_truncated", true);
    if (stopped_early) s.set_attribute("tracecraft.stream.stopped_early", true);
    if (!error.empty()) {
        s.set_attribute("error.type", "stream_error");
        s.set_status(status_code::error, error);
    }
}

} // namespace tracecraft
