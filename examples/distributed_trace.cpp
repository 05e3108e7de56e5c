// W3C Trace Context: continue an incoming trace from its traceparent/tracestate headers and
// inject the current span into an outgoing request.
#include <iostream>

#include <boost/asio.hpp>

#include "tracecraft/exporters/console.hpp"
#include "tracecraft/tracecraft.hpp"

int main(int argc, char** argv) {
    const std::string incoming = argc > 1 ? argv[1] : "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    boost::asio::io_context ioc;
    tracecraft::trace_config cfg;
    cfg.exporters.push_back(std::make_shared<tracecraft::console_exporter>());
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
}
