// Writes one batch of spans, covering every attribute type, events, links, status, remote
// parents and span kinds, as OTLP bodies (protobuf and JSON, plain and gzip) together with
// expected.json: the same spans described from the in-memory span model (span_data), not from
// the encoders. check_otlp.js decodes the bodies with the protobufjs code generated from the
// official opentelemetry-proto definitions (npm @opentelemetry/otlp-proto-exporter-base) and
// compares field by field.
//
// usage: tracecraft_otlp_fixture <output-dir>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <fstream>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "tracecraft/otlp/metrics.hpp"
#include "tracecraft/otlp/json.hpp"
#include "tracecraft/otlp/protobuf.hpp"
#include "tracecraft/tracecraft.hpp"

namespace json = boost::json;
using namespace tracecraft;

namespace {

struct capture final : exporter {
    otlp::resource_info resource;
    std::string pb, js;
    std::vector<span_data> spans;
    std::string_view name() const noexcept override { return "capture"; }
    boost::asio::awaitable<export_result> export_batch(span_batch b) override {
        if (!pb.empty()) throw std::runtime_error("fixture expects exactly one batch");
        otlp::encode_request(b, resource, pb);
        otlp::encode_request_json(b, resource, js);
        b.for_each_span([&](const span_view& s) { spans.push_back(to_span_data(s)); });
        co_return export_result::ok();
    }
};

std::string gzip(const std::string& in) {
    z_stream zs{};
    deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate failed");
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

json::object typed(const attribute_value& v) {
    json::object o;
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) o = {{"type", "string"}, {"value", x}};
            else if constexpr (std::is_same_v<T, std::int64_t>) o = {{"type", "int"}, {"value", std::to_string(x)}};
            else if constexpr (std::is_same_v<T, double>) {
                if (std::isfinite(x)) o = {{"type", "double"}, {"value", x}};
                else o = {{"type", "double"}, {"value", std::isnan(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity"}};
            }
            else if constexpr (std::is_same_v<T, bool>) o = {{"type", "bool"}, {"value", x}};
            else if constexpr (std::is_same_v<T, std::monostate>) o = {{"type", "none"}};
            else {
                json::array a;
                for (const auto& e : x) {
                    if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) a.push_back(json::value(std::to_string(e)));
                    else a.push_back(json::value(static_cast<typename T::value_type>(e)));
                }
                const char* t = std::is_same_v<T, std::vector<std::string>> ? "string[]"
                                : std::is_same_v<T, std::vector<std::int64_t>> ? "int[]"
                                : std::is_same_v<T, std::vector<double>> ? "double[]" : "bool[]";
                o = {{"type", t}, {"value", std::move(a)}};
            }
        },
        v);
    return o;
}

json::array attrs(const std::vector<std::pair<std::string, attribute_value>>& kv) {
    json::array a;
    for (const auto& [k, v] : kv) {
        auto t = typed(v);
        t["key"] = k;
        a.push_back(std::move(t));
    }
    return a;
}

void write(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    if (!out) throw std::runtime_error("cannot write " + path);
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <output-dir>\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    auto cap = std::make_shared<capture>();
    cap->resource.attributes = {{"service.name", std::string("otlp-fixture")}, {"deployment.environment.name", std::string("ci")}};
    trace_config cfg;
    cfg.service_name = "otlp-fixture";
    cfg.exporters = {cap};
    cfg.redaction.enabled = false;
    cfg.batch_size = 64;
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    {
        const auto linked = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        run_options ro;
        ro.parent = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        run_scope run("support_agent", ro);
        run.set_attribute("session.id", "s-42");
        {
            span_scope llm("chat gpt-4o", span_kind::llm);
            llm.set_model("gpt-4o", "openai").set_tokens(120, 33);
            llm.add_event("gen_ai.first_chunk", {{"chunk.index", 0}, {"latency.ms", 12.5}, {"ok", true}});
            llm.set_status(status_code::error, "upstream said 429");
        }
        {
            span_scope tool("lookup_order", span_kind::tool);
            const std::vector<std::int64_t> ints{-1, 0, 9007199254740993LL};
            const std::vector<double> dbls{0.25, -1e300};
            const std::vector<bool> flags{true, false};
            tool.set_attribute("s", "unicode ✓ \"quoted\"\n").set_attribute("i", std::int64_t{-9007199254740993LL});
            tool.set_attribute("d", 3.5).set_attribute("b", false).set_attribute("strs", {"a", "b", ""});
            tool.set_attribute("ints", std::span<const std::int64_t>(ints)).set_attribute("dbls", std::span<const double>(dbls));
            tool.set_attribute("flags", flags);
            tool.add_link(*linked);
            tool.set_status(status_code::ok);
        }
        {
            // what receivers reject when sent as is: invalid UTF-8 (made U+FFFD before export)
            // and non-finite doubles (proto3 JSON mapping: "NaN", "Infinity", "-Infinity")
            span_scope odd("odd \xff name", span_kind::tool);
            odd.set_attribute("bad\xc3", "a\xff\xfe" "b\xed\xa0\x80" "c").set_attribute("strs_bad", {"ok", "x\xf8y"});
            const double inf = std::numeric_limits<double>::infinity();
            odd.set_attribute("nan", std::numeric_limits<double>::quiet_NaN()).set_attribute("inf", inf);
            odd.set_attribute("ninf", -inf);
        }
        span_scope r("search_docs", span_kind::retrieval);
    }
    rt->shutdown();
    if (cap->pb.empty()) {
        std::fprintf(stderr, "no batch was exported\n");
        return 1;
    }
    json::object expected;
    json::array spans;
    for (const auto& s : cap->spans) {
        json::object o;
        o["traceId"] = s.trace.to_hex();
        o["spanId"] = s.id.to_hex();
        o["parentSpanId"] = s.parent_id.valid() ? s.parent_id.to_hex() : std::string();
        o["remoteParent"] = s.remote_parent;
        o["name"] = s.name;
        o["kind"] = s.kind == span_kind::llm ? 3 : 1;   // CLIENT for LLM calls, INTERNAL otherwise
        o["start"] = std::to_string(s.start_unix_ns);
        o["end"] = std::to_string(s.end_unix_ns);
        o["statusCode"] = static_cast<int>(s.status);
        o["statusMessage"] = s.status_message;
        o["attributes"] = attrs(s.attributes);
        json::array events;
        for (const auto& e : s.events)
            events.push_back(json::object{{"name", e.name}, {"time", std::to_string(e.time_unix_ns)}, {"attributes", attrs(e.attributes)}});
        o["events"] = std::move(events);
        json::array links;
        for (const auto& l : s.links)
            links.push_back(json::object{{"traceId", l.context.trace.to_hex()}, {"spanId", l.context.span.to_hex()},
                                         {"attributes", attrs(l.attributes)}});
        o["links"] = std::move(links);
        spans.push_back(std::move(o));
    }
    expected["spans"] = std::move(spans);
    expected["resource"] = attrs(cap->resource.attributes);
    // Semantic-convention attributes the exporter derives (dialect "both").
    expected["derived"] = json::array{
        json::object{{"span", "chat gpt-4o"}, {"key", "gen_ai.request.model"}, {"type", "string"}, {"value", "gpt-4o"}},
        json::object{{"span", "chat gpt-4o"}, {"key", "gen_ai.usage.input_tokens"}, {"type", "int"}, {"value", "120"}},
        json::object{{"span", "chat gpt-4o"}, {"key", "llm.token_count.completion"}, {"type", "int"}, {"value", "33"}},
        json::object{{"span", "chat gpt-4o"}, {"key", "openinference.span.kind"}, {"type", "string"}, {"value", "LLM"}},
        json::object{{"span", "lookup_order"}, {"key", "openinference.span.kind"}, {"type", "string"}, {"value", "TOOL"}},
        json::object{{"span", "odd \xef\xbf\xbd name"}, {"key", "openinference.span.kind"}, {"type", "string"}, {"value", "TOOL"}},
        json::object{{"span", "search_docs"}, {"key", "openinference.span.kind"}, {"type", "string"}, {"value", "RETRIEVER"}},
    };
    write(dir + "/expected.json", json::serialize(expected));
    write(dir + "/request.pb", cap->pb);
    write(dir + "/request.pb.gz", gzip(cap->pb));
    write(dir + "/request.json", cap->js);
    write(dir + "/request.json.gz", gzip(cap->js));
    // The runtime's metrics of the same traces (ExportMetricsServiceRequest), with what they should say.
    const metrics_snapshot m = rt->metrics();
    std::string mpb, mjs;
    otlp::encode_metrics_request(m, cap->resource, mpb);
    otlp::encode_metrics_request_json(m, cap->resource, mjs);
    json::object mexp;
    for (const metric_data& d : m.metrics) {
        json::array points;
        for (const metric_point& p : d.points) {
            json::object po;
            json::object a;
            for (const auto& [k, v] : p.attributes) a[k] = to_display_string(v);
            po["attributes"] = std::move(a);
            if (d.type == metric_type::histogram) {
                po["count"] = std::to_string(p.count);
                po["sum"] = p.sum;
                json::array b;
                for (std::uint64_t c : p.bucket_counts) b.emplace_back(std::to_string(c));
                po["bucketCounts"] = std::move(b);
            } else {
                po["value"] = p.integer ? json::value(std::to_string(static_cast<std::int64_t>(p.value))) : json::value(p.value);
            }
            points.push_back(std::move(po));
        }
        mexp[d.name] = json::object{{"type", d.type == metric_type::histogram ? "histogram" : d.type == metric_type::counter ? "sum" : "gauge"},
                                    {"unit", d.unit}, {"bounds", json::value_from(d.bounds)}, {"points", std::move(points)}};
    }
    write(dir + "/metrics_expected.json", json::serialize(mexp));
    write(dir + "/metrics.pb", mpb);
    write(dir + "/metrics.json", mjs);
    std::printf("wrote %zu spans to %s\n", cap->spans.size(), dir.c_str());
    return 0;
}
