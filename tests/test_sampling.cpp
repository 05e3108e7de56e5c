// Head and tail sampling: determinism, priorities, rules, reasons, counters.
#include <map>
#include <thread>

#include "pipeline/runtime_core.hpp"   // library-internal: the 56-bit rate rule
#include "test_util.hpp"

using namespace tracecraft;

namespace {
struct reasons_holder {
    std::shared_ptr<std::map<std::string, std::string>> reasons = std::make_shared<std::map<std::string, std::string>>();
};
// reasons_holder is a base listed first so `reasons` exists before traced_env is built
struct sampled_env : reasons_holder, tc_test::traced_env {
    explicit sampled_env(trace_config cfg) : tc_test::traced_env(with_hook(std::move(cfg), reasons)) {}
    static trace_config with_hook(trace_config cfg, std::shared_ptr<std::map<std::string, std::string>> r) {
        cfg.on_sampled_out = [r](const trace_view& t) {
            (*r)[t.has_root() ? std::string(t.root().name()) : "?"] = t.sample_reason();
        };
        return cfg;
    }
};

void run_named(const std::string& name, bool error = false, std::vector<std::string> tags = {}) {
    run_options o;
    o.tags = std::move(tags);
    run_scope r(name, o);
    span_scope child("child", span_kind::tool);
    if (error) child.set_status(status_code::error, "failed");
}
} // namespace

BOOST_AUTO_TEST_SUITE(sampling)

BOOST_AUTO_TEST_CASE(rate_decision_is_deterministic_by_trace_id) {
    const auto th = detail::rate_to_threshold(0.25);
    std::size_t kept = 0;
    for (int i = 0; i < 10000; ++i) {
        const trace_id t = trace_id::generate();
        const bool k = detail::rate_keep(t, th);
        for (int j = 0; j < 3; ++j) BOOST_TEST_REQUIRE(detail::rate_keep(t, th) == k);
        kept += k;
    }
    BOOST_TEST(kept > 2200u);   // 25 % of 10000 within a wide, deterministic-enough band
    BOOST_TEST(kept < 2800u);
    // the documented hash: low 56 bits of the trace id against rate * 2^56
    trace_id low{0, 0x00000000000000ffull}, high{0, 0x00ffffffffffff00ull};
    BOOST_TEST(detail::rate_keep(low, th));
    BOOST_TEST(!detail::rate_keep(high, th));
    BOOST_TEST(!detail::rate_keep(low, detail::rate_to_threshold(0.0)));
    BOOST_TEST(detail::rate_keep(high, detail::rate_to_threshold(1.0)));
}

BOOST_AUTO_TEST_CASE(rate_zero_without_tail_rules_records_nothing) {
    trace_config cfg;
    cfg.sampling.rate = 0.0;
    cfg.sampling.always_keep_errors = false;
    sampled_env env(cfg);
    for (int i = 0; i < 100; ++i) {
        run_scope r("dropped");
        BOOST_TEST_REQUIRE(!r.is_recording());
        span_scope c("child");
        BOOST_TEST_REQUIRE(!c.is_recording());
        BOOST_TEST_REQUIRE((c.context().trace == r.context().trace));
    }
    BOOST_TEST(env.finish().empty());
    BOOST_TEST(env.rt->stats().traces_head_dropped == 100u);
    BOOST_TEST(env.rt->stats().traces_started == 100u);
}

BOOST_AUTO_TEST_CASE(rate_zero_keeps_every_error_trace) {
    trace_config cfg;
    cfg.sampling.rate = 0.0;   // always_keep_errors defaults to true
    sampled_env env(cfg);
    for (int i = 0; i < 50; ++i) {
        run_named("ok_" + std::to_string(i));
        run_named("err_" + std::to_string(i), true);
    }
    const auto spans = env.finish();
    BOOST_TEST(spans.size() == 100u);   // 50 error traces x 2 spans
    for (const auto& s : spans) BOOST_TEST_REQUIRE((s.name.rfind("err_", 0) == 0 || s.name == "child"));
    BOOST_TEST(env.rt->stats().traces_sampled_out == 50u);
    BOOST_TEST(env.rt->stats().traces_kept == 50u);
    BOOST_TEST(env.reasons->at("ok_3") == "Dropped: default rate (0.0)");
}

BOOST_AUTO_TEST_CASE(priority_errors_then_slow_then_rules_then_default) {
    trace_config cfg;
    cfg.sampling.rate = 0.0;
    cfg.sampling.always_keep_errors = true;
    cfg.sampling.always_keep_slow = true;
    cfg.sampling.slow_threshold_ms = 30.0;
    sampling_rule drop_errors;   // would drop errors, but errors are checked first
    drop_errors.name = "drop_errors";
    drop_errors.rate = 0.0;
    drop_errors.match_error = true;
    sampling_rule payments;
    payments.name = "payments";
    payments.rate = 1.0;
    payments.match_names = {"process_payment"};
    sampling_rule health;
    health.name = "health";
    health.rate = 0.0;
    health.match_tags = {"health_check"};
    sampling_rule also_payments;   // never reached: first match wins
    also_payments.name = "also_payments";
    also_payments.rate = 0.0;
    also_payments.match_names = {"process_payment"};
    cfg.sampling.rules = {drop_errors, payments, health, also_payments};
    sampled_env env(cfg);

    run_named("failing", true);
    {
        run_scope r("slow_one");
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
    run_named("process_payment");
    run_named("ping", false, {"internal", "health_check"});
    run_named("other");
    const auto spans = env.finish();
    BOOST_TEST(tc_test::find_span(spans, "failing"));
    BOOST_TEST(tc_test::find_span(spans, "slow_one"));
    BOOST_TEST(tc_test::find_span(spans, "process_payment"));
    BOOST_TEST(!tc_test::find_span(spans, "ping"));
    BOOST_TEST(!tc_test::find_span(spans, "other"));
    BOOST_TEST(env.reasons->at("ping") == "Dropped: matched rule 'health' (rate=0.0)");
    BOOST_TEST(env.reasons->at("other") == "Dropped: default rate (0.0)");
}

BOOST_AUTO_TEST_CASE(kept_reasons_reach_exporters) {
    trace_config cfg;
    cfg.sampling.rate = 0.0;
    sampling_rule keep;
    keep.name = "payments";
    keep.match_names = {"process_payment"};
    cfg.sampling.rules = {keep};
    sampled_env env(cfg);
    // a capturing exporter reading reasons from trace views
    struct reason_exporter : exporter {
        std::vector<std::string> reasons;
        std::string_view name() const noexcept override { return "reasons"; }
        boost::asio::awaitable<export_result> export_batch(span_batch b) override {
            b.for_each_trace([&](const trace_view& t) { reasons.push_back(t.sample_reason()); });
            co_return export_result::ok();
        }
    };
    (void)env;
    auto rex = std::make_shared<reason_exporter>();
    boost::asio::io_context ioc;
    trace_config c2 = cfg;
    c2.exporters = {rex};
    auto rt = std::make_shared<runtime>(ioc, c2);
    {
        auto ex = make_executor(ioc, rt.get());
        boost::asio::co_spawn(ex, []() -> boost::asio::awaitable<void> {
            run_named("process_payment");
            run_named("failing", true);
            co_return;
        }, boost::asio::detached);
    }
    ioc.run();
    rt->shutdown();
    BOOST_TEST_REQUIRE(rex->reasons.size() == 2u);
    std::sort(rex->reasons.begin(), rex->reasons.end());
    BOOST_TEST(rex->reasons[0] == "Kept: error trace (always_keep_errors=true)");
    BOOST_TEST(rex->reasons[1] == "Kept: matched rule 'payments'");
}

BOOST_AUTO_TEST_CASE(invalid_configuration_names_the_field) {
    auto expect_field = [](trace_config cfg, const std::string& field) {
        try {
            cfg.validate();
            BOOST_ERROR("accepted invalid " << field);
        } catch (const config_error& e) {
            BOOST_TEST(e.field() == field);
            BOOST_TEST(std::string(e.what()).find(field) == 0u);
        }
    };
    trace_config c;
    c.sampling.rate = 1.5;
    expect_field(c, "sampling.rate");
    c = {};
    c.sampling.rate = -0.1;
    expect_field(c, "sampling.rate");
    c = {};
    c.sampling.slow_threshold_ms = -1;
    expect_field(c, "sampling.slow_threshold_ms");
    c = {};
    c.sampling.rules.push_back(sampling_rule{});
    expect_field(c, "sampling.rules[0].name");
    c = {};
    sampling_rule r;
    r.name = "x";
    r.rate = 2;
    c.sampling.rules.push_back(r);
    expect_field(c, "sampling.rules[0].rate");
    c = {};
    c.max_step_depth = 0;
    expect_field(c, "max_step_depth");
    c = {};
    c.batch_size = 4096;
    expect_field(c, "batch_size");
    boost::asio::io_context ioc;
    trace_config bad;
    bad.sampling.rate = 7;
    BOOST_CHECK_THROW(runtime(ioc, bad), config_error);
}

BOOST_AUTO_TEST_SUITE_END()
