// The span model, exercised from synchronous code (the per-thread fallback context).
#include <stdexcept>
#include <thread>

#include "test_util.hpp"

using namespace tracecraft;
using tc_test::get_span;
using tc_test::str;

BOOST_AUTO_TEST_SUITE(span_model)

BOOST_AUTO_TEST_CASE(nesting_kinds_and_parents) {
    tc_test::traced_env env;
    span_context root_ctx;
    {
        run_scope run("agent_run");
        root_ctx = run.context();
        BOOST_TEST((current_span_context() == root_ctx));
        {
            span_scope llm("llm_call", span_kind::llm);
            span_scope tool("tool_inside_llm", span_kind::tool);
        }
        span_scope retr("retrieve", span_kind::retrieval);
        BOOST_TEST((current_span_context() == retr.context()));
    }
    BOOST_TEST(!current_span_context().valid());
    const auto spans = env.finish();
    BOOST_TEST_REQUIRE(spans.size() == 4u);
    const auto& run = get_span(spans, "agent_run");
    const auto& llm = get_span(spans, "llm_call");
    const auto& tool = get_span(spans, "tool_inside_llm");
    const auto& retr = get_span(spans, "retrieve");
    BOOST_TEST(!run.parent_id.valid());
    BOOST_TEST(run.local_root);
    BOOST_TEST((run.kind == span_kind::agent));
    BOOST_TEST((llm.kind == span_kind::llm));
    BOOST_TEST((tool.kind == span_kind::tool));
    BOOST_TEST((retr.kind == span_kind::retrieval));
    BOOST_TEST((llm.parent_id == run.id));
    BOOST_TEST((tool.parent_id == llm.id));
    BOOST_TEST((retr.parent_id == run.id));
    for (const auto& s : spans) BOOST_TEST((s.trace == root_ctx.trace));
    BOOST_TEST(tool.depth == 2u);
    BOOST_TEST(run.depth == 0u);
}

BOOST_AUTO_TEST_CASE(typed_attributes_events_links_status) {
    tc_test::traced_env env;
    const span_context other{trace_id::generate(), span_id::generate(), 1, false};
    {
        span_scope s("typed", span_kind::tool);
        const std::vector<std::int64_t> ints{1, 2, 3};
        const std::vector<double> dbls{0.5, 1.5};
        s.set_attribute("str", "hello")
            .set_attribute("std_string", std::string("world"))
            .set_attribute("int", 42)
            .set_attribute("i64", std::int64_t{1} << 40)
            .set_attribute("dbl", 2.5)
            .set_attribute("flag", true)
            .set_attribute("strs", {"a", "b"})
            .set_attribute("ints", std::span<const std::int64_t>(ints))
            .set_attribute("dbls", std::span<const double>(dbls))
            .set_attribute("dup", "first")
            .set_attribute("dup", "second");
        s.add_event("cache_miss", {{"key", "user:1"}, {"attempt", 2}});
        s.add_link(other);
        s.set_model("gpt-4o", "openai").set_tokens(120, 30).set_cost(0.0012);
        s.set_status(status_code::ok);
        s.set_status(status_code::error, "ignored after OK");
    }
    const auto spans = env.finish();
    const auto& s = get_span(spans, "typed");
    BOOST_TEST(str(s.attribute("str")) == "hello");
    BOOST_TEST(str(s.attribute("std_string")) == "world");
    BOOST_TEST(std::get<std::int64_t>(s.attribute("int")) == 42);
    BOOST_TEST(std::get<std::int64_t>(s.attribute("i64")) == (std::int64_t{1} << 40));
    BOOST_TEST(std::get<double>(s.attribute("dbl")) == 2.5);
    BOOST_TEST(std::get<bool>(s.attribute("flag")) == true);
    BOOST_TEST((std::get<std::vector<std::string>>(s.attribute("strs")) == std::vector<std::string>{"a", "b"}));
    BOOST_TEST((std::get<std::vector<std::int64_t>>(s.attribute("ints")) == std::vector<std::int64_t>{1, 2, 3}));
    BOOST_TEST((std::get<std::vector<double>>(s.attribute("dbls")) == std::vector<double>{0.5, 1.5}));
    BOOST_TEST(str(s.attribute("dup")) == "second");   // last write wins
    BOOST_TEST(std::count_if(s.attributes.begin(), s.attributes.end(), [](auto& kv) { return kv.first == "dup"; }) == 1);
    BOOST_TEST(str(s.attribute("gen_ai.request.model")) == "gpt-4o");
    BOOST_TEST(str(s.attribute("gen_ai.provider.name")) == "openai");
    BOOST_TEST(std::get<std::int64_t>(s.attribute("gen_ai.usage.input_tokens")) == 120);
    BOOST_TEST(std::get<std::int64_t>(s.attribute("gen_ai.usage.output_tokens")) == 30);
    BOOST_TEST(std::get<double>(s.attribute("tracecraft.cost_usd")) == 0.0012);
    BOOST_TEST_REQUIRE(s.events.size() == 1u);
    BOOST_TEST(s.events[0].name == "cache_miss");
    BOOST_TEST(str(s.events[0].attributes.at(0).second) == "user:1");
    BOOST_TEST(std::get<std::int64_t>(s.events[0].attributes.at(1).second) == 2);
    BOOST_TEST(s.events[0].time_unix_ns >= s.start_unix_ns);
    BOOST_TEST(s.events[0].time_unix_ns <= s.end_unix_ns);
    BOOST_TEST_REQUIRE(s.links.size() == 1u);
    BOOST_TEST((s.links[0].context.span == other.span));
    BOOST_TEST((s.status == status_code::ok));
}

BOOST_AUTO_TEST_CASE(timestamps_are_wall_clock_and_duration_is_steady) {
    tc_test::traced_env env;
    const auto before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    {
        span_scope s("sleeper");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto after = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
    const auto& s = get_span(env.finish(), "sleeper");
    BOOST_TEST(s.duration_ns >= 20'000'000);
    BOOST_TEST(s.duration_ns < 2'000'000'000);
    // converted wall-clock times land within the measured window (1 ms calibration slack)
    BOOST_TEST(s.start_unix_ns >= before - 1'000'000);
    BOOST_TEST(s.end_unix_ns <= after + 1'000'000);
    BOOST_TEST(s.end_unix_ns - s.start_unix_ns == s.duration_ns);
}

BOOST_AUTO_TEST_CASE(exception_escaping_a_scope_marks_error_and_propagates) {
    tc_test::traced_env env;
    BOOST_CHECK_THROW(
        {
            span_scope s("failing", span_kind::tool);
            throw std::runtime_error("boom");
        },
        std::runtime_error);
    // record_exception gives type and message
    try {
        span_scope s("recorded", span_kind::tool);
        try {
            throw std::out_of_range("index 7");
        } catch (const std::exception& e) {
            s.record_exception(e);
            throw;
        }
    } catch (const std::out_of_range&) {
    }
    const auto spans = env.finish();
    const auto& f = get_span(spans, "failing");
    BOOST_TEST((f.status == status_code::error));
    const auto& r = get_span(spans, "recorded");
    BOOST_TEST((r.status == status_code::error));
    BOOST_TEST(r.status_message == "index 7");
    BOOST_TEST_REQUIRE(r.events.size() == 1u);
    BOOST_TEST(r.events[0].name == "exception");
    BOOST_TEST(str(r.events[0].attributes.at(0).second) == "std::out_of_range");
    BOOST_TEST(str(r.events[0].attributes.at(1).second) == "index 7");
    BOOST_TEST(str(r.attribute("error.type")) == "std::out_of_range");
}

BOOST_AUTO_TEST_CASE(inputs_capture_and_exclusion) {
    tc_test::traced_env env;
    {
        span_options o = options_for(span_kind::retrieval);
        o.exclude_inputs = {"embedding"};
        span_scope s("vector_search", o);
        s.set_input("query", "cats").set_input("embedding", "[0.1, 0.2, ...]").set_output("hits", 3);
    }
    {
        span_options o = options_for(span_kind::agent);
        o.capture_inputs = false;
        span_scope s("document_processor", o);
        s.set_input("text", "megabytes...").set_output("summary", "short");
    }
    const auto spans = env.finish();
    const auto& v = get_span(spans, "vector_search");
    BOOST_TEST(str(v.input("query")) == "cats");
    BOOST_TEST(str(v.input("embedding")) == "[EXCLUDED]");
    BOOST_TEST(std::get<std::int64_t>(v.output("hits")) == 3);
    const auto& d = get_span(spans, "document_processor");
    BOOST_TEST(d.inputs.empty());
    BOOST_TEST(str(d.output("summary")) == "short");
}

BOOST_AUTO_TEST_CASE(run_level_fields_on_the_root) {
    tc_test::traced_env env;
    {
        run_options o;
        o.session_id = "sess-1";
        o.user_id = "user-9";
        o.tags = {"prod", "checkout"};
        o.input = "what is my balance?";
        o.description = "balance agent";
        o.environment = "staging";
        run_scope run("balance_agent", o);
        run.set_run_output("42 EUR");
    }
    const auto& r = get_span(env.finish(), "balance_agent");
    BOOST_TEST((r.kind == span_kind::agent));
    BOOST_TEST(str(r.attribute("session.id")) == "sess-1");
    BOOST_TEST(str(r.attribute("user.id")) == "user-9");
    BOOST_TEST((std::get<std::vector<std::string>>(r.attribute("tag.tags")) == std::vector<std::string>{"prod", "checkout"}));
    BOOST_TEST(str(r.attribute("deployment.environment.name")) == "staging");
    BOOST_TEST(str(r.attribute("tracecraft.run.description")) == "balance agent");
    BOOST_TEST(str(r.input("input")) == "what is my balance?");
    BOOST_TEST(str(r.output("output")) == "42 EUR");
}

BOOST_AUTO_TEST_CASE(max_step_depth_limits_recording) {
    trace_config cfg;
    cfg.max_step_depth = 2;
    tc_test::traced_env env(cfg);
    {
        span_scope d0("d0");
        span_scope d1("d1");
        span_scope d2("d2");
        span_scope d3("d3");   // depth 3 > 2: not recorded
        span_scope d4("d4");
        BOOST_TEST(!d3.is_recording());
        BOOST_TEST((d4.context().trace == d0.context().trace));   // ids still travel
    }
    const auto spans = env.finish();
    BOOST_TEST(spans.size() == 3u);
    BOOST_TEST(!tc_test::find_span(spans, "d3"));
    BOOST_TEST(env.rt->stats().spans_depth_dropped == 1u);   // d4 is inside a non-recorded span
}

BOOST_AUTO_TEST_CASE(attribute_limits) {
    trace_config cfg;
    cfg.max_attributes_per_span = 3;
    cfg.max_attribute_value_length = 4;
    tc_test::traced_env env(cfg);
    {
        span_scope s("limited");
        s.set_attribute("a", "123456").set_attribute("b", 1).set_attribute("c", 2).set_attribute("d", 3);
        s.set_attribute("utf8", "h\xc3\xa9llo");
    }
    const auto& s = get_span(env.finish(), "limited");
    BOOST_TEST(s.attributes.size() == 3u);
    BOOST_TEST(str(s.attribute("a")) == "1234");
    BOOST_TEST(s.attribute("d").index() == 0u);   // dropped
}

BOOST_AUTO_TEST_CASE(utf8_truncation_never_splits_a_code_point) {
    trace_config cfg;
    cfg.max_attribute_value_length = 2;
    tc_test::traced_env env(cfg);
    {
        span_scope s("utf8");
        s.set_attribute("v", "h\xc3\xa9llo");   // 'h' + 2-byte e-acute
    }
    BOOST_TEST(str(get_span(env.finish(), "utf8").attribute("v")) == "h");
}

BOOST_AUTO_TEST_CASE(large_attribute_values_overflow_the_arena) {
    tc_test::traced_env env;
    const std::string big(100000, 'x');
    {
        span_scope s("big");
        for (int i = 0; i < 20; ++i) s.set_attribute("k" + std::to_string(i), big);
    }
    const auto& s = get_span(env.finish(), "big");
    BOOST_TEST(s.attributes.size() == 20u);
    BOOST_TEST(str(s.attribute("k19")) == big);
}

BOOST_AUTO_TEST_CASE(no_runtime_means_not_recorded_but_ids_travel) {
    reset_default_runtime();
    span_scope s("orphan");
    BOOST_TEST(!s.is_recording());
    BOOST_TEST(s.context().valid());
    BOOST_TEST(!s.context().sampled());
    BOOST_TEST(current_traceparent().size() == 55u);
}

// Span blocks are recycled: a thread's cache keeps up to max_cached blocks, the rest go to a
// shared pool in bundles, and spans recorded later take them back from there.
BOOST_AUTO_TEST_CASE(span_blocks_are_recycled_through_the_thread_cache_and_the_pool) {
    const auto record_trace = [](std::size_t* pooled_while_open) {
        span_scope root("root");
        for (int i = 0; i < 3000; ++i) span_scope child("child");
        if (pooled_while_open) *pooled_while_open = detail::span_block_stats().pooled;
    };
    {
        tc_test::traced_env env;
        record_trace(nullptr);
        BOOST_TEST(env.finish().size() == 3001u);
    }
    const auto after = detail::span_block_stats();
    if (after.max_cached == 0) return;   // sanitizer builds: every block goes back to operator delete
    BOOST_TEST(after.cached + 64 > after.max_cached);   // 3001 blocks freed: the cache is (nearly) full ...
    BOOST_TEST(after.pooled >= 1024u);              // ... and the rest went to the pool
    std::size_t pooled_while_open = 0;
    {
        tc_test::traced_env env;
        record_trace(&pooled_while_open);
        BOOST_TEST(env.finish().size() == 3001u);
    }
    BOOST_TEST(pooled_while_open < after.pooled);   // the second trace's spans took bundles back
    BOOST_TEST(pooled_while_open % 64 == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
