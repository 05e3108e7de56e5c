// GenAI metrics recorded from every finished trace before sampling: exact totals at a 1 %
// sampling rate, per-series attributes, histograms on the conventions' buckets, streams, agent /
// tool / workflow durations, cost, the overflow series, concurrent recording, health metrics.
#include <cmath>
#include <map>
#include <thread>

#include <boost/asio.hpp>

#include "test_util.hpp"
#include "tracecraft/llm_stream.hpp"
#include "tracecraft/metrics.hpp"

namespace asio = boost::asio;
using namespace tracecraft;

namespace {

struct truth {
    std::int64_t calls = 0, errors = 0, input = 0, output = 0, runs = 0, tools = 0;
    std::map<std::string, std::int64_t> calls_by_model;
};

const char* const models[] = {"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"};

/// `runs` agent runs, each with one tool call and `llm_per_run` LLM calls whose token counts,
/// models and failures follow a fixed pattern; the same numbers are added to `t`.
asio::awaitable<void> produce(int first, int runs, int llm_per_run, truth* t) {
    for (int r = first; r < first + runs; ++r) {
        {
            run_scope run("assistant");
            ++t->runs;
            {
                span_scope tool("lookup", span_kind::tool);
                ++t->tools;
            }
            for (int k = 0; k < llm_per_run; ++k) {
                const int i = r * llm_per_run + k;
                span_scope llm("chat", span_kind::llm);
                const char* model = models[i % 3];
                const bool openai = i % 3 != 2;
                llm.set_model(model, openai ? "openai" : "anthropic");
                const std::int64_t in = 10 + i % 97, out = 1 + i % 13;
                llm.set_tokens(in, out);
                t->input += in;
                t->output += out;
                ++t->calls;
                ++t->calls_by_model[model];
                if (i % 50 == 7) {
                    llm.set_attribute("error.type", "rate_limited");
                    llm.set_status(status_code::error, "429");
                    ++t->errors;
                }
            }
        }
        co_await asio::post(asio::use_awaitable);
    }
}

double histogram_count(const metrics_snapshot& m, std::string_view name) { return m.total(name); }

} // namespace

BOOST_AUTO_TEST_SUITE(genai_metrics)

BOOST_AUTO_TEST_CASE(exact_totals_at_one_percent_sampling) {
    trace_config cfg;
    cfg.sampling.rate = 0.01;   // always_keep_errors stays on: the sampler decides at the trace's end
    tc_test::traced_env env(cfg);
    truth t;
    asio::co_spawn(make_executor(env.ioc, env.rt.get()), produce(0, 2500, 4, &t), asio::detached);
    env.ioc.run();
    const auto exported = env.finish();
    const runtime_stats st = env.rt->stats();
    BOOST_TEST(t.calls == 10000);
    BOOST_TEST(st.traces_kept < 400u);   // ~1 % plus the runs with an error: most traces were dropped
    BOOST_TEST(st.traces_sampled_out > 2000u);

    const metrics_snapshot m = env.rt->metrics();
    BOOST_TEST(histogram_count(m, "gen_ai.client.operation.duration") == 10000.0);
    BOOST_TEST(m.total("gen_ai.client.operation.duration", {{"error.type", "rate_limited"}}) == static_cast<double>(t.errors));
    BOOST_TEST(m.total("gen_ai.client.inference.usage.input_tokens") == static_cast<double>(t.input));
    BOOST_TEST(m.total("gen_ai.client.inference.usage.output_tokens") == static_cast<double>(t.output));
    BOOST_TEST(histogram_count(m, "gen_ai.client.inference.operation.input_tokens") == 10000.0);
    BOOST_TEST(histogram_count(m, "gen_ai.client.inference.operation.output_tokens") == 10000.0);
    for (const auto& [model, n] : t.calls_by_model)
        BOOST_TEST(m.total("gen_ai.client.operation.duration", {{"gen_ai.request.model", model}}) == static_cast<double>(n), model);
    BOOST_TEST(m.total("gen_ai.client.operation.duration", {{"gen_ai.provider.name", "anthropic"}, {"gen_ai.operation.name", "chat"}}) ==
               static_cast<double>(t.calls_by_model["claude-3-5-sonnet"]));
    BOOST_TEST(histogram_count(m, "gen_ai.invoke_agent.duration") == static_cast<double>(t.runs));
    BOOST_TEST(histogram_count(m, "gen_ai.execute_tool.duration") == static_cast<double>(t.tools));
    // the sum of the input-token histogram is the same total, and its buckets follow the conventions
    const metric_data* h = m.find("gen_ai.client.inference.operation.input_tokens");
    BOOST_TEST_REQUIRE(h != nullptr);
    BOOST_TEST(h->unit == "{token}");
    BOOST_TEST(h->bounds.size() == 14u);
    BOOST_TEST(h->bounds.front() == 1.0);
    BOOST_TEST(h->bounds.back() == 67108864.0);
    double sum = 0;
    std::uint64_t in_buckets = 0;
    for (const metric_point& p : h->points) {
        sum += p.sum;
        BOOST_TEST_REQUIRE(p.bucket_counts.size() == 15u);
        for (std::uint64_t b : p.bucket_counts) in_buckets += b;
        BOOST_TEST(p.min >= 10.0);
        BOOST_TEST(p.max <= 106.0);
        BOOST_TEST(p.bucket_counts[2] + p.bucket_counts[3] + p.bucket_counts[4] == p.count);   // 10..106 tokens: (4,16], (16,64], (64,256]
    }
    BOOST_TEST(sum == static_cast<double>(t.input));
    BOOST_TEST(in_buckets == 10000u);
    const metric_data* d = m.find("gen_ai.client.operation.duration");
    BOOST_TEST_REQUIRE(d != nullptr);
    BOOST_TEST(d->unit == "s");
    BOOST_TEST(d->bounds.front() == 0.01);
    // cost from the price table, by model: every call counted although ~1 % of traces were kept
    const double cost = m.total("tracecraft.cost_usd");
    BOOST_TEST(cost > 0.0);
    double expected = 0;
    const auto prices = price_table::builtin();
    for (int i = 0; i < 10000; ++i)
        expected += prices->cost(models[i % 3], 10 + i % 97, 1 + i % 13).value_or(0);
    BOOST_TEST(std::fabs(cost - expected) <= 1e-9 * expected);
    // the health metrics tell the same story as the stats
    BOOST_TEST(m.total("tracecraft.traces", {{"outcome", "sampled_out"}}) == static_cast<double>(st.traces_sampled_out));
    BOOST_TEST(m.total("tracecraft.traces", {{"outcome", "kept"}}) == static_cast<double>(st.traces_kept));
    BOOST_TEST(m.total("tracecraft.exporter.sent_spans") == static_cast<double>(st.spans_exported));
    BOOST_TEST(m.start_unix_ns > 0);
    BOOST_TEST(m.time_unix_ns >= m.start_unix_ns);
    (void)exported;
}

BOOST_AUTO_TEST_CASE(series_attributes_streams_and_errors) {
    tc_test::traced_env env;
    auto body = []() -> asio::awaitable<void> {
        {
            run_scope run("planner");
            span_scope llm("chat", span_kind::llm);
            llm.set_model("gpt-4o", "openai").set_tokens(5, 7);
            llm.set_attribute("server.address", "api.openai.com").set_attribute("server.port", std::int64_t{443});
            llm.set_attribute("gen_ai.response.model", "gpt-4o-2024-08-06");
            llm.set_attribute("gen_ai.usage.cache_read.input_tokens", std::int64_t{3});
            llm.set_status(status_code::error, "boom");   // no error.type: _OTHER
        }
        {
            run_scope run("streamer");
            llm_stream s("chat", "gpt-4o-mini", "openai");
            s.on_chunk("a");
            s.on_chunk("b");
            s.on_chunk("c");
            s.on_chunk("d");
            s.finish();
        }
        {
            run_options wf;
            wf.kind = span_kind::workflow;
            run_scope run("pipeline", wf);
        }
        co_return;
    };
    asio::co_spawn(make_executor(env.ioc, env.rt.get()), body(), asio::detached);
    env.ioc.run();
    env.finish();
    const metrics_snapshot m = env.rt->metrics();
    const metric_data* d = m.find("gen_ai.client.operation.duration");
    BOOST_TEST_REQUIRE(d != nullptr);
    const metric_point* p = nullptr;
    for (const metric_point& x : d->points)
        if (x.attribute("server.address")) p = &x;
    BOOST_TEST_REQUIRE(p != nullptr);
    BOOST_TEST(std::get<std::string>(*p->attribute("error.type")) == "_OTHER");
    BOOST_TEST(std::get<std::int64_t>(*p->attribute("server.port")) == 443);
    BOOST_TEST(std::get<std::string>(*p->attribute("gen_ai.response.model")) == "gpt-4o-2024-08-06");
    BOOST_TEST(std::get<std::string>(*p->attribute("gen_ai.operation.name")) == "chat");
    BOOST_TEST(m.total("gen_ai.client.inference.usage.cache_read.input_tokens") == 3.0);
    const metric_data* usage = m.find("gen_ai.client.inference.usage.input_tokens");
    BOOST_TEST_REQUIRE(usage != nullptr);
    BOOST_TEST(usage->points[0].attribute("error.type") == nullptr);   // usage counters carry no error.type
    BOOST_TEST(std::get<std::string>(*usage->points[0].attribute("gen_ai.token.modality")) == "unknown");
    // the stream: time to first chunk once, time per output chunk for the 3 chunks after the first
    BOOST_TEST(m.total("gen_ai.client.operation.time_to_first_chunk") == 1.0);
    BOOST_TEST(m.total("gen_ai.client.operation.time_per_output_chunk") == 3.0);
    BOOST_TEST(m.total("gen_ai.client.operation.duration", {{"gen_ai.request.model", "gpt-4o-mini"}}) == 1.0);
    BOOST_TEST(m.total("gen_ai.invoke_agent.duration", {{"gen_ai.agent.name", "planner"}}) == 1.0);
    BOOST_TEST(m.total("gen_ai.workflow.duration", {{"gen_ai.workflow.name", "pipeline"}}) == 1.0);
}

BOOST_AUTO_TEST_CASE(cardinality_limit_goes_to_the_overflow_series) {
    trace_config cfg;
    cfg.metrics.max_series = 5;
    tc_test::traced_env env(cfg);
    auto body = []() -> asio::awaitable<void> {
        for (int i = 0; i < 40; ++i) {
            run_scope run("r");
            span_scope llm("chat", span_kind::llm);
            llm.set_model("model-" + std::to_string(i)).set_tokens(1, 1);
        }
        co_return;
    };
    asio::co_spawn(make_executor(env.ioc, env.rt.get()), body(), asio::detached);
    env.ioc.run();
    env.finish();
    const metrics_snapshot m = env.rt->metrics();
    BOOST_TEST(m.total("gen_ai.client.operation.duration") == 40.0);   // nothing lost, only merged
    BOOST_TEST(m.total("gen_ai.client.inference.usage.input_tokens") == 40.0);
    BOOST_TEST(env.rt->stats().metric_series_overflow > 0u);
    bool overflow_seen = false;
    for (const metric_point& p : m.find("gen_ai.client.operation.duration")->points)
        overflow_seen |= p.attribute("otel.metric.overflow") != nullptr;
    BOOST_TEST(overflow_seen);
}

BOOST_AUTO_TEST_CASE(concurrent_recording_is_exact) {
    trace_config cfg;
    cfg.sampling.rate = 0.0;
    cfg.max_queue_spans = 1 << 16;
    tc_test::traced_env env(cfg);
    constexpr int threads = 4;
    std::vector<truth> truths(threads);
    for (int i = 0; i < threads; ++i)
        asio::co_spawn(make_executor(env.ioc, env.rt.get()), produce(i * 300, 300, 2, &truths[i]), asio::detached);
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back([&] { env.ioc.run(); });
    for (auto& th : pool) th.join();
    env.finish();
    std::int64_t input = 0, calls = 0;
    for (const truth& t : truths) {
        input += t.input;
        calls += t.calls;
    }
    const metrics_snapshot m = env.rt->metrics();
    BOOST_TEST(m.total("gen_ai.client.operation.duration") == static_cast<double>(calls));
    BOOST_TEST(m.total("gen_ai.client.inference.usage.input_tokens") == static_cast<double>(input));
}

// Each thread remembers the series it last measured per kind; two runtimes measured in turn on
// one thread (and models changing every call) must still count into their own series.
BOOST_AUTO_TEST_CASE(two_runtimes_in_turn_on_one_thread_count_apart) {
    trace_config cfg;
    cfg.sampling.rate = 0.0;
    cfg.max_queue_spans = 1 << 16;
    tc_test::traced_env a(cfg), b(cfg);
    truth ta, tb;
    asio::co_spawn(make_executor(a.ioc, a.rt.get()), produce(0, 200, 3, &ta), asio::detached);
    asio::co_spawn(make_executor(b.ioc, b.rt.get()), produce(7, 150, 2, &tb), asio::detached);
    for (bool more = true; more;) {
        const std::size_t ran = a.ioc.run_one() + b.ioc.run_one();
        more = ran != 0;
    }
    a.finish();
    b.finish();
    for (auto [env, t] : {std::pair{&a, &ta}, std::pair{&b, &tb}}) {
        const metrics_snapshot m = env->rt->metrics();
        BOOST_TEST(m.total("gen_ai.client.operation.duration") == static_cast<double>(t->calls));
        BOOST_TEST(m.total("gen_ai.client.inference.usage.input_tokens") == static_cast<double>(t->input));
        BOOST_TEST(m.total("gen_ai.client.inference.usage.output_tokens") == static_cast<double>(t->output));
        BOOST_TEST(m.total("gen_ai.execute_tool.duration") == static_cast<double>(t->tools));
        for (const auto& [model, n] : t->calls_by_model)
            BOOST_TEST(m.total("gen_ai.client.operation.duration", {{"gen_ai.request.model", model}}) == static_cast<double>(n), model);
    }
}

BOOST_AUTO_TEST_CASE(disabled_metrics_cost_nothing_and_say_so) {
    trace_config cfg;
    cfg.metrics.enabled = false;
    tc_test::traced_env env(cfg);
    BOOST_TEST(env.rt->metrics().metrics.empty());
    trace_config bad;
    bad.metrics.max_series = 0;
    BOOST_CHECK_THROW(bad.validate(), config_error);
    bad = {};
    bad.metrics.export_interval = std::chrono::milliseconds(5);
    BOOST_CHECK_THROW(bad.validate(), config_error);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- export over OTLP/HTTP

#include <boost/json.hpp>

#include "fault_receiver.hpp"
#include "tracecraft/exporters/otlp_http.hpp"

namespace {

struct export_env {
    asio::io_context ioc;
    tc_test::fault_receiver rx{ioc};
    std::shared_ptr<otlp_http_exporter> exp;
    std::shared_ptr<runtime> rt;
    explicit export_env(metric_temporality t, bool receiver_up = true) {
        if (receiver_up) rx.up();
        otlp_http_options o;
        if (!receiver_up) o.retry.max_elapsed = std::chrono::milliseconds(200);
        o.endpoint = rx.endpoint();
        o.protocol = otlp_protocol::http_json;
        o.retry.initial_interval = std::chrono::milliseconds(10);
        o.retry.max_interval = std::chrono::milliseconds(20);
        o.timeout = std::chrono::milliseconds(500);
        exp = std::make_shared<otlp_http_exporter>(o);
        trace_config cfg;
        cfg.service_name = "metrics-test";
        cfg.exporters = {exp};
        cfg.flush_interval = std::chrono::milliseconds(5);
        cfg.metrics.export_interval = std::chrono::milliseconds(100);
        cfg.metrics.temporality = t;
        rt = std::make_shared<runtime>(ioc, cfg);
    }
    /// `calls` LLM calls, then the io_context runs for `ms` (periodic exports), then shutdown.
    void run(int calls, int ms) {
        truth t;
        asio::co_spawn(make_executor(ioc, rt.get()), produce(0, calls, 1, &t), asio::detached);
        auto guard = asio::make_work_guard(ioc);   // the export loop waits in the background
        ioc.run_for(std::chrono::milliseconds(ms));
        guard.reset();
        rt->shutdown();
        rx.down();
        ioc.run();
    }
};

/// Data points of `name` in one OTLP/JSON metrics body.
std::vector<boost::json::object> points_of(const std::string& body, std::string_view name, std::int64_t* temporality = nullptr) {
    std::vector<boost::json::object> out;
    const auto doc = boost::json::parse(body);
    for (const auto& rm : doc.at("resourceMetrics").as_array())
        for (const auto& sm : rm.at("scopeMetrics").as_array())
            for (const auto& m : sm.at("metrics").as_array()) {
                if (m.at("name").as_string() != name) continue;
                const auto& o = m.as_object();
                const auto& data = o.contains("histogram") ? o.at("histogram") : o.contains("sum") ? o.at("sum") : o.at("gauge");
                if (temporality && data.as_object().contains("aggregationTemporality"))
                    *temporality = data.at("aggregationTemporality").to_number<std::int64_t>();
                for (const auto& p : data.at("dataPoints").as_array()) out.push_back(p.as_object());
            }
    return out;
}

std::uint64_t count_of(const std::vector<boost::json::object>& points) {
    std::uint64_t n = 0;
    for (const auto& p : points) n += std::stoull(std::string(p.at("count").as_string()));
    return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(genai_metrics_export)

BOOST_AUTO_TEST_CASE(cumulative_export_over_otlp_http) {
    export_env env(metric_temporality::cumulative);
    env.run(50, 350);
    BOOST_TEST_REQUIRE(env.rx.metric_bodies.size() >= 3u);   // periodic exports, then the final one
    std::uint64_t previous = 0;
    for (const std::string& body : env.rx.metric_bodies) {
        std::int64_t temporality = 0;
        const std::uint64_t n = count_of(points_of(body, "gen_ai.client.operation.duration", &temporality));
        BOOST_TEST(temporality == 2);   // CUMULATIVE
        BOOST_TEST(n >= previous);
        previous = n;
    }
    BOOST_TEST(previous == 50u);   // the last export holds every call
    const auto doc = boost::json::parse(env.rx.metric_bodies.back());
    const auto& res = doc.at("resourceMetrics").at(0).at("resource").at("attributes").as_array();
    bool service = false;
    for (const auto& kv : res) service |= kv.at("key") == "service.name" && kv.at("value").at("stringValue") == "metrics-test";
    BOOST_TEST(service);
    const auto tokens = points_of(env.rx.metric_bodies.back(), "gen_ai.client.inference.usage.input_tokens");
    BOOST_TEST_REQUIRE(!tokens.empty());
    BOOST_TEST(tokens[0].contains("asInt"));
    const auto health = points_of(env.rx.metric_bodies.back(), "tracecraft.traces");
    BOOST_TEST(!health.empty());
    BOOST_TEST(env.rt->stats().metric_exports == env.rx.metric_bodies.size());
    BOOST_TEST(env.exp->get_stats().metric_exports == env.rx.metric_bodies.size());
}

BOOST_AUTO_TEST_CASE(delta_exports_add_up_to_the_total) {
    export_env env(metric_temporality::delta);
    env.run(40, 350);
    BOOST_TEST_REQUIRE(!env.rx.metric_bodies.empty());
    std::uint64_t total = 0;
    for (const std::string& body : env.rx.metric_bodies) {
        std::int64_t temporality = 0;
        const auto pts = points_of(body, "gen_ai.client.operation.duration", &temporality);
        if (!pts.empty()) BOOST_TEST(temporality == 1);   // DELTA
        total += count_of(pts);
    }
    BOOST_TEST(total == 40u);
}

BOOST_AUTO_TEST_CASE(a_receiver_down_at_shutdown_costs_one_attempt) {
    export_env env(metric_temporality::cumulative, false);
    const auto start = std::chrono::steady_clock::now();
    env.run(5, 50);
    BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(5)));
    BOOST_TEST(env.rt->stats().metric_export_failures >= 1u);
    BOOST_TEST(env.rx.metric_bodies.empty());
}

BOOST_AUTO_TEST_CASE(environment_variables) {
    auto env = [](std::map<std::string, std::string> vars) {
        return otlp_http_options::from_env([vars](const char* n) -> const char* {
            auto it = vars.find(n);
            return it == vars.end() ? nullptr : it->second.c_str();
        });
    };
    auto o = env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"}});
    BOOST_TEST(o.endpoint == "http://collector:4318/v1/traces");
    BOOST_TEST(o.metrics.endpoint == "http://collector:4318/v1/metrics");
    o = env({{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "https://m.example/otlp"}, {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"},
             {"OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"}, {"OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-key=abc"}});
    BOOST_TEST(o.metrics.endpoint == "https://m.example/otlp");
    BOOST_TEST((o.metrics.protocol == otlp_protocol::http_json));
    BOOST_TEST(o.metrics.gzip.value_or(false));
    BOOST_TEST(o.metrics.headers->at(0).second == "abc");
    BOOST_TEST(!env({{"OTEL_METRICS_EXPORTER", "none"}}).metrics.enabled);
    BOOST_CHECK_THROW(env({{"OTEL_METRICS_EXPORTER", "prometheus"}}), config_error);
    BOOST_CHECK_THROW(env({{"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "soon"}}), config_error);
    // no metric export for an endpoint without /v1/traces and no metrics endpoint
    otlp_http_options custom;
    custom.endpoint = "http://127.0.0.1:1/custom";
    BOOST_TEST(!otlp_http_exporter(custom).exports_metrics());
    otlp_http_options plain;
    BOOST_TEST(otlp_http_exporter(plain).exports_metrics());
    // the runtime's variables
    const trace_config cfg = load_config("", [](const char* n) -> const char* {
        if (std::string_view(n) == "OTEL_METRIC_EXPORT_INTERVAL") return "2500";
        if (std::string_view(n) == "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") return "Delta";
        return nullptr;
    });
    BOOST_TEST(cfg.metrics.export_interval.count() == 2500);
    BOOST_TEST((cfg.metrics.temporality == metric_temporality::delta));
    BOOST_CHECK_THROW(load_config("", [](const char* n) -> const char* {
        return std::string_view(n) == "OTEL_METRIC_EXPORT_INTERVAL" ? "5" : nullptr;
    }), config_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(genai_content_capture)

BOOST_AUTO_TEST_CASE(message_content_switch) {
    for (const bool capture : {true, false}) {
        trace_config cfg;
        cfg.capture_message_content = capture;
        tc_test::traced_env env(cfg);
        auto body = []() -> asio::awaitable<void> {
            run_options ro;
            ro.input = "what is my balance?";
            run_scope run("assistant", ro);
            {
                span_scope llm("chat", span_kind::llm);
                llm.set_input("prompt", "secret prompt").set_output("completion", "secret answer");
                llm.set_model("gpt-4o").set_tokens(3, 4);
            }
            {
                llm_stream s("chat", "gpt-4o", "openai");
                s.on_chunk("streamed secret");
                s.finish();
            }
            run.set_run_output("here it is");
            co_return;
        };
        asio::co_spawn(make_executor(env.ioc, env.rt.get()), body(), asio::detached);
        env.ioc.run();
        const auto spans = env.finish();
        BOOST_TEST_REQUIRE(spans.size() == 3u);
        std::size_t content = 0;
        for (const auto& s : spans) content += s.inputs.size() + s.outputs.size();
        BOOST_TEST((content > 0) == capture, "capture " << capture << ": " << content << " inputs/outputs");
        // the rest of the span is kept either way, and the metrics count the calls
        const span_data* llm = tc_test::find_span(spans, "chat");
        BOOST_TEST_REQUIRE(llm != nullptr);
        BOOST_TEST(env.rt->metrics().total("gen_ai.client.operation.duration") == 2.0);
    }
    const trace_config off = load_config("", [](const char* n) -> const char* {
        return std::string_view(n) == "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" ? "false" : nullptr;
    });
    BOOST_TEST(!off.capture_message_content);
    BOOST_CHECK_THROW(load_config("", [](const char* n) -> const char* {
        return std::string_view(n) == "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" ? "maybe" : nullptr;
    }), config_error);
}

BOOST_AUTO_TEST_SUITE_END()

// Traces dropped at their root (no tail condition can keep them: keep-errors off, rate < 1)
// record no span; their LLM / agent / tool spans are measured by probes all the same.
BOOST_AUTO_TEST_SUITE(genai_metrics_head_dropped)

namespace {

metrics_snapshot metrics_of_run(double rate, bool keep_errors, int threads) {
    trace_config cfg;
    cfg.sampling.rate = rate;
    cfg.sampling.always_keep_errors = keep_errors;
    cfg.max_queue_spans = 1 << 16;
    tc_test::traced_env env(cfg);
    std::vector<truth> truths(threads);
    for (int i = 0; i < threads; ++i)
        asio::co_spawn(make_executor(env.ioc, env.rt.get()), produce(i * 2500 / threads, 2500 / threads, 4, &truths[i]),
                       asio::detached);
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&] { env.ioc.run(); });
    env.ioc.run();
    for (auto& th : pool) th.join();
    const auto spans = env.finish();
    if (!keep_errors && rate == 0.0) BOOST_TEST(spans.empty());   // nothing recorded at all
    return env.rt->metrics();
}

/// Every GenAI metric of `a` and `b` is the same, except the measured durations themselves
/// (their counts per attribute set must match).
void same_genai_metrics(const metrics_snapshot& a, const metrics_snapshot& b) {
    for (const metric_data& x : a.metrics) {
        if (x.name.rfind("gen_ai.", 0) != 0 && x.name != "tracecraft.cost_usd") continue;
        const metric_data* y = b.find(x.name);
        BOOST_TEST_REQUIRE(y != nullptr, x.name);
        BOOST_TEST_REQUIRE(x.points.size() == y->points.size(), x.name);
        for (std::size_t i = 0; i < x.points.size(); ++i) {
            const metric_point &p = x.points[i], &q = y->points[i];
            BOOST_TEST((p.attributes == q.attributes), x.name);
            BOOST_TEST(p.count == q.count, x.name);
            if (x.unit == "s") continue;
            BOOST_TEST(std::fabs(p.sum - q.sum) <= 1e-9 * std::max(1.0, std::fabs(p.sum)), x.name);
            BOOST_TEST(std::fabs(p.value - q.value) <= 1e-9 * std::max(1.0, std::fabs(p.value)), x.name);
            BOOST_TEST((p.bucket_counts == q.bucket_counts), x.name);
        }
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(dropped_at_the_root_measured_exactly) {
    const metrics_snapshot all = metrics_of_run(1.0, true, 1);        // every trace recorded
    const metrics_snapshot none = metrics_of_run(0.0, false, 1);      // every trace dropped at its root
    const metrics_snapshot some = metrics_of_run(0.01, false, 1);     // ~1 % recorded, the rest probed
    BOOST_TEST(all.total("gen_ai.client.operation.duration") == 10000.0);
    BOOST_TEST(all.total("gen_ai.invoke_agent.duration") == 2500.0);
    same_genai_metrics(all, none);
    same_genai_metrics(none, all);
    same_genai_metrics(all, some);
    BOOST_TEST(none.total("tracecraft.traces", {{"outcome", "head_dropped"}}) == 2500.0);
}

BOOST_AUTO_TEST_CASE(dropped_at_the_root_on_four_threads) {
    const metrics_snapshot all = metrics_of_run(1.0, true, 4);
    const metrics_snapshot none = metrics_of_run(0.0, false, 4);
    same_genai_metrics(all, none);
}

BOOST_AUTO_TEST_CASE(probes_see_helpers_errors_streams_and_current_span) {
    trace_config cfg;
    cfg.sampling.rate = 0.0;
    cfg.sampling.always_keep_errors = false;
    tc_test::traced_env env(cfg);
    auto body = []() -> asio::awaitable<void> {
        {
            run_scope run("planner");
            {
                span_scope llm("chat", span_kind::llm);
                BOOST_TEST(!llm.is_recording());
                current_span().set_model("gpt-4o", "openai");   // through the current span
                current_span().set_usage(token_usage{5, 7, false});
                llm.set_attribute("gen_ai.usage.cache_read.input_tokens", 3);
                llm.set_cost(0.25);
                { span_scope inner("retrieval", span_kind::retrieval); }   // not measured; the LLM span is current again
                current_span().set_attribute("server.address", "api.openai.com").set_attribute("server.port", 443);
            }
            try {
                span_scope llm("chat", span_kind::llm);
                llm.set_model("gpt-4o");
                throw std::runtime_error("escapes");   // an exception escaping the scope: an error
            } catch (const std::exception&) {
            }
            {
                span_scope llm("chat", span_kind::llm);
                llm.set_model("gpt-4o");
                llm.record_exception(std::invalid_argument("bad"));
            }
            {
                span_scope llm("chat", span_kind::llm);
                llm.set_model(std::string(300, 'm'));   // longer than a probe keeps: the overflow series
                llm.set_tokens(1, 1);
            }
            {
                llm_stream s("chat", "gpt-4o-mini", "openai");
                s.on_chunk("a");
                s.on_chunk("b");
                s.on_chunk("c");
                s.finish();
            }
            span_scope tool("search", span_kind::tool);
        }
        co_return;
    };
    asio::co_spawn(make_executor(env.ioc, env.rt.get()), body(), asio::detached);
    env.ioc.run();
    BOOST_TEST(env.finish().empty());
    const metrics_snapshot m = env.rt->metrics();
    BOOST_TEST(m.total("gen_ai.client.operation.duration") == 5.0);
    BOOST_TEST(m.total("gen_ai.client.operation.duration", {{"server.address", "api.openai.com"}}) == 1.0);
    BOOST_TEST(m.total("gen_ai.client.inference.usage.input_tokens", {{"gen_ai.request.model", "gpt-4o"}}) == 5.0);
    BOOST_TEST(m.total("gen_ai.client.inference.usage.output_tokens", {{"gen_ai.request.model", "gpt-4o"}}) == 7.0);
    BOOST_TEST(m.total("gen_ai.client.inference.usage.cache_read.input_tokens") == 3.0);
    BOOST_TEST(m.total("tracecraft.cost_usd", {{"gen_ai.request.model", "gpt-4o"}}) == 0.25);
    BOOST_TEST(m.total("gen_ai.client.operation.duration", {{"error.type", "_OTHER"}}) == 1.0);
    BOOST_TEST(m.total("gen_ai.client.operation.duration", {{"error.type", "std::invalid_argument"}}) == 1.0);
    BOOST_TEST(m.total("gen_ai.client.operation.time_to_first_chunk") == 1.0);
    BOOST_TEST(m.total("gen_ai.client.operation.time_per_output_chunk") == 2.0);
    BOOST_TEST(m.total("gen_ai.invoke_agent.duration", {{"gen_ai.agent.name", "planner"}}) == 1.0);
    BOOST_TEST(m.total("gen_ai.execute_tool.duration", {{"gen_ai.tool.name", "search"}}) == 1.0);
    bool overflow_seen = false;
    for (const metric_point& p : m.find("gen_ai.client.operation.duration")->points)
        overflow_seen |= p.attribute("otel.metric.overflow") != nullptr;
    BOOST_TEST(overflow_seen);
    BOOST_TEST(m.total("gen_ai.client.inference.usage.input_tokens") == 6.0);   // nothing lost
}

BOOST_AUTO_TEST_CASE(metrics_off_means_no_probe) {
    trace_config cfg;
    cfg.sampling.rate = 0.0;
    cfg.sampling.always_keep_errors = false;
    cfg.metrics.enabled = false;
    tc_test::traced_env env(cfg);
    auto body = []() -> asio::awaitable<void> {
        run_scope run("r");
        span_scope llm("chat", span_kind::llm);
        llm.set_model("gpt-4o").set_tokens(1, 1);
        BOOST_TEST(!current_span().is_recording());
        co_return;
    };
    asio::co_spawn(make_executor(env.ioc, env.rt.get()), body(), asio::detached);
    env.ioc.run();
    env.finish();
    BOOST_TEST(env.rt->metrics().find("gen_ai.client.operation.duration") == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
