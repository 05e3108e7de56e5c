// Export stages and configuration: a JSON/env-configured runtime whose console exporter sits
// behind a retrying, batching, rate-limited chain — all coroutines on the io_context's strand.
//
//   TRACECRAFT_SAMPLING_RATE=0.5 ./build/examples/export_stages
#include <iostream>

#include <boost/asio.hpp>

#include "example_cli.hpp"
#include "tracecraft/exporters/console.hpp"
#include "tracecraft/exporters/stages.hpp"
#include "tracecraft/tracecraft.hpp"

namespace asio = boost::asio;

asio::awaitable<void> agents(int n) {
    for (int i = 0; i < n; ++i) {
        tracecraft::run_scope run("agent_" + std::to_string(i));
        {
            tracecraft::span_scope llm("llm", tracecraft::span_kind::llm);
            llm.set_model("gpt-4o-mini").set_tokens(100 + i, 20);
        }
        if (i % 4 == 3) run.set_status(tracecraft::status_code::error, "tool timeout");   // kept at any rate
        co_await asio::post(asio::use_awaitable);
    }
}

int stages(examples::cli& cli) {
    tracecraft::trace_config cfg = tracecraft::load_config();   // defaults < $TRACECRAFT_CONFIG_FILE < TRACECRAFT_*
    auto console = std::make_shared<tracecraft::console_exporter>();
    auto retry = std::make_shared<tracecraft::retrying_exporter>(console);
    tracecraft::async_batch_exporter::options batch;
    batch.batch_size = 4;
    batch.flush_interval = std::chrono::milliseconds(200);
    auto batcher = std::make_shared<tracecraft::async_batch_exporter>(retry, batch);
    auto limited = std::make_shared<tracecraft::rate_limited_exporter>(batcher, /*rate*/ 1000.0, /*burst*/ 50, /*blocking*/ true);
    cfg.exporters = {limited};
    cli.add_exporters(cfg, /*console_default=*/false);   // --otlp / OTEL_EXPORTER_OTLP_ENDPOINT beside the stages

    asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    tracecraft::spawn(ioc, agents(12), asio::detached);
    ioc.run();
    rt->shutdown();   // drains the runtime queue, the batcher and the retry stage

    const auto b = batcher->get_stats();
    const auto r = rt->stats();
    std::cout << "sampling rate " << cfg.sampling.rate << ": kept " << r.traces_kept << " traces, sampled out "
              << r.traces_sampled_out << "; batcher sent " << b.batches << " batches / " << b.exported_traces
              << " traces, dropped " << b.dropped_traces << "; rate limiter dropped " << limited->dropped_count() << "\n";
    examples::print_summary(std::cout, *rt);
    return 0;
}

int main(int argc, char** argv) {
    return examples::run(argc, argv,
                         "export_stages: the Python SDK's exporter stages (rate limit -> batch -> retry -> console) "
                         "with TRACECRAFT_* configuration",
                         nullptr, stages);
}
