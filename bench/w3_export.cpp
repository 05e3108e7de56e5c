// W3 (README, Performance): W1 exported over OTLP/HTTP to a sink on 127.0.0.1
// (nginx answering 200, see bench/run.sh and bench/sink-nginx.conf).
//
//   w3_export <protobuf|json> <unthrottled|backpressure> [runs] [endpoint] [spool_dir]
//
// unthrottled: the W1 loop flat out; what the exporter cannot take is dropped and counted.
// backpressure: the loop waits for pipeline capacity before each run (runtime::
// async_wait_for_capacity), so nothing is dropped. Delivered = spans in requests the sink
// answered 2xx. With spool_dir, the exporter has a disk spool (written only when the sink
// fails: with a healthy sink this measures what the spool costs when unused). Prints one JSON line.
#include <cstdio>
#include <string>

#include "tracecraft/exporters/otlp_http.hpp"
#include "w1_workload.hpp"

namespace asio = boost::asio;

namespace {
/// The W1 loop, then a shutdown that drains the pipeline at once (no flush_interval wait).
asio::awaitable<void> produce_then_drain(std::int64_t runs, double* loop_s, tracecraft::runtime* rt, bool back_pressure) {
    auto loop = w1::loop(runs, loop_s, back_pressure ? rt : nullptr);
    co_await std::move(loop);
    co_await rt->async_shutdown();
}
} // namespace

int main(int argc, char** argv) {
    const std::string encoding = argc > 1 ? argv[1] : "protobuf";
    const std::string mode = argc > 2 ? argv[2] : "unthrottled";
    const std::int64_t runs = argc > 3 ? std::stoll(argv[3]) : 250'000;
    const std::string endpoint = argc > 4 ? argv[4] : "http://127.0.0.1:14318/v1/traces";
    const std::string spool_dir = argc > 5 ? argv[5] : "";
    if ((encoding != "protobuf" && encoding != "json") || (mode != "unthrottled" && mode != "backpressure")) {
        std::fprintf(stderr, "usage: w3_export <protobuf|json> <unthrottled|backpressure> [runs] [endpoint] [spool_dir]\n");
        return 2;
    }
    asio::io_context ioc(1);
    tracecraft::otlp_http_options o;
    o.endpoint = endpoint;
    o.protocol = encoding == "json" ? tracecraft::otlp_protocol::http_json : tracecraft::otlp_protocol::http_protobuf;
    o.spool_dir = spool_dir;
    auto exp = std::make_shared<tracecraft::otlp_http_exporter>(o);
    auto rt = tracecraft::init(ioc, w1::config(exp));
    double loop_s = 0;
    tracecraft::spawn(ioc, produce_then_drain(runs, &loop_s, rt.get(), mode == "backpressure"), asio::detached);
    const auto [total_s, cpu] = w1::run_to_shutdown(ioc, *rt);
    const auto st = rt->stats();
    const auto hs = exp->get_stats();
    const double produced = static_cast<double>(runs) * w1::spans_per_run;
    const double delivered = static_cast<double>(hs.exported_spans);
    std::printf("{\"bench\":\"w3_export\",\"encoding\":\"%s\",\"mode\":\"%s\",\"spool\":%s,\"runs\":%lld,\"spans\":%.0f,"
                "\"ns_per_span\":%.1f,\"delivered\":%.0f,\"dropped\":%llu,\"failed\":%llu,\"requests\":%llu,\"retries\":%llu,"
                "\"delivered_per_s\":%.0f,\"total_s\":%.4f,\"cpu_s\":%.3f,\"cpu_s_per_m_delivered\":%.3f,"
                "\"cpu_s_per_m_produced\":%.3f,\"peak_rss_kib\":%ld}\n",
                encoding.c_str(), mode.c_str(), spool_dir.empty() ? "false" : "true", static_cast<long long>(runs), produced, loop_s * 1e9 / produced, delivered,
                static_cast<unsigned long long>(st.spans_queue_dropped), static_cast<unsigned long long>(st.spans_export_failed),
                static_cast<unsigned long long>(hs.requests), static_cast<unsigned long long>(hs.retries), delivered / total_s, total_s, cpu,
                delivered > 0 ? cpu / delivered * 1e6 : 0.0, cpu / produced * 1e6, w1::peak_rss_kib());
    return delivered > 0 ? 0 : 1;
}
