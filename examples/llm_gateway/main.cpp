// The LLM gateway example. One command starts everything:
//
//   ./build/examples/llm_gateway                 # gateway on :8080 + in-process mock LLM, console traces
//   ./build/examples/llm_gateway --demo 6        # ... then sends 6 requests (half streamed) and exits
//   ./build/examples/llm_gateway --upstream 127.0.0.1:9000 --threads 2 --otlp http://127.0.0.1:4318/v1/traces
//   ./build/examples/llm_gateway --pipeline-thread ...   # tracing pipeline on its own io_context + thread
//
//   curl -s localhost:8080/v1/chat/completions -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"How long does shipping take?"}]}'
//   curl -sN localhost:8080/v1/chat/completions -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <thread>

#include <boost/asio.hpp>

#include "client.hpp"
#include "example_cli.hpp"
#include "gateway.hpp"
#include "mock_llm.hpp"
#include "tracecraft/exporters/console.hpp"
#include "tracecraft/exporters/jsonl.hpp"
#include "tracecraft/exporters/memory.hpp"
#include "tracecraft/exporters/otlp_http.hpp"
#include "tracecraft/tracecraft.hpp"

namespace asio = boost::asio;

namespace {

struct options {
    unsigned short port = 8080;
    int threads = 1;
    std::string upstream;   // empty: in-process mock
    int mock_delay_ms = 20;
    int demo = 0;
    bool quiet = false;
    bool tracing = true;
    bool pipeline_thread = false;
};

void declare(examples::cli& cli) {
    namespace po = examples::po;
    cli.options.add_options()
        ("port", po::value<unsigned short>()->default_value(8080), "listen on 127.0.0.1:PORT (0: any)")
        ("threads", po::value<int>()->default_value(1), "threads running the io_context (1..256)")
        ("upstream", po::value<std::string>()->value_name("HOST:PORT"), "the LLM server (default: an in-process mock)")
        ("mock-delay-ms", po::value<int>()->default_value(20), "the in-process mock's answer delay")
        ("demo", po::value<int>()->default_value(0)->value_name("N"), "send N requests (half streamed), print the summary, exit")
        ("quiet", "no console exporter (same as --no-console)")
        ("no-tracing", "run without a tracing runtime")
        ("pipeline-thread", "run the tracing pipeline on an io_context of its own, on a thread of this program");
}

options read(const examples::cli& cli) {
    options o;
    const auto& v = cli.vars;
    o.port = v["port"].as<unsigned short>();
    o.threads = v["threads"].as<int>();
    if (o.threads < 1 || o.threads > 256) throw tracecraft::config_error("--threads", "must be 1..256");
    if (v.count("upstream")) {
        o.upstream = v["upstream"].as<std::string>();
        if (o.upstream.rfind(':') == std::string::npos) throw tracecraft::config_error("--upstream", "needs HOST:PORT");
    }
    o.mock_delay_ms = v["mock-delay-ms"].as<int>();
    o.demo = v["demo"].as<int>();
    if (o.mock_delay_ms < 0 || o.demo < 0) throw tracecraft::config_error("--demo/--mock-delay-ms", "must be >= 0");
    o.quiet = v.count("quiet") || v.count("no-console");
    o.tracing = !v.count("no-tracing");
    o.pipeline_thread = v.count("pipeline-thread") > 0;
    return o;
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

int serve(examples::cli& cli) {
    const options opt = read(cli);
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
        cli.add_exporters(cfg, /*console_default=*/!opt.quiet);
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
        g.upstream_host = opt.upstream.substr(0, colon);
        const std::string port = opt.upstream.substr(colon + 1);
        unsigned long n = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
        if (ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535)
            throw tracecraft::config_error("--upstream", "needs HOST:PORT with a port 1..65535, got " + tracecraft::config_error::quote(opt.upstream));
        g.upstream_port = static_cast<unsigned short>(n);
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
        examples::print_summary(std::cout, *rt);
    }
    pipeline_work.reset();
    if (pipeline.joinable()) pipeline.join();
    const auto gs = gw.stats();
    std::cout << "gateway: " << gs.requests << " requests, " << gs.errors << " errors, " << gs.upstream_connects
              << " upstream connections, " << gs.accept_errors << " failed accepts, " << gs.client_timeouts
              << " client timeouts\n";
    return 0;
}

int main(int argc, char** argv) {
    return examples::run(argc, argv,
                         "llm_gateway: an OpenAI-compatible LLM gateway on Boost.Beast, every request traced\n"
                         "  (agent run -> LLM call, streamed or not; secrets and PII redacted before export)",
                         declare, serve);
}
