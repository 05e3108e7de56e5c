// LLM helpers: usage from OpenAI/Anthropic shapes, the price table (exact + aliases, no prefix
// guessing), enrichment (cost per LLM span, run totals on the root, the processor order), and
// streamed LLM spans (TTFT, chunks, usage, early stop, broken stream, size limit).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <deque>

#include "test_util.hpp"
#include "tracecraft/llm_stream.hpp"
#include "tracecraft/pricing.hpp"

using namespace tracecraft;
using tc_test::get_span;

namespace {

double as_double(const attribute_value& v) { return std::get<double>(v); }
std::int64_t as_int(const attribute_value& v) { return std::get<std::int64_t>(v); }

struct scripted_source {
    std::deque<llm_chunk> chunks;
    bool throw_at_end = false;
    boost::asio::awaitable<std::optional<llm_chunk>> next_chunk() {
        co_await boost::asio::post(boost::asio::use_awaitable);
        if (chunks.empty()) {
            if (throw_at_end) throw std::runtime_error("connection reset by upstream");
            co_return std::nullopt;
        }
        llm_chunk c = std::move(chunks.front());
        chunks.pop_front();
        co_return c;
    }
};

scripted_source three_chunks() {
    scripted_source s;
    s.chunks.push_back({"Hel", std::nullopt, "", "gpt-4o-2024-08-06"});
    s.chunks.push_back({"lo ", std::nullopt, "", ""});
    s.chunks.push_back({"world", std::nullopt, "stop", ""});
    s.chunks.push_back({"", token_usage{11, 3, false}, "", ""});
    return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(llm_usage)

// Counts a hostile or broken provider can send: none reaches a float-to-int cast or an overflow.
BOOST_AUTO_TEST_CASE(token_counts_that_are_no_counts_are_ignored_and_counted) {
    const auto before = rejected_token_counts();
    for (const char* bad : {"1e308", "18446744073709551616", "18446744073709551615", "-5", "2.5", "-0.5",
                            "1000000000001", "99999999999999999999999"}) {
        const std::string body = std::string(R"({"usage":{"prompt_tokens":)") + bad + R"(,"completion_tokens":3}})";
        const auto u = parse_usage(body);
        BOOST_TEST_REQUIRE(u.has_value(), bad);
        BOOST_TEST(u->input_tokens == 0, bad);   // ignored as if absent
        BOOST_TEST(u->output_tokens == 3, bad);
    }
    BOOST_TEST(rejected_token_counts() >= before + 8);
    const auto whole = parse_usage(R"({"usage":{"prompt_tokens":12.0,"completion_tokens":1000000000000}})");
    BOOST_TEST(whole->input_tokens == 12);
    BOOST_TEST(whole->output_tokens == 1000000000000);

    token_usage huge{INT64_MAX, INT64_MAX};
    BOOST_TEST(huge.total() == INT64_MAX);   // saturates, no signed overflow

    // set_tokens clamps; run totals never go negative or wrap
    tc_test::traced_env env;
    {
        run_scope run("agent");
        { span_scope a("a", span_kind::llm); a.set_model("gpt-4o").set_tokens(-100, INT64_MAX); }
        { span_scope b("b", span_kind::llm); b.set_model("gpt-4o").set_tokens(5, token_usage::max_tokens); }
        { span_scope c("c", span_kind::llm); c.set_model("gpt-4o").set_tokens(1, 0).set_attribute("gen_ai.usage.input_tokens", std::int64_t{-7}); }
    }
    const auto spans = env.finish();
    const auto& a = tc_test::get_span(spans, "a");
    BOOST_TEST(std::get<std::int64_t>(a.attribute("gen_ai.usage.input_tokens")) == 0);
    BOOST_TEST(std::get<std::int64_t>(a.attribute("gen_ai.usage.output_tokens")) == token_usage::max_tokens);
    const auto& root = tc_test::get_span(spans, "agent");
    BOOST_TEST(std::get<std::int64_t>(root.attribute("tracecraft.run.input_tokens")) == 5);
    BOOST_TEST(std::get<std::int64_t>(root.attribute("tracecraft.run.output_tokens")) == 2 * token_usage::max_tokens);
    const double cost = std::get<double>(root.attribute("tracecraft.run.cost_usd"));
    BOOST_TEST(cost >= 0.0);
}

BOOST_AUTO_TEST_CASE(openai_and_anthropic_shapes) {
    auto o = parse_usage(R"({"id":"x","usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}})");
    BOOST_TEST_REQUIRE(o.has_value());
    BOOST_TEST(o->input_tokens == 12);
    BOOST_TEST(o->output_tokens == 34);
    BOOST_TEST(!o->estimated);
    auto a = parse_usage(R"({"type":"message","usage":{"input_tokens":7,"output_tokens":9}})");
    BOOST_TEST_REQUIRE(a.has_value());
    BOOST_TEST((a->input_tokens == 7 && a->output_tokens == 9));
    auto start = parse_usage(R"({"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}})");
    BOOST_TEST_REQUIRE(start.has_value());
    BOOST_TEST(start->input_tokens == 25);
    auto delta = parse_usage(R"({"type":"message_delta","usage":{"output_tokens":15}})");
    BOOST_TEST_REQUIRE(delta.has_value());
    BOOST_TEST((delta->input_tokens == 0 && delta->output_tokens == 15));
    BOOST_TEST(!parse_usage(R"({"choices":[]})").has_value());
    BOOST_TEST(!parse_usage("not json").has_value());
    BOOST_TEST(!parse_usage(R"({"usage":{}})").has_value());
    BOOST_TEST(estimate_tokens("") == 0);
    BOOST_TEST(estimate_tokens("a") == 1);
    BOOST_TEST(estimate_tokens("twelve chars") == 3);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pricing)

BOOST_AUTO_TEST_CASE(exact_names_and_aliases_only) {
    const auto t = price_table::from_json(R"({"models":{"gpt-4o":{"input_per_million":2.5,"output_per_million":10}},
                                             "aliases":{"gpt-4o-2024-08-06":"gpt-4o"}})");
    BOOST_TEST(t.cost("gpt-4o", 1'000'000, 0).value() == 2.5);
    BOOST_TEST(t.cost("gpt-4o", 1000, 2000).value() == (1000 * 2.5 + 2000 * 10.0) / 1e6);
    BOOST_TEST(t.cost("gpt-4o-2024-08-06", 0, 1'000'000).value() == 10.0);
    BOOST_TEST(!t.cost("gpt-4o-mini", 10, 10).has_value());   // no prefix guessing
    BOOST_TEST(!t.cost("gpt-4", 10, 10).has_value());
    BOOST_TEST(!t.cost("GPT-4O", 10, 10).has_value());
}

BOOST_AUTO_TEST_CASE(bad_tables_name_the_entry) {
    auto message = [](const char* text) {
        try {
            (void)price_table::from_json(text);
        } catch (const config_error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    BOOST_TEST(message(R"({"models":{"m":{"input_per_million":-1,"output_per_million":1}}})").find("prices.models.m.input_per_million") !=
               std::string::npos);
    BOOST_TEST(message(R"({"models":{"m":{"input_per_million":1}}})").find("output_per_million") != std::string::npos);
    BOOST_TEST(message(R"({"models":{},"aliases":{"a":"nope"}})").find("unknown model 'nope'") != std::string::npos);
    BOOST_TEST(message("{").find("invalid JSON") != std::string::npos);
    BOOST_TEST(message(R"({"aliases":{}})").find("prices.models") != std::string::npos);
    BOOST_CHECK_THROW(price_table::from_file("/nonexistent/prices.json"), config_error);
}

BOOST_AUTO_TEST_CASE(builtin_table_is_the_data_file) {
    const auto t = price_table::builtin();
    BOOST_TEST(t->size() >= 5u);
    BOOST_TEST(t->cost("gpt-4o-mini", 1'000'000, 1'000'000).value() == 0.15 + 0.60);
    BOOST_TEST(t->find("claude-3-5-sonnet-latest") == t->find("claude-3-5-sonnet-20241022"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(enrichment)

BOOST_AUTO_TEST_CASE(llm_cost_and_run_totals_on_the_root) {
    tc_test::traced_env env;
    {
        run_scope run("agent");
        {
            span_scope a("plan", span_kind::llm);
            a.set_model("gpt-4o").set_tokens(1000, 200);
        }
        {
            span_scope b("answer", span_kind::llm);
            b.set_model("unknown-model").set_usage(token_usage{50, 5, true});   // unpriced, estimated
        }
        {
            span_scope c("summarise", span_kind::llm);
            c.set_model("gpt-4o").set_tokens(10, 10).set_cost(0.5);   // user-set cost is kept
        }
        span_scope t("tool", span_kind::tool);
        t.set_status(status_code::error, "boom");
    }
    const auto spans = env.finish();
    BOOST_TEST(as_double(get_span(spans, "plan").attribute("tracecraft.cost_usd")) == (1000 * 2.5 + 200 * 10.0) / 1e6);
    BOOST_TEST(std::holds_alternative<std::monostate>(get_span(spans, "answer").attribute("tracecraft.cost_usd")));
    BOOST_TEST(as_double(get_span(spans, "summarise").attribute("tracecraft.cost_usd")) == 0.5);
    const auto& root = get_span(spans, "agent");
    BOOST_TEST(as_int(root.attribute("tracecraft.run.input_tokens")) == 1060);
    BOOST_TEST(as_int(root.attribute("tracecraft.run.output_tokens")) == 215);
    BOOST_TEST(as_int(root.attribute("tracecraft.run.total_tokens")) == 1275);
    BOOST_TEST(as_double(root.attribute("tracecraft.run.cost_usd")) == 0.0045 + 0.5, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(std::get<bool>(root.attribute("tracecraft.run.usage_estimated")));
    BOOST_TEST(as_int(root.attribute("tracecraft.run.error_count")) == 1);
}

BOOST_AUTO_TEST_CASE(user_price_table_and_disabled_enrichment) {
    auto prices = std::make_shared<price_table>();
    prices->set("house-model", model_price{1.0, 2.0});
    trace_config cfg;
    cfg.prices = prices;
    tc_test::traced_env env(cfg);
    {
        run_scope run("agent");
        span_scope a("call", span_kind::llm);
        a.set_model("house-model").set_tokens(1'000'000, 1'000'000);
    }
    auto spans = env.finish();
    BOOST_TEST(as_double(get_span(spans, "call").attribute("tracecraft.cost_usd")) == 3.0);

    trace_config off;
    off.enrich = false;
    tc_test::traced_env env2(off);
    {
        run_scope run("agent");
        span_scope a("call", span_kind::llm);
        a.set_model("gpt-4o").set_tokens(10, 10);
    }
    spans = env2.finish();
    BOOST_TEST(std::holds_alternative<std::monostate>(get_span(spans, "call").attribute("tracecraft.cost_usd")));
    BOOST_TEST(std::holds_alternative<std::monostate>(get_span(spans, "agent").attribute("tracecraft.run.total_tokens")));
}

BOOST_AUTO_TEST_CASE(processor_order_decides_whether_dropped_traces_are_enriched) {
    for (const bool safety : {true, false}) {
        int seen = 0, with_cost = 0;
        trace_config cfg;
        cfg.processors = safety ? processors::safety() : processors::efficiency();
        sampling_rule drop;
        drop.name = "drop agents";
        drop.rate = 0.0;
        drop.match_names = {"agent"};
        cfg.sampling.rules = {drop};
        cfg.on_sampled_out = [&](const trace_view& t) {
            ++seen;
            if (t.root().attributes().find("tracecraft.run.cost_usd").type() == value_type::float64) ++with_cost;
        };
        tc_test::traced_env env(cfg);
        {
            run_scope run("agent");
            span_scope a("call", span_kind::llm);
            a.set_model("gpt-4o").set_tokens(10, 10);
        }
        BOOST_TEST(env.finish().empty());
        BOOST_TEST(seen == 1);
        BOOST_TEST(with_cost == (safety ? 1 : 0));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(streamed_llm_spans)

namespace {
boost::asio::awaitable<void> consume_all(scripted_source* src, std::string* got) {
    run_scope run("agent");
    llm_stream s("chat", "gpt-4o", "openai");
    while (auto c = co_await s.next(*src)) *got += c->text;
}
boost::asio::awaitable<void> consume_two(scripted_source* src) {
    run_scope run("agent");
    llm_call_options o;
    o.model = "gpt-4o";
    o.input_tokens_estimate = 4;
    llm_stream s("chat", o);
    for (int i = 0; i < 2; ++i)
        if (!co_await s.next(*src)) break;
}   // consumer stops early
boost::asio::awaitable<void> consume_broken(scripted_source* src, bool* threw) {
    run_scope run("agent");
    try {
        llm_stream s("chat", "gpt-4o");
        while (co_await s.next(*src)) {
        }
    } catch (const std::runtime_error&) {
        *threw = true;
    }
}
} // namespace

BOOST_AUTO_TEST_CASE(full_stream) {
    tc_test::traced_env env;
    auto src = three_chunks();
    std::string got;
    boost::asio::co_spawn(env.ioc, consume_all(&src, &got), boost::asio::detached);
    env.ioc.run();
    BOOST_TEST(got == "Hello world");
    const auto spans = env.finish();
    const auto& s = get_span(spans, "chat");
    BOOST_TEST((s.kind == span_kind::llm));
    BOOST_TEST(as_double(s.attribute("gen_ai.response.time_to_first_chunk")) >= 0.0);
    BOOST_TEST(as_double(s.attribute("gen_ai.response.time_to_first_chunk")) <= s.duration_ns / 1e9);
    BOOST_TEST(as_int(s.attribute("tracecraft.stream.chunks")) == 4);
    BOOST_TEST(as_int(s.attribute("gen_ai.usage.input_tokens")) == 11);
    BOOST_TEST(as_int(s.attribute("gen_ai.usage.output_tokens")) == 3);
    BOOST_TEST(std::get<std::string>(s.attribute("gen_ai.response.model")) == "gpt-4o-2024-08-06");
    BOOST_TEST((std::get<std::vector<std::string>>(s.attribute("gen_ai.response.finish_reasons")) == std::vector<std::string>{"stop"}));
    BOOST_TEST(std::get<std::string>(s.output("completion")) == "Hello world");
    BOOST_TEST((s.status != status_code::error));
    // priced by its response model's alias; run totals on the root
    BOOST_TEST(as_double(s.attribute("tracecraft.cost_usd")) == (11 * 2.5 + 3 * 10.0) / 1e6);
    BOOST_TEST(as_int(get_span(spans, "agent").attribute("tracecraft.run.total_tokens")) == 14);
}

BOOST_AUTO_TEST_CASE(consumer_stops_early) {
    tc_test::traced_env env;
    auto src = three_chunks();
    boost::asio::co_spawn(env.ioc, consume_two(&src), boost::asio::detached);
    env.ioc.run();
    const auto spans = env.finish();
    const auto& s = get_span(spans, "chat");
    BOOST_TEST(std::get<bool>(s.attribute("tracecraft.stream.stopped_early")));
    BOOST_TEST(std::get<std::string>(s.output("completion")) == "Hello ");
    BOOST_TEST(as_int(s.attribute("tracecraft.stream.chunks")) == 2);
    BOOST_TEST(std::get<bool>(s.attribute("tracecraft.usage.estimated")));   // no usage chunk seen
    BOOST_TEST(as_int(s.attribute("gen_ai.usage.input_tokens")) == 4);
    BOOST_TEST(as_int(s.attribute("gen_ai.usage.output_tokens")) == estimate_tokens("Hello "));
    BOOST_TEST((s.status == status_code::unset));
}

BOOST_AUTO_TEST_CASE(broken_stream_is_an_error_with_partial_output) {
    tc_test::traced_env env;
    scripted_source src;
    src.chunks.push_back({"partial", std::nullopt, "", ""});
    src.throw_at_end = true;
    bool threw = false;
    boost::asio::co_spawn(env.ioc, consume_broken(&src, &threw), boost::asio::detached);
    env.ioc.run();
    BOOST_TEST(threw);
    const auto spans = env.finish();
    const auto& s = get_span(spans, "chat");
    BOOST_TEST((s.status == status_code::error));
    BOOST_TEST(s.status_message == "connection reset by upstream");
    BOOST_TEST(std::get<std::string>(s.output("completion")) == "partial");
    BOOST_TEST(as_int(get_span(spans, "agent").attribute("tracecraft.run.error_count")) == 1);
}

BOOST_AUTO_TEST_CASE(output_kept_up_to_the_limit) {
    tc_test::traced_env env;
    {
        llm_call_options o;
        o.model = "m";
        o.max_output_bytes = 8;
        llm_stream s("chat", o);
        for (int i = 0; i < 100; ++i) s.on_chunk("abcdef");
        s.finish();
        BOOST_TEST(s.text().size() == 8u);
    }
    const auto spans = env.finish();
    const auto& s = get_span(spans, "chat");
    BOOST_TEST(std::get<std::string>(s.output("completion")) == "abcdefab");
    BOOST_TEST(std::get<bool>(s.attribute("tracecraft.stream.output_truncated")));
    BOOST_TEST(as_int(s.attribute("tracecraft.stream.output_bytes")) == 600);
}

BOOST_AUTO_TEST_SUITE_END()
