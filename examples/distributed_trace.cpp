// W3C Trace Context: continue an incoming trace from its traceparent/tracestate headers and
// inject the current span into an outgoing request.
#include <iostream>

#include <boost/asio.hpp>

#include "example_cli.hpp"
#include "tracecraft/exporters/console.hpp"
#include "tracecraft/tracecraft.hpp"

namespace {
int propagate(examples::cli& cli) {
    const std::string incoming = cli.vars["traceparent"].as<std::string>();
    boost::asio::io_context ioc;
    tracecraft::trace_config cfg;
    cli.add_exporters(cfg);
    auto rt = tracecraft::init(ioc, cfg);

    std::string error;
    auto remote = tracecraft::extract(incoming, "vendor=opaque", &error);
    if (!remote) {
        std::cerr << "rejected traceparent: " << error << "\n";   // names the problem
        return 1;
    }
    {
        tracecraft::run_options o;
        o.parent = remote->parent;          // this service's spans join the caller's trace
        o.tracestate = remote->tracestate;
        tracecraft::run_scope run("gateway_request", o);
        tracecraft::span_scope call("upstream_llm", tracecraft::span_kind::llm);
        std::cout << "outgoing traceparent: " << tracecraft::current_traceparent() << "\n"
                  << "outgoing tracestate:  " << tracecraft::current_tracestate() << "\n";
    }
    rt->shutdown();
    examples::print_summary(std::cout, *rt);
    return 0;
}
} // namespace

int main(int argc, char** argv) {
    return examples::run(
        argc, argv, "distributed_trace: continue an incoming W3C traceparent and inject the current span into an outgoing call",
        [](examples::cli& cli) {
            cli.options.add_options()("traceparent",
                                      examples::po::value<std::string>()->default_value(
                                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                                      "the incoming traceparent header (also the first positional argument)");
            cli.positional.add("traceparent", 1);
        },
        propagate);
}
