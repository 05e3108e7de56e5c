// The W1 agent run (README, Performance), shared by the bench programs: a root AGENT
// span with llm, tool and retrieval children one after another, each with 4 string attributes
// of ~40 bytes and 2 integers, through the public API (context slot, not explicit parents).
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>

#include <boost/asio.hpp>

#include "tracecraft/tracecraft.hpp"

namespace w1 {

namespace asio = boost::asio;
using tracecraft::span_kind;
using tracecraft::span_scope;

constexpr const char* input_value = "What is the weather like in Lisbon today";   // 40 bytes
constexpr const char* output_value = "It is sunny and 21 degrees in Lisbon now";  // 40 bytes
constexpr const char* model_value = "gpt-4o-mini-2024-07-18-deployment-euwest";   // 40 bytes
constexpr const char* tag_value = "production-eu-west-1-agent-pool-blue-v42";     // 40 bytes
constexpr int spans_per_run = 4;

inline void decorate(span_scope& s, std::int64_t i) {
    s.set_attribute("input.value", input_value)
        .set_attribute("output.value", output_value)
        .set_attribute("gen_ai.request.model", model_value)
        .set_attribute("tag", tag_value)
        .set_attribute("gen_ai.usage.input_tokens", i)
        .set_attribute("gen_ai.usage.output_tokens", i + 1);
}

/// One agent run (one trace of 4 spans).
inline void agent_run(std::int64_t i) {
    span_scope root("agent", span_kind::agent);
    decorate(root, i);
    {
        span_scope s("llm", span_kind::llm);
        decorate(s, i);
    }
    {
        span_scope s("tool", span_kind::tool);
        decorate(s, i);
    }
    {
        span_scope s("retrieval", span_kind::retrieval);
        decorate(s, i);
    }
}

/// `runs` agent runs, yielding to the io_context once per run; with `rt`, waits for pipeline
/// capacity before each run (the library's back-pressure mode).
inline asio::awaitable<void> loop(std::int64_t runs, double* seconds, tracecraft::runtime* back_pressure = nullptr) {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < runs; ++i) {
        if (back_pressure && !back_pressure->has_capacity(spans_per_run))
            co_await back_pressure->async_wait_for_capacity(spans_per_run);
        agent_run(i);
        co_await asio::post(asio::use_awaitable);
    }
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The same loop without tracing: what the yield alone costs.
inline asio::awaitable<void> bare_loop(std::int64_t runs, double* seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < runs; ++i) co_await asio::post(asio::use_awaitable);
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// W1's pipeline settings: batch 512, queue 2048, redaction off (the peers do not redact; W4
/// measures redaction), everything kept.
inline tracecraft::trace_config config(tracecraft::exporter_ptr exporter) {
    tracecraft::trace_config cfg;
    cfg.service_name = "anchor-bench";
    cfg.batch_size = 512;
    cfg.max_queue_spans = 2048;
    cfg.redaction.enabled = false;
    cfg.exporters = {std::move(exporter)};
    return cfg;
}

inline double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/// Wall and CPU seconds of running `ioc` until the spawned work is done plus the runtime's
/// shutdown (which delivers what is still queued).
struct measured {
    double wall_s = 0;
    double cpu_s = 0;
};
inline measured run_to_shutdown(asio::io_context& ioc, tracecraft::runtime& rt) {
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    ioc.run();
    rt.shutdown();
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), cpu_seconds() - cpu0};
}

inline long peak_rss_kib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

} // namespace w1
