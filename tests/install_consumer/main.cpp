// Consumer of an installed TraceCraft (find_package); built and run by tools/test.sh.
#include <tracecraft/tracecraft.hpp>
#include <tracecraft/exporters/memory.hpp>
#include <iostream>
int main() {
    boost::asio::io_context ioc;
    tracecraft::trace_config cfg;
    auto mem = std::make_shared<tracecraft::memory_exporter>();
    cfg.exporters = {mem};
    auto rt = tracecraft::init(ioc, cfg);
    { tracecraft::run_scope r("installed"); tracecraft::span_scope c("child"); }
    rt->shutdown();
    std::cout << "spans: " << mem->span_count() << "\n";
    return mem->span_count() == 2 ? 0 : 1;
}
