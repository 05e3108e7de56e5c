// The LLM gateway example. One command starts everything:
//
//   ./build/examples/llm_gateway                 # gateway on :8080 + in-process mock LLM, console traces
//   ./build/examples/llm_gateway --demo 6        # ... then sends 6 requests (half streamed) and exits
//   ./build/examples/llm_gateway --upstream 127.0.0.1:9000 --threads 2 --otlp http://127.0.0.1:4318/v1/traces
//   ./build/examples/llm_gateway --pipeline-thread ...   # tracing pipeline on its own io_context + thread
//
//   curl -s localhost:8080/v1/chat/completions -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"How long does shipping take?"}]}'
//   curl -sN localhost:8080/v1/chat/completions -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <thread>

#include <boost/asio.hpp>

#include "client.hpp"
#include "gateway.hpp"
#include "mock_llm.hpp"
#include "tracecraft/exporters/console.hpp"
#include "tracecraft/exporters/jsonl.hpp"
#include "tracecraft/exporters/memory.hpp"
#include "tracecraft/exporters/otlp_http.hpp"
#include "tracecraft/tracecraft.hpp"

namespace asio = boost::asio;

namespace {

struct cli {
    unsigned short port = 8080;
    int threads = 1;
    std::string upstream;   // empty: in-process mock
    int mock_delay_ms = 20;
    int demo = 0;
    std::string otlp, jsonl;
    bool quiet = false;
    bool tracing = true;
    bool pipeline_thread = false;
};

[[noreturn]] void usage(const std::string& error) {
    std::cerr << "llm_gateway: " << error << "\n"
              << "usage: llm_gateway [--port N] [--threads N] [--upstream HOST:PORT] [--mock-delay-ms N]\n"
              << "                   [--demo N] [--otlp URL] [--jsonl FILE] [--quiet] [--no-tracing] [--pipeline-thread]\n";
    std::exit(2);
}

int number(const char* flag, const char* v) {
    char* end = nullptr;
    const long n = v ? std::strtol(v, &end, 10) : -1;
    if (!v || *end != '\0' || n < 0 || n > 65535) usage(std::string(flag) + " needs a number 0..65535");
    return static_cast<int>(n);
}

cli parse(int argc, char** argv) {
    cli c;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--port") c.port = static_cast<unsigned short>(number("--port", v)), ++i;
        else if (a == "--threads") c.threads = std::max(1, number("--threads", v)), ++i;
        else if (a == "--upstream" && v) c.upstream = v, ++i;
        else if (a == "--mock-delay-ms") c.mock_delay_ms = number("--mock-delay-ms", v), ++i;
        else if (a == "--demo") c.demo = number("--demo", v), ++i;
        else if (a == "--otlp" && v) c.otlp = v, ++i;
        else if (a == "--jsonl" && v) c.jsonl = v, ++i;
        else if (a == "--quiet") c.quiet = true;
        else if (a == "--no-tracing") c.tracing = false;
        else if (a == "--pipeline-thread") c.pipeline_thread = true;
        else usage("unknown or incomplete option '" + a + "'");
    }
    return c;
}

asio::awaitable<void> run_demo(asio::any_io_executor ex, unsigned short port, int n, llm_gateway::gateway* gw,
                               llm_gateway::mock_llm* mock, asio::signal_set* signals) {
    const char* questions[] = {"How long does shipping take?", "Can I return my order?", "What payment do you accept?"};
    for (int i = 0; i < n; ++i) {
        llm_gateway::chat_client client(ex, "127.0.0.1", port);
        const bool stream = i % 2 == 1;
        auto op = client.post("/v1/chat/completions", llm_gateway::chat_body("gpt-4o-mini", questions[i % 3], stream), {});
        const auto res = co_await std::move(op);
        std::cout << "request " << i << (stream ? " (stream)" : "") << ": HTTP " << res.status << ", "
                  << (stream ? std::to_string(res.events.size()) + " events" : std::to_string(res.body.size()) + " bytes") << "\n";
    }
    gw->stop();
    if (mock) mock->stop();
    signals->cancel();
}

} // namespace

int main(int argc, char** argv) {
    const cli opt = parse(argc, argv);
    asio::io_context ioc(opt.threads);
    // --pipeline-thread: the tracing pipeline (redaction, encoding, export) runs on an
    // io_context of its own, on a thread of this program's, so that it never takes turns with
    // the request handlers; spans are still recorded on the request threads.
    asio::io_context pipeline_ioc(1);
    auto pipeline_work = asio::make_work_guard(pipeline_ioc);
    std::thread pipeline;
    std::shared_ptr<tracecraft::runtime> rt;
    if (opt.tracing) {
        tracecraft::trace_config cfg;
        cfg.service_name = "llm-gateway";
        cfg.flush_interval = std::chrono::milliseconds(200);
        if (!opt.quiet) cfg.exporters.push_back(std::make_shared<tracecraft::console_exporter>());
        if (!opt.otlp.empty()) {
            tracecraft::otlp_http_options o = tracecraft::otlp_http_options::from_env();
            o.endpoint = opt.otlp;
            cfg.exporters.push_back(std::make_shared<tracecraft::otlp_http_exporter>(o));
        }
        if (!opt.jsonl.empty()) {
            tracecraft::jsonl_options j;
            j.path = opt.jsonl;
            cfg.exporters.push_back(std::make_shared<tracecraft::jsonl_exporter>(j));
        }
        if (cfg.exporters.empty()) cfg.exporters.push_back(std::make_shared<tracecraft::null_exporter>());
        rt = tracecraft::init(opt.pipeline_thread ? pipeline_ioc : ioc, cfg);
        if (opt.pipeline_thread) pipeline = std::thread([&pipeline_ioc] { pipeline_ioc.run(); });
    }

    std::optional<llm_gateway::mock_llm> mock;
    llm_gateway::gateway_options g;
    g.port = opt.port;
    if (opt.upstream.empty()) {
        llm_gateway::mock_llm_options m;
        m.delay = std::chrono::milliseconds(opt.mock_delay_ms);
        mock.emplace(ioc.get_executor(), m);
        g.upstream_port = mock->port();
    } else {
        const auto colon = opt.upstream.rfind(':');
        if (colon == std::string::npos) usage("--upstream needs HOST:PORT");
        g.upstream_host = opt.upstream.substr(0, colon);
        g.upstream_port = static_cast<unsigned short>(number("--upstream", opt.upstream.c_str() + colon + 1));
    }
    llm_gateway::gateway gw(ioc.get_executor(), g);
    std::cout << "llm_gateway listening on 127.0.0.1:" << gw.port() << " (upstream "
              << (mock ? "in-process mock on port " + std::to_string(g.upstream_port) : opt.upstream) << ", " << opt.threads
              << " thread(s), tracing " << (opt.tracing ? (opt.pipeline_thread ? "on, pipeline on its own thread" : "on") : "off")
              << ")" << std::endl;

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        gw.stop();
        if (mock) mock->stop();
    });
    if (opt.demo > 0) asio::co_spawn(ioc, run_demo(ioc.get_executor(), gw.port(), opt.demo, &gw, mock ? &*mock : nullptr, &signals), asio::detached);

    std::vector<std::thread> pool;   // the example's threads, not the library's
    for (int i = 1; i < opt.threads; ++i) pool.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    if (rt) {
        rt->shutdown();
        const auto s = rt->stats();
        std::cout << "traces kept " << s.traces_kept << ", spans exported " << s.spans_exported << ", dropped "
                  << s.spans_queue_dropped << ", export failed " << s.spans_export_failed << ", redaction failures "
                  << s.redaction_failures << ", masked over budget " << s.redaction_budget_exhausted
                  << ", strings UTF-8-repaired " << s.strings_utf8_repaired << "\n";
    }
    pipeline_work.reset();
    if (pipeline.joinable()) pipeline.join();
    const auto gs = gw.stats();
    std::cout << "gateway: " << gs.requests << " requests, " << gs.errors << " errors, " << gs.upstream_connects
              << " upstream connections, " << gs.accept_errors << " failed accepts, " << gs.client_timeouts
              << " client timeouts\n";
}
