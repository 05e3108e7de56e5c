// Micro-benchmarks (Google Benchmark): span start/end, attribute set, context cost per
// coroutine resumption, protobuf encoding per span, redaction per KiB.
//   ./build/bench/micro --benchmark_format=json
#include <chrono>
#include <optional>
#include <benchmark/benchmark.h>

#include <boost/asio.hpp>

#include "tracecraft/exporters/memory.hpp"
#include "export/otlp/protobuf_encoder.hpp"   // library-internal: sliced and reused-buffer encoding
#include "tracecraft/redaction.hpp"
#include "w1_workload.hpp"

namespace asio = boost::asio;
using namespace tracecraft;

namespace {

/// A runtime whose exporter discards everything (W1 settings), as the default runtime.
struct bench_env {
    explicit bench_env(double rate = 1.0, bool keep_errors = true) {
        trace_config cfg;
        cfg.exporters = {std::make_shared<null_exporter>()};
        cfg.redaction.enabled = false;
        cfg.sampling.rate = rate;
        cfg.sampling.always_keep_errors = keep_errors;
        cfg.max_queue_spans = 1 << 20;
        cfg.batch_size = 512;
        rt = init(ioc, cfg);
    }
    ~bench_env() {
        rt->shutdown();
        reset_default_runtime();
    }
    void pump() { ioc.poll(); }
    asio::io_context ioc;
    std::shared_ptr<runtime> rt;
};

void BM_span_start_end(benchmark::State& state) {
    bench_env env;
    std::int64_t n = 0;
    for (auto _ : state) {
        { span_scope s("span", span_kind::tool); }
        if ((++n & 1023) == 0) env.pump();   // let the pipeline strand drain
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_span_start_end);

void BM_span_start_end_not_recorded(benchmark::State& state) {
    bench_env env(0.0, false);
    for (auto _ : state) {
        span_scope s("span", span_kind::tool);
        benchmark::DoNotOptimize(s.is_recording());
    }
}
BENCHMARK(BM_span_start_end_not_recorded);

/// Steps inside an agent run: a new trace every 256 steps, the pipeline drained between.
template <class Body>
void child_spans(benchmark::State& state, Body body) {
    bench_env env;
    std::int64_t n = 0;
    auto* root = new span_scope("root", span_kind::agent);
    for (auto _ : state) {
        {
            span_scope s("step", span_kind::tool);
            body(s);
        }
        if ((++n & 255) == 0) {
            delete root;
            env.pump();
            root = new span_scope("root", span_kind::agent);
        }
    }
    delete root;
    state.SetItemsProcessed(state.iterations());
}

void BM_child_span_start_end(benchmark::State& state) {
    child_spans(state, [](span_scope&) {});
}
BENCHMARK(BM_child_span_start_end);

void BM_child_span_with_string40(benchmark::State& state) {   // minus the above: one attribute
    child_spans(state, [](span_scope& s) { s.set_attribute("input.value", w1::input_value); });
}
BENCHMARK(BM_child_span_with_string40);

void BM_set_six_attributes(benchmark::State& state) {   // W1's attribute set, one span
    bench_env env;
    std::int64_t n = 0;
    for (auto _ : state) {
        span_scope s("span", span_kind::tool);
        w1::decorate(s, n);
        if ((++n & 1023) == 0) env.pump();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_set_six_attributes);

asio::awaitable<void> resume_loop(std::int64_t n, bool* done) {
    for (std::int64_t i = 0; i < n; ++i) co_await asio::post(asio::use_awaitable);
    *done = true;
}

/// 1000 co_await post round trips: on a plain io_context executor, or on tracecraft's
/// context-carrying executor under a current span. Returns the nanoseconds the 1000
/// resumptions took: the clock starts after the coroutine is spawned (and, when traced, after
/// its root span started), so one-off set-up per spawn is not spread over the resumptions.
double resume_1000(asio::io_context& ioc, bool traced, bool on_strand = false) {
    bool done = false;
    std::optional<span_scope> root;
    if (traced) {
        root.emplace("root", span_kind::agent);
        if (on_strand)
            tracecraft::spawn(asio::make_strand(ioc), resume_loop(1000, &done), asio::detached);
        else
            tracecraft::spawn(ioc, resume_loop(1000, &done), asio::detached);
    } else if (on_strand) {
        asio::co_spawn(asio::make_strand(ioc), resume_loop(1000, &done), asio::detached);
    } else {
        asio::co_spawn(ioc, resume_loop(1000, &done), asio::detached);
    }
    const auto t0 = std::chrono::steady_clock::now();
    while (!done) ioc.run_one();
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
}

/// Cost of one resumption, plain or traced; both on the same io_context set-up (the runtime's
/// reactor is active in both). The difference per item is what the context slot adds.
void BM_resumption(benchmark::State& state, bool traced) {
    bench_env env;
    auto guard = asio::make_work_guard(env.ioc);   // run_one must not find the context stopped
    for (auto _ : state) resume_1000(env.ioc, traced);
    guard.reset();
    state.SetItemsProcessed(state.iterations() * 1000);
}
void BM_resumption_plain(benchmark::State& state) { BM_resumption(state, false); }
BENCHMARK(BM_resumption_plain);
void BM_resumption_traced(benchmark::State& state) { BM_resumption(state, true); }
BENCHMARK(BM_resumption_traced);

/// The two above interleaved in one benchmark, 1000 resumptions of each per iteration on the
/// same io_context: host noise (the shared VM drifts by more than the difference) hits both
/// alike. Counter `added_ns` = traced minus plain, per resumption. `on_strand`: coroutines on
/// asio::make_strand(ioc), whose wrapped executor is kept in a shared box to fit any_io_executor.
void context_slot_paired(benchmark::State& state, bool on_strand) {
    bench_env env;
    auto guard = asio::make_work_guard(env.ioc);
    double plain_ns = 0, traced_ns = 0;
    for (auto _ : state) {
        plain_ns += resume_1000(env.ioc, false, on_strand);
        traced_ns += resume_1000(env.ioc, true, on_strand);
    }
    guard.reset();
    const auto n = static_cast<double>(state.iterations()) * 1000.0;
    state.counters["plain_ns"] = plain_ns / n;
    state.counters["traced_ns"] = traced_ns / n;
    state.counters["added_ns"] = (traced_ns - plain_ns) / n;
}
void BM_context_slot_paired(benchmark::State& state) { context_slot_paired(state, false); }
BENCHMARK(BM_context_slot_paired);
void BM_context_slot_strand_paired(benchmark::State& state) { context_slot_paired(state, true); }
BENCHMARK(BM_context_slot_strand_paired);

struct capture_exporter final : exporter {
    std::optional<span_batch> batch;
    std::string_view name() const noexcept override { return "capture"; }
    asio::awaitable<export_result> export_batch(span_batch b) override {
        if (!batch) batch = std::move(b);
        co_return export_result::ok();
    }
};

void BM_protobuf_encode_per_span(benchmark::State& state) {
    auto cap = std::make_shared<capture_exporter>();
    asio::io_context ioc;
    trace_config cfg;
    cfg.exporters = {cap};
    cfg.redaction.enabled = false;
    cfg.batch_size = 512;
    auto rt = init(ioc, cfg);
    for (int i = 0; i < 128; ++i) w1::agent_run(i);   // 512 spans
    rt->force_flush();
    if (!cap->batch) {
        state.SkipWithError("no batch captured");
        return;
    }
    otlp::resource_info res;
    res.attributes = {{"service.name", std::string("bench")}};
    std::string buf;   // reused across batches, as the OTLP/HTTP exporter does
    std::size_t bytes = 0;
    for (auto _ : state) {
        const std::string_view req = otlp::encode_request_into(*cap->batch, res, buf);
        bytes = req.size();
        benchmark::DoNotOptimize(req.data());
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(cap->batch->span_count()));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
    cap->batch.reset();
    rt->shutdown();
    reset_default_runtime();
}
BENCHMARK(BM_protobuf_encode_per_span);

void BM_redaction_per_kib(benchmark::State& state) {
    redaction_config cfg;
    redactor red(cfg);
    auto scratch = red.make_scratch();
    std::string text;
    while (text.size() < 1000)
        text += "The agent summarised three documents about travel plans for next week while latency stayed low. ";
    text += " contact jane.doe@example.com";
    text.resize(1024);
    std::string out;
    for (auto _ : state) {
        out.clear();
        auto m = red.redact(text, out, scratch);
        benchmark::DoNotOptimize(m);
    }
    state.SetBytesProcessed(state.iterations() * 1024);
}
BENCHMARK(BM_redaction_per_kib);

/// W5's trace as the llm_gateway example records it (run, retrieval, tool and LLM spans with
/// their attributes, inputs, outputs and usage), without the network: what tracing costs a
/// gateway request in CPU. The retrieval and tool spans run in sequence here (the gateway
/// forks them with when_all).
void gateway_trace() {
    static const std::string query = "How long does shipping take?";
    run_options ro;
    ro.description = "POST /v1/chat/completions";
    run_scope run("chat_completion", ro);
    run.set_attribute("http.request.method", "POST").set_attribute("url.path", "/v1/chat/completions");
    run.set_input("query", query);
    run.set_attribute("gen_ai.request.model", "gpt-4o-mini").set_attribute("tracecraft.stream", false);
    {
        span_scope s("search_docs", span_kind::retrieval);
        s.set_input("query", query);
        s.set_attribute("retrieval.document_ids", {"shipping"});
        s.set_output("documents", std::int64_t{1});
    }
    {
        span_scope s("word_stats", span_kind::tool);
        s.set_attribute("gen_ai.tool.name", "word_stats");
        s.set_input("text", query);
        s.set_output("result", "the question has 5 words");
    }
    {
        span_scope llm("chat gpt-4o-mini", span_kind::llm);
        llm.set_model("gpt-4o-mini", "openai").set_attribute("gen_ai.operation.name", "chat");
        llm.set_usage(token_usage{26, 20, false});
        llm.set_attribute("gen_ai.response.model", "gpt-4o-mini").set_attribute("gen_ai.response.finish_reasons", {"stop"});
        llm.set_output("completion", "The mock model read your request of 26 words and answers it with a short deterministic "
                                     "reply for tracing tests.");
    }
    run.set_attribute("http.response.status_code", std::int64_t{200});
}

/// Encodes every batch as the OTLP/HTTP exporter does (protobuf, in parts), sends nothing.
struct encode_only_exporter final : exporter {
    otlp::resource_info res;
    std::string buf;
    std::size_t bytes = 0;
    std::string_view name() const noexcept override { return "encode-only"; }
    asio::awaitable<export_result> export_batch(span_batch b) override {
        std::size_t end = 0;
        for (std::size_t next = 0; next < b.trace_count();) next = otlp::encode_request_part(b, next, 64, res, buf, end);
        bytes += end;
        co_return export_result::ok();
    }
};

void BM_gateway_trace(benchmark::State& state) {
    auto enc = std::make_shared<encode_only_exporter>();
    enc->res.attributes = {{"service.name", std::string("llm-gateway")}};
    asio::io_context ioc;
    trace_config cfg;   // defaults: redaction on, batches of 512 spans
    cfg.exporters = {enc};
    cfg.service_name = "llm-gateway";
    auto rt = init(ioc, cfg);
    std::int64_t n = 0;
    for (auto _ : state) {
        gateway_trace();
        if (++n % 64 == 0) ioc.poll();   // the pipeline's turn: redaction, batching, encoding
    }
    rt->shutdown();
    state.SetItemsProcessed(n);
    state.counters["bytes_per_trace"] = static_cast<double>(enc->bytes) / static_cast<double>(std::max<std::int64_t>(n, 1));
    reset_default_runtime();
}
BENCHMARK(BM_gateway_trace);

} // namespace

BENCHMARK_MAIN();
