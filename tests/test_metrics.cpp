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
