// W1 / W2 (README, Performance): per-span overhead through the public API.
//
//   span_overhead <mode> [runs]    mode: w1 | w2 | w2e | baseline | resume | resume_traced
//     w1        everything kept, batch 512, queue 2048, null exporter
//     w2        rate 0, keep-errors off (spans not recorded at all)
//     w2e       rate 0, keep-errors on (every span buffered until its trace ends, then dropped)
//     baseline  the same loop with no tracing (the io_context yield per run)
//   TRACECRAFT_METRICS=false: the same without GenAI metrics (their cost is the difference).
//     resume, resume_traced
//               `runs` co_await post resumptions of one coroutine, spawned plainly or by
//               tracecraft::spawn under a root span (no spans inside): the context slot's cost.
//               bench/instructions.sh counts their instructions under callgrind.
//
// One agent run = root AGENT span + llm, tool, retrieval children one after another; every span
// gets 4 string attributes of ~40 bytes and 2 integers. The producer yields to the io_context
// once per run (co_await post), like the peers' JS bench, so the pipeline strand gets its turn.
// w1/w2/w2e alternate chunks of 20k runs with the bare loop (same io_context) and report
// ns_per_span, bare_ns_per_span and their difference net_ns_per_span. Prints one JSON line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "tracecraft/exporters/memory.hpp"
#include "w1_workload.hpp"

namespace asio = boost::asio;

namespace {
/// The traced loop and the bare loop in alternating chunks on the same io_context: the host's
/// speed drifts (shared VM) by more than the differences measured here, and drift hits chunks
/// a few milliseconds apart alike. The traced chunks include the pipeline work they cause
/// (its handlers run in the loop's yields; at most one batch spills over a chunk boundary).
asio::awaitable<void> paired_loop(std::int64_t runs, std::int64_t chunk, double* traced_s, double* bare_s) {
    for (std::int64_t done = 0; done < runs; done += chunk) {
        const std::int64_t n = std::min(chunk, runs - done);
        double t = 0, b = 0;
        co_await w1::bare_loop(n, &b);
        co_await w1::loop(n, &t);
        *traced_s += t;
        *bare_s += b;
    }
}

asio::awaitable<void> resume_loop(std::int64_t n, double* seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < n; ++i) co_await asio::post(asio::use_awaitable);
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int resumptions(bool traced, std::int64_t n) {
    asio::io_context ioc(1);
    auto rt = tracecraft::init(ioc, w1::config(std::make_shared<tracecraft::null_exporter>()));
    double s = 0;
    if (traced) {
        tracecraft::span_scope root("root", tracecraft::span_kind::agent);
        tracecraft::spawn(ioc, resume_loop(n, &s), asio::detached);
    } else {
        asio::co_spawn(ioc, resume_loop(n, &s), asio::detached);
    }
    w1::run_to_shutdown(ioc, *rt);
    std::printf("{\"bench\":\"resumption\",\"traced\":%s,\"resumptions\":%lld,\"ns_per_resumption\":%.1f}\n",
                traced ? "true" : "false", static_cast<long long>(n), s * 1e9 / static_cast<double>(n));
    return 0;
}
} // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "w1";
    const std::int64_t runs = argc > 2 ? std::stoll(argv[2]) : 1'000'000;
    if (mode == "resume" || mode == "resume_traced") return resumptions(mode == "resume_traced", runs);
    asio::io_context ioc(1);
    auto sink = std::make_shared<tracecraft::null_exporter>();
    tracecraft::trace_config cfg = w1::config(sink);
    if (mode == "w2") {
        cfg.sampling.rate = 0.0;
        cfg.sampling.always_keep_errors = false;
    } else if (mode == "w2e") {
        cfg.sampling.rate = 0.0;
        cfg.sampling.always_keep_errors = true;
    } else if (mode != "w1" && mode != "baseline") {
        std::fprintf(stderr, "usage: span_overhead w1|w2|w2e|baseline|resume|resume_traced [runs]\n");
        return 2;
    }
    tracecraft::apply_env(cfg);   // TRACECRAFT_METRICS=false: the same run without GenAI metrics
    auto rt = tracecraft::init(ioc, cfg);
    double loop_s = 0, bare_s = 0;
    if (mode == "baseline")
        tracecraft::spawn(ioc, w1::bare_loop(runs, &loop_s), asio::detached);
    else
        tracecraft::spawn(ioc, paired_loop(runs, 20'000, &loop_s, &bare_s), asio::detached);
    const auto [total_s, cpu] = w1::run_to_shutdown(ioc, *rt);
    const auto st = rt->stats();
    const double spans = static_cast<double>(runs) * w1::spans_per_run;
    std::printf("{\"bench\":\"span_overhead\",\"mode\":\"%s\",\"metrics\":%s,\"runs\":%lld,\"spans\":%.0f,"
                "\"ns_per_span\":%.1f,\"bare_ns_per_span\":%.1f,\"net_ns_per_span\":%.1f,"
                "\"spans_per_s\":%.0f,\"loop_s\":%.4f,\"total_s\":%.4f,"
                "\"exported\":%llu,\"dropped\":%llu,\"sampled_out_traces\":%llu,\"head_dropped_traces\":%llu,"
                "\"cpu_s\":%.3f,\"peak_rss_kib\":%ld}\n",
                mode.c_str(), cfg.metrics.enabled ? "true" : "false", static_cast<long long>(runs), spans, loop_s * 1e9 / spans, bare_s * 1e9 / spans,
                (loop_s - bare_s) * 1e9 / spans, spans / loop_s, loop_s,
                total_s, static_cast<unsigned long long>(sink->spans()),
                static_cast<unsigned long long>(st.spans_queue_dropped),
                static_cast<unsigned long long>(st.traces_sampled_out),
                static_cast<unsigned long long>(st.traces_head_dropped), cpu, w1::peak_rss_kib());
    return 0;
}
